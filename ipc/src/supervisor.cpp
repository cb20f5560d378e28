// The supervisor process S: forks workers from its pristine memory (the
// start() snapshot), restarts them after a crash or a hook timeout (watching
// the deadline word; the worker gets no signals), runs error() in a fresh
// worker when lives are exhausted, and dies with the parent.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include <sk/ipc/fork.hpp>

#include "process_internal.hpp"

namespace sk::ipc {

namespace detail {
namespace {

std::int64_t poll_slice_ms(const ProcessSpec& spec) noexcept {
  std::int64_t min_ms = INT64_MAX;
  for (const auto& t : spec.timeouts)
    if (t) min_ms = std::min<std::int64_t>(min_ms, t->count());
  return std::clamp<std::int64_t>(min_ms / 8, 1, 50);
}

}  // namespace

void supervisor_main(ControlBlock& cb, const ProcessSpec& spec, WorkerBody& body, int out_fd, pid_t parent,
                     bool& in_worker_flag) {
  // SYNC POINT: release publishes our pid to the parent (kill() reads it to
  // signal the tree); nothing else rides on it: the pid is the message.
  cb.supervisor_pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_release);
  int parent_fd = pidfd_open(parent);
  if (parent_fd < 0 || ::getppid() != parent) ::_exit(0);
  register_private_fd(parent_fd);  // the workers we fork do not keep it
  const bool timed = spec.any_timeout();
  const std::int64_t slice = poll_slice_ms(spec);
  WorkerMode mode = WorkerMode::lifecycle;
  FailureInfo pending;
  for (;;) {
    const pid_t w = fork_worker(cb, spec, body, out_fd, mode, pending, true, in_worker_flag);
    if (w < 0) {
      FailureInfo f;
      f.kind = FailureInfo::Kind::crash;
      f.what = std::string("supervisor could not fork a worker: ") + std::strerror(errno);
      write_failure(out_fd, f);
      ::_exit(0);
    }
    // SYNC POINT: release pairs with the parent's acquire loads of worker_pid
    // and incarnations (pid(), the tell/listen keep-going check): a parent
    // that sees the new incarnation count sees the new worker's pid. Without
    // it the parent could pair the new count with the dead worker's pid.
    cb.worker_pid.store(static_cast<std::uint32_t>(w), std::memory_order_release);
    cb.incarnations.fetch_add(1, std::memory_order_acq_rel);
    int wfd = pidfd_open(w);
    register_private_fd(wfd);
    int status = 0;
    bool timed_out = false;
    HookId overran = HookId::none;
    for (;;) {
      int wait_ms = -1;
      if (timed) {
        wait_ms = static_cast<int>(slice);
        // SYNC POINT: acquire pairs with the worker's release store of the
        // deadline word in begin_hook(): the hook and run index it wrote
        // before are visible with it (used to size the poll only).
        const std::uint64_t d = cb.life.deadline.load(std::memory_order_acquire);
        if (d != 0) {
          const std::int64_t left_ms =
              (static_cast<std::int64_t>(LifecycleState::deadline_ns(d)) - monotonic_ns()) / 1'000'000 + 1;
          wait_ms = static_cast<int>(std::clamp<std::int64_t>(left_ms, 0, slice));
        }
      }
      if (wfd < 0) wait_ms = wait_ms < 0 ? 10 : std::min(wait_ms, 10);  // no pidfd: poll waitpid
      pollfd fds[2] = {{wfd, POLLIN, 0}, {parent_fd, POLLIN, 0}};
      const int n = ::poll(fds, 2, wait_ms);
      if (n < 0 && errno != EINTR) break;
      if (fds[1].revents != 0 || (wfd < 0 && ::getppid() != parent)) {  // the parent died
        ::kill(w, SIGKILL);
        ::_exit(0);
      }
      if (fds[0].revents != 0 || wfd < 0) {
        const pid_t r = ::waitpid(w, &status, wfd < 0 ? WNOHANG : 0);
        if (r == w) break;
      }
      if (timed) {
        // Clock first, deadline second: if the deadline read after `now` is
        // already past, the worker was still inside that hook after its limit.
        const std::int64_t now = monotonic_ns();
        // SYNC POINT: acquire pairs with begin_hook()'s release: the hook id
        // packed in the word and the run index the worker stored before it
        // are the overrunning hook's. Without it the timeout could name the
        // previous hook or run.
        const std::uint64_t d = cb.life.deadline.load(std::memory_order_acquire);
        if (d != 0 && now > static_cast<std::int64_t>(LifecycleState::deadline_ns(d))) {
          overran = LifecycleState::deadline_hook(d);
          ::kill(w, SIGKILL);
          ::waitpid(w, &status, 0);
          timed_out = true;
          break;
        }
      }
    }
    close_private_fd(wfd);
    // SYNC POINT: acquire pairs with the engine's release after the outcome
    // was delivered: the worker's exit is then the end, not a crash.
    if (cb.life.outcome_written.load(std::memory_order_acquire) != 0) ::_exit(0);
    // SYNC POINT: acquire pairs with the engine's release of current_run.
    const std::uint64_t run = cb.life.current_run.load(std::memory_order_acquire);
    const FailureInfo cause =
        timed_out ? timeout_failure(overran, run, cb.life.deadline_limit_ms.load(std::memory_order_relaxed))
                  : crash_failure(status, static_cast<HookId>(cb.life.hook.load(std::memory_order_relaxed)), run);
    const AfterDeath next = after_death(cb.life, cause);  // the same decision a Pool makes for an item
    if (next.kind == AfterDeath::Kind::deliver) {
      write_failure(out_fd, next.failure);
      ::_exit(0);
    }
    if (next.kind == AfterDeath::Kind::restart) {
      mode = WorkerMode::lifecycle;  // a fresh worker from our pristine memory
      continue;
    }
    pending = next.failure;
    mode = WorkerMode::error_only;  // error() runs in a fresh worker
  }
}

}  // namespace detail
}  // namespace sk::ipc
