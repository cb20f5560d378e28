// The table of persistent-mode job kinds (see job.hpp). Constant-initialised
// (zeroes), filled by register_job_fn from static initialisers, so it is
// complete before main() and identical in every forked worker.
#include <atomic>
#include <cstdint>

#include <sk/ipc/internal/pool/job.hpp>

namespace sk::ipc::pool {

namespace {

constexpr std::uint32_t kMaxJobKinds = 4096;
JobFn g_jobs[kMaxJobKinds];
std::atomic<std::uint32_t> g_njobs{0};

}  // namespace

std::uint32_t register_job_fn(JobFn fn) noexcept {
  const std::uint32_t id = g_njobs.fetch_add(1, std::memory_order_relaxed);
  if (id >= kMaxJobKinds) return kMaxJobKinds;  // job_fn() says it is unknown; the call refuses it
  g_jobs[id] = fn;
  return id;
}

JobFn job_fn(std::uint32_t kind) noexcept {
  if (kind >= kMaxJobKinds || kind >= g_njobs.load(std::memory_order_relaxed)) return nullptr;
  return g_jobs[kind];
}

}  // namespace sk::ipc::pool
