// The parent-side handle of a started Skprocess: maps the control block,
// forks (the supervisor, or the worker directly), collects the outcome from
// the pipe, kills, and carries tell/listen in both directions.
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

using namespace std::chrono;
using namespace detail;

void ProcessHandle::start(const ProcessSpec& spec, WorkerBody& body) {
  spec_ = spec;
  body_ = &body;
  supervised_ = spec.lives > 1 || spec.any_timeout() || !on_main_thread();
  std::size_t cap = 4096;
  while (cap < spec.channel_capacity) cap <<= 1;
  channel_capacity_ = cap;
  const std::size_t cb_bytes = round_up(kControlBlockBytes, 4096);
  const std::size_t ch_bytes = round_up(core::ByteRing::bytes_needed(cap), 4096);
  map_bytes_ = cb_bytes + 2 * ch_bytes;
  void* mem = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED)
    throw SpawnError(std::string("Skprocess start(): mmap of the ") + std::to_string(map_bytes_) +
                     "-byte control block failed: " + std::strerror(errno));
  cb_ = new (mem) ControlBlock();
  reset_lifecycle(cb_->life, spec.lives);
  core::ByteRing::create(static_cast<std::byte*>(mem) + cb_bytes, cap);
  core::ByteRing::create(static_cast<std::byte*>(mem) + cb_bytes + ch_bytes, cap);

  // The pipe's two ends exist only under the fork lock until our copy of
  // the write end is closed: a fork on another thread (a Pool worker, another
  // start()) cannot copy them, and every later child closes the read end.
  ForkLock lock;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    const int e = errno;
    unmap();
    throw SpawnError(std::string("Skprocess start(): pipe2 failed: ") + std::strerror(e) +
                     " (too many open files? each running process holds one descriptor)");
  }
  register_private_fd(fds[0]);
  register_private_fd(fds[1]);
  const pid_t parent = ::getpid();
  pid_t pid;
  if (supervised_) {
    const int keep[] = {fds[1]};
    pid = fork_process({.die_with_parent = on_main_thread(), .keep = keep});
    if (pid == 0) supervisor_main(*cb_, spec_, *body_, fds[1], parent, in_worker_);
  } else {
    pid = fork_worker(*cb_, spec_, *body_, fds[1], WorkerMode::lifecycle, FailureInfo{}, true, in_worker_);
  }
  const int fork_errno = errno;
  close_private_fd(fds[1]);
  if (pid < 0) {
    close_private_fd(fds[0]);
    unmap();
    throw SpawnError(std::string("Skprocess start(): fork failed: ") + std::strerror(fork_errno));
  }
  outcome_fd_ = fds[0];
  child_ = pid;
  if (!supervised_) {
    // SYNC POINT: release stores, for this thread's later acquire loads in
    // pid() and the tell/listen keep-going check (direct mode: no supervisor
    // writes them). The pid is the whole message.
    cb_->worker_pid.store(static_cast<std::uint32_t>(pid), std::memory_order_release);
    cb_->incarnations.store(1, std::memory_order_release);
  }
}

ProcessHandle::~ProcessHandle() {
  if (cb_ && !in_worker_ && !finished_) kill();
  close_private_fd(outcome_fd_);
  unmap();
}

void ProcessHandle::unmap() noexcept {
  if (cb_) ::munmap(cb_, map_bytes_);
  cb_ = nullptr;
}

core::ByteRing& ProcessHandle::to_worker() const noexcept {
  return *reinterpret_cast<core::ByteRing*>(reinterpret_cast<std::byte*>(cb_) + round_up(kControlBlockBytes, 4096));
}
core::ByteRing& ProcessHandle::to_parent() const noexcept {
  return *reinterpret_cast<core::ByteRing*>(reinterpret_cast<std::byte*>(cb_) + round_up(kControlBlockBytes, 4096) +
                                            round_up(core::ByteRing::bytes_needed(channel_capacity_), 4096));
}

void ProcessHandle::request_stop() noexcept {
  // SYNC POINT: release pairs with the engine's acquire in stop_requested().
  if (LifecycleState* l = life()) l->stop.store(1, std::memory_order_release);
}
bool ProcessHandle::stop_requested() const noexcept {
  // SYNC POINT: acquire pairs with request_stop()'s release (the flag only).
  const LifecycleState* l = life();
  return l && l->stop.load(std::memory_order_acquire) != 0;
}

