// The worker engine: runs the hooks in the worker process, times them,
// publishes the run index and hook deadlines, spends lives on exceptions and
// writes the outcome frame.
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

namespace sk::ipc::detail {

using namespace std::chrono;

namespace {

class Engine {
 public:
  Engine(ControlBlock& cb, const ProcessSpec& spec, WorkerBody& body, int out_fd)
      : cb_(cb), spec_(spec), body_(body), fd_(out_fd) {}

  void run_lifecycle() {
    cb_.phase.store(static_cast<std::uint32_t>(Phase::loop), std::memory_order_release);
    std::uint64_t run = cb_.current_run.load(std::memory_order_acquire);
    for (;;) {
      if (!should_continue(run)) break;
      double t[3] = {0, 0, 0};
      FailureInfo f;
      bool failed = false, stopped = false;
      const HookId hooks[3] = {HookId::prerun, HookId::run, HookId::postrun};
      for (int i = 0; i < 3; ++i) {
        if (!timed_call(hooks[i], run, t[i], f)) {
          failed = true;
          break;
        }
        if (i < 2 && stop_requested()) {
          stopped = true;
          break;
        }
      }
      if (failed) {
        // A life per failure; the same run index is retried in this process.
        const std::uint32_t left = cb_.lives_left.load(std::memory_order_relaxed) - 1;
        cb_.lives_left.store(left, std::memory_order_release);
        if (left > 0) continue;
        deliver_error(f);
        return;
      }
      if (stopped) break;
      ++run;
      // SYNC POINT: release publishes the completed iteration's index to the
      // parent's current_run() and to the supervisor (restart point).
      cb_.current_run.store(run, std::memory_order_release);
      const double full = t[0] + t[1] + t[2];
      if (full > 0) push_timer_sample(cb_, HookId::full_run, full);
    }
    cb_.phase.store(static_cast<std::uint32_t>(Phase::finishing), std::memory_order_release);
    FailureInfo f;
    double t = 0;
    if (!timed_call(HookId::onfinish, run, t, f)) {
      deliver_error(f);
      return;
    }
    std::vector<std::byte> out;
    if (!timed_call(HookId::result, run, t, f, [&] { body_.call_result(out); })) {
      deliver_error(f);
      return;
    }
    finish(true, out);
  }

  // error(f) decides the outcome: its value, or f itself when it throws.
  void deliver_error(const FailureInfo& f) {
    cb_.phase.store(static_cast<std::uint32_t>(Phase::error), std::memory_order_release);
    stash_failure(f);
    std::vector<std::byte> out;
    begin_hook(HookId::error);
    const auto t0 = steady_clock::now();
    bool ok = true;
    try {
      body_.call_error(f, out);
    } catch (...) {
      ok = false;
    }
    end_hook();
    if (ok) {
      push_timer_sample(cb_, HookId::error, duration<double>(steady_clock::now() - t0).count());
      finish(true, out);
    } else {
      std::vector<std::byte> bytes;
      encode_failure(f, bytes);
      finish(false, bytes);
    }
  }

 private:
  bool stop_requested() const noexcept { return cb_.stop.load(std::memory_order_acquire) != 0; }

  bool should_continue(std::uint64_t run) const noexcept {
    if (stop_requested()) return false;
    if (spec_.runs && run >= *spec_.runs) return false;
    if (spec_.join_in && monotonic_ns() - cb_.start_ns >= spec_.join_in->count()) return false;
    return true;
  }

  void begin_hook(HookId h) noexcept {
    cb_.hook.store(static_cast<std::uint32_t>(h), std::memory_order_relaxed);
    const auto& limit = spec_.timeouts[static_cast<std::size_t>(h)];
    const std::uint64_t d =
        limit ? ControlBlock::pack_deadline(
                    h, static_cast<std::uint64_t>(monotonic_ns() + duration_cast<nanoseconds>(*limit).count()))
              : 0;
    // SYNC POINT: release publishes hook (and the run index) with the
    // deadline the supervisor acquires; it then knows which hook overran.
    cb_.deadline.store(d, std::memory_order_release);
  }
  void end_hook() noexcept { cb_.deadline.store(0, std::memory_order_release); }

