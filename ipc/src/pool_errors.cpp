#include <string.h>

#include <cstdio>
#include <string>

#include <sk/ipc/pool_errors.hpp>

namespace sk {
namespace {

std::string signal_text(int sig) {
  if (sig == 0) return "exited without finishing the item (exit() or _exit() inside the callable?)";
  const char* name = ::sigabbrev_np(sig);
  return std::string("was killed by signal ") + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
}

std::string seconds_text(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", s);
  return buf;
}

std::string crashed_text(const char* who, std::size_t index, int signal, unsigned attempts, const std::string& where) {
  return std::string(who) + ": the worker running item " + std::to_string(index) + " " + signal_text(signal) + where +
         ", on " + std::to_string(attempts) + " attempt" + (attempts == 1 ? "" : "s") +
         "; the item was not retried further (raise the limit with pool.retries(n), or fix the crash)";
}

std::string timeout_text(const char* who, std::size_t index, double seconds, const std::string& where) {
  return std::string(who) + ": item " + std::to_string(index) + " ran longer than the per-item timeout of " +
         seconds_text(seconds) + " s" + where + "; its worker was killed and replaced (raise the limit with pool.timeout(d))";
}

std::string on_node(int rank, const std::string& host) {
  return " (on rank " + std::to_string(rank) + ", host " + host + ")";
}

}  // namespace

WorkerCrashed::WorkerCrashed(std::size_t index, int signal, unsigned attempts)
    : PoolError(crashed_text("sk::Pool", index, signal, attempts, "")),
      index_(index),
      signal_(signal),
      attempts_(attempts) {}

WorkerCrashed::WorkerCrashed(std::size_t index, int signal, unsigned attempts, int rank, std::string host)
    : PoolError(crashed_text("sk::mpi::Pool", index, signal, attempts, on_node(rank, host)), rank, host),
      index_(index),
      signal_(signal),
      attempts_(attempts) {}

TimeoutError::TimeoutError(std::size_t index, double seconds)
    : PoolError(timeout_text("sk::Pool", index, seconds, "")), index_(index), seconds_(seconds) {}

TimeoutError::TimeoutError(std::size_t index, double seconds, int rank, std::string host)
    : PoolError(timeout_text("sk::mpi::Pool", index, seconds, on_node(rank, host)), rank, host),
      index_(index),
      seconds_(seconds) {}

}  // namespace sk