std::uint64_t ProcessHandle::current_run() const noexcept {
  // SYNC POINT: acquire pairs with the engine's release after each iteration.
  const LifecycleState* l = life();
  return l ? l->current_run.load(std::memory_order_acquire) : 0;
}

pid_t ProcessHandle::pid() const noexcept {
  if (inline_) return ::getpid();
  if (!cb_) return 0;
  if (in_worker_) return ::getpid();
  // SYNC POINT: acquire pairs with the supervisor's (or fork_worker's)
  // release store of the current incarnation's pid.
  return static_cast<pid_t>(cb_->worker_pid.load(std::memory_order_acquire));
}

bool ProcessHandle::is_alive() noexcept {
  if (!cb_ || in_worker_) return cb_ != nullptr;
  if (finished_ || reaped_) return false;
  int st = 0;
  const pid_t r = ::waitpid(child_, &st, WNOHANG);
  if (r == child_) {
    reaped_ = true;
    child_status_ = st;
    return false;
  }
  return r == 0;
}

void ProcessHandle::kill() noexcept {
  if (!cb_ || in_worker_ || finished_) return;
  if (!reaped_) {
    ::kill(child_, SIGKILL);
    ::waitpid(child_, &child_status_, 0);
    reaped_ = true;
  }
  if (supervised_) {
    // The worker dies with the supervisor (PR_SET_PDEATHSIG); this makes it
    // immediate. Its pid cannot have been reused yet: it was S's child and
    // is only reaped once it is dead.
    // SYNC POINT: acquire pairs with the supervisor's release of worker_pid.
    const auto w = static_cast<pid_t>(cb_->worker_pid.load(std::memory_order_acquire));
    if (w > 0) ::kill(w, SIGKILL);
  }
  close_private_fd(outcome_fd_);
  killed_ = true;
  finished_ = true;
  outcome_ = Outcome{};
  outcome_.failure.kind = FailureInfo::Kind::killed;
  outcome_.failure.run = current_run();
  outcome_.failure.hook = static_cast<HookId>(cb_->life.hook.load(std::memory_order_relaxed));
  outcome_.failure.what = "the process was killed with kill(); no hooks ran after that";
}