  bool timed_call(HookId h, std::uint64_t run, double& seconds, FailureInfo& f) {
    return timed_call(h, run, seconds, f, [&] { body_.call_hook(h); });
  }

  // Runs fn as hook h: deadline word for the supervisor, timer sample on
  // success; on an exception fills f and returns false.
  template <class Fn>
  bool timed_call(HookId h, std::uint64_t run, double& seconds, FailureInfo& f, Fn&& fn) {
    begin_hook(h);
    const auto t0 = steady_clock::now();
    try {
      fn();
    } catch (...) {
      end_hook();
      f = FailureInfo{};
      f.kind = FailureInfo::Kind::exception;
      f.hook = h;
      f.run = run;
      capture_exception(f);
      return false;  // the failed section's sample is discarded
    }
    end_hook();
    seconds = duration<double>(steady_clock::now() - t0).count();
    push_timer_sample(cb_, h, seconds);
    return true;
  }

  // Keeps the failure in the control block while error() runs, so that a
  // crash inside error() still delivers it (the supervisor or parent reads it).
  void stash_failure(const FailureInfo& f) noexcept {
    try {
      FailureInfo g = f;
      std::vector<std::byte> bytes;
      encode_failure(g, bytes);
      while (bytes.size() > sizeof cb_.failure_buf && !g.what.empty()) {
        g.what.resize(g.what.size() / 2);
        bytes.clear();
        encode_failure(g, bytes);
      }
      if (bytes.size() > sizeof cb_.failure_buf) return;
      std::memcpy(cb_.failure_buf, bytes.data(), bytes.size());
      // SYNC POINT: release publishes failure_buf to the reader's acquire.
      cb_.failure_len.store(static_cast<std::uint32_t>(bytes.size()), std::memory_order_release);
    } catch (...) {
    }
  }

  void finish(bool ok, std::span<const std::byte> payload) noexcept {
    if (write_outcome(fd_, ok, payload)) {
      // SYNC POINT: release: the frame is in the pipe before the supervisor
      // (acquire) treats this worker's exit as a delivered outcome.
      cb_.outcome_written.store(1, std::memory_order_release);
    }
    cb_.phase.store(static_cast<std::uint32_t>(Phase::done), std::memory_order_release);
  }

  ControlBlock& cb_;
  const ProcessSpec& spec_;
  WorkerBody& body_;
  int fd_;
};

}  // namespace

std::optional<FailureInfo> stashed_failure(const ControlBlock& cb) {
  // SYNC POINT: acquire pairs with stash_failure's release.
  const std::uint32_t n = cb.failure_len.load(std::memory_order_acquire);
  if (n == 0 || n > sizeof cb.failure_buf) return std::nullopt;
  try {
    return decode_failure(std::span<const std::byte>(reinterpret_cast<const std::byte*>(cb.failure_buf), n));
  } catch (const sk::Error&) {
    return std::nullopt;
  }
}

pid_t fork_worker(ControlBlock& cb, const ProcessSpec& spec, WorkerBody& body, int out_fd, WorkerMode mode,
                  const FailureInfo& pending, bool deathsig, bool& in_worker_flag) {
  const int keep[] = {out_fd};
  const pid_t pid = fork_process({.die_with_parent = deathsig, .keep = keep});
  if (pid != 0) return pid;
  in_worker_flag = true;
  cb.worker_pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_release);
  try {
    Engine e(cb, spec, body, out_fd);
    if (mode == WorkerMode::lifecycle)
      e.run_lifecycle();
    else
      e.deliver_error(pending);
  } catch (...) {
    // Only allocation failures can get here; exit without an outcome, which
    // the supervisor/parent reports as a crash.
    ::_exit(70);
  }
  exit_child(0);
}

}  // namespace sk::ipc::detail
