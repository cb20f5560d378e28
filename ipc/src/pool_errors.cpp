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

}  // namespace

WorkerCrashed::WorkerCrashed(std::size_t index, int signal, unsigned attempts)
    : PoolError("sk::Pool: the worker running item " + std::to_string(index) + " " + signal_text(signal) + ", on " +
                std::to_string(attempts) + " attempt" + (attempts == 1 ? "" : "s") +
                "; the item was not retried further (raise the limit with pool.retries(n), or fix the crash)"),
      index_(index),
      signal_(signal),
      attempts_(attempts) {}

TimeoutError::TimeoutError(std::size_t index, double seconds)
    : PoolError("sk::Pool: item " + std::to_string(index) + " ran longer than the per-item timeout of " +
                seconds_text(seconds) + " s; its worker was killed and replaced (raise the limit with pool.timeout(d))"),
      index_(index),
      seconds_(seconds) {}

}  // namespace sk