bool ProcessHandle::read_outcome_pipe(int timeout_ms) {
  pollfd p{outcome_fd_, POLLIN, 0};
  const int n = ::poll(&p, 1, timeout_ms);
  if (n <= 0) return false;
  for (;;) {
    std::byte buf[65536];
    const ssize_t r = ::read(outcome_fd_, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return true;  // EOF (or a broken pipe): every writer is gone
    outcome_bytes_.insert(outcome_bytes_.end(), buf, buf + r);
    pollfd more{outcome_fd_, POLLIN, 0};
    if (::poll(&more, 1, 0) <= 0) return false;
  }
}

void ProcessHandle::drain_incoming() {
  if (!cb_) return;
  // SYNC POINT: acquire loads of incarnations pair with the supervisor's
  // acq_rel increment: a changed count means the producer of to_parent was
  // replaced (its partial message is dropped by the framing).
  const auto inc0 = cb_->incarnations.load(std::memory_order_acquire);
  auto keep_going = [&] {
    return !finished_ && is_alive() && cb_->incarnations.load(std::memory_order_acquire) == inc0;
  };
  while (auto m = receive_message(to_parent(), from_worker_, from_worker_assembling_, steady_clock::now(), keep_going))
    backlog_.push_back(std::move(*m));
}

void ProcessHandle::collect_finished() {
  close_private_fd(outcome_fd_);
  if (!reaped_) {
    ::waitpid(child_, &child_status_, 0);
    reaped_ = true;
  }
  Outcome out;
  if (!parse_outcome(outcome_bytes_, out)) {
    const std::uint64_t run = current_run();
    // SYNC POINT: acquire loads of hook and phase pair with the engine's
    // release stores (the tree is reaped: this reads its last words).
    const auto hook = static_cast<HookId>(cb_->life.hook.load(std::memory_order_acquire));
    FailureInfo f = crash_failure(child_status_, hook, run);
    if (supervised_) {
      f.what = "the supervisor process ended without an outcome: " + f.what;
      out.failure = f;
    } else {
      // SYNC POINT: acquire, as for hook above.
      const auto phase = static_cast<Phase>(cb_->life.phase.load(std::memory_order_acquire));
      if (phase == Phase::error || phase == Phase::done) {
        out.failure = stashed_failure(cb_->life).value_or(f);
      } else {
        // Direct mode, lives exhausted by a crash: error() runs in a fresh
        // child forked from this (the parent's) copy of the object.
        out.failure = f;
        pid_t pid = -1;
        int fds[2] = {-1, -1};
        {
          ForkLock lock;  // as in start(): no other fork copies these ends
          if (::pipe2(fds, O_CLOEXEC) == 0) {
            register_private_fd(fds[0]);
            register_private_fd(fds[1]);
            pid = fork_worker(*cb_, spec_, *body_, fds[1], WorkerMode::error_only, f, true, in_worker_);
            close_private_fd(fds[1]);
            if (pid < 0) close_private_fd(fds[0]);
          }
        }
        if (pid > 0) {
          outcome_fd_ = fds[0];
          outcome_bytes_.clear();
          while (!read_outcome_pipe(-1)) {
          }
          close_private_fd(outcome_fd_);
          int st = 0;
          ::waitpid(pid, &st, 0);
          Outcome e;
          if (parse_outcome(outcome_bytes_, e)) out = std::move(e);
        }
      }
    }
  }
  outcome_ = std::move(out);
  finished_ = true;
}

bool ProcessHandle::wait(std::optional<nanoseconds> timeout) {
  if (!cb_ || finished_) return true;
  const auto deadline = timeout ? steady_clock::now() + *timeout : steady_clock::time_point::max();
  int idle_ms = 1;
  for (;;) {
    // Relieves a worker blocked on a full listen channel. While messages keep
    // arriving, look again soon; when idle, back off to 50 ms between looks.
    const std::size_t before = backlog_.size();
    drain_incoming();
    idle_ms = backlog_.size() != before ? 1 : std::min(idle_ms * 2, 50);
    int ms = idle_ms;
    if (timeout) {
      const auto left = duration_cast<milliseconds>(deadline - steady_clock::now()).count() + 1;
      ms = static_cast<int>(std::clamp<long long>(left, 0, idle_ms));
    }
    if (read_outcome_pipe(ms)) {
      collect_finished();
      drain_incoming();
      return true;
    }
    if (timeout && steady_clock::now() >= deadline) return false;
  }
}

void ProcessHandle::send(std::span<const std::byte> msg) {
  if (in_worker_) {
    send_message(to_parent(), msg, [] { return true; });
    return;
  }
  if (!send_message(to_worker(), msg, [&] { return is_alive(); }))
    throw PeerGone("Skprocess tell(): the worker process has exited; nobody will listen to this message");
}

std::optional<std::vector<std::byte>> ProcessHandle::receive(std::optional<nanoseconds> timeout) {
  const auto deadline = timeout ? steady_clock::now() + *timeout : steady_clock::time_point::max();
  if (in_worker_) return receive_message(to_worker(), from_parent_, from_parent_assembling_, deadline, [] { return true; });
  if (!backlog_.empty()) {
    auto m = std::move(backlog_.front());
    backlog_.pop_front();
    return m;
  }
  for (;;) {
    // SYNC POINT: acquire loads, as in drain_incoming().
    const auto inc0 = cb_->incarnations.load(std::memory_order_acquire);
    auto keep_going = [&] { return is_alive() && cb_->incarnations.load(std::memory_order_acquire) == inc0; };
    auto m = receive_message(to_parent(), from_worker_, from_worker_assembling_,
                             finished_ ? steady_clock::now() : deadline, keep_going);
    if (m) return m;
    if (finished_ || steady_clock::now() >= deadline || !is_alive()) return std::nullopt;
    // a new worker incarnation replaced the producer: keep waiting
  }
}

}  // namespace sk::ipc
