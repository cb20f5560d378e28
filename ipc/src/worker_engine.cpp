// A started Skprocess's worker process: forked from the supervisor (or from
// the parent in direct mode), it runs the one lifecycle engine
// (sk/ipc/lifecycle.hpp) with the standalone host: timer samples go to the
// control block's ring, the outcome to a frame on the outcome pipe.
#include <unistd.h>

#include <sk/ipc/fork.hpp>
#include <sk/ipc/lifecycle.hpp>

#include "process_internal.hpp"

namespace sk::ipc::detail {

namespace {

class StandaloneHost final : public LifecycleHost {
 public:
  StandaloneHost(ControlBlock& cb, int out_fd) noexcept : cb_(cb), fd_(out_fd) {}
  void timer_sample(HookId hook, double seconds) noexcept override { push_timer_sample(cb_, hook, seconds); }
  bool deliver(bool ok, std::span<const std::byte> payload) noexcept override {
    return write_outcome(fd_, ok, payload);
  }

 private:
  ControlBlock& cb_;
  int fd_;
};

}  // namespace

pid_t fork_worker(ControlBlock& cb, const ProcessSpec& spec, WorkerBody& body, int out_fd, WorkerMode mode,
                  const FailureInfo& pending, bool deathsig, bool& in_worker_flag) {
  const int keep[] = {out_fd};
  const pid_t pid = fork_process({.die_with_parent = deathsig, .keep = keep});
  if (pid != 0) return pid;
  in_worker_flag = true;
  // SYNC POINT: release, pairs with the parent's acquire in pid(): the pid of
  // the incarnation that runs the hooks now.
  cb.worker_pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_release);
  try {
    StandaloneHost host(cb, out_fd);
    if (mode == WorkerMode::lifecycle)
      run_lifecycle(cb.life, spec, body, host);
    else
      run_error_only(cb.life, spec, body, host, pending);
  } catch (...) {
    // Only allocation failures can get here; exit without an outcome, which
    // the supervisor/parent reports as a crash.
    ::_exit(70);
  }
  exit_child(0);
}

}  // namespace sk::ipc::detail
