// Fork, supervisor loop, worker engine and the parent-side handle.
// See sk/ipc/supervisor.hpp for the process tree and docs/process.md for the
// design. Everything that runs in a child ends in _exit(): a child must never
// return into the parent's stack frames (or run its atexit handlers).
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

#include <sk/ipc/supervisor.hpp>

namespace sk::ipc {
namespace {

using namespace std::chrono;

// Serialises pipe creation + fork + closing the parent's copy of the write
// end, so that no other start() running on another thread forks a child that
// inherits our write end (that child would hold our end-of-file hostage).
pthread_mutex_t g_fork_mutex = PTHREAD_MUTEX_INITIALIZER;

// In a supervisor or worker: the outcome write end it holds. A process that a
// worker starts closes it, so that it never delays its grandparent's EOF.
int g_my_outcome_fd = -1;

constexpr std::uint32_t kFrameMagic = 0x534b4f43;  // "SKOC"
struct FrameHeader {
  std::uint32_t magic;
  std::uint32_t kind;  // 0 = result, 1 = failure
  std::uint64_t length;
};

int pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::size_t round_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

bool write_all(int fd, const void* p, std::size_t n) noexcept {
  const auto* b = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    b += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// Writes one outcome frame. SIGPIPE is blocked so that a parent that closed
// its end (it is going away) gives EPIPE instead of killing us.
bool write_outcome(int fd, bool ok, std::span<const std::byte> payload) noexcept {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  const FrameHeader h{kFrameMagic, ok ? 0u : 1u, payload.size()};
  // Small outcomes go out in one write(), atomic up to PIPE_BUF.
  alignas(8) std::byte small[PIPE_BUF];
  if (payload.size() <= sizeof small - sizeof h) {
    std::memcpy(small, &h, sizeof h);
    if (!payload.empty()) std::memcpy(small + sizeof h, payload.data(), payload.size());
    return write_all(fd, small, sizeof h + payload.size());
  }
  return write_all(fd, &h, sizeof h) && write_all(fd, payload.data(), payload.size());
}

bool write_failure(int fd, const FailureInfo& f) noexcept {
  try {
    std::vector<std::byte> bytes;
    encode_failure(f, bytes);
    return write_outcome(fd, false, bytes);
  } catch (...) {
    return false;
  }
}

// Parses the frames read from the outcome pipe; the last complete one wins.
bool parse_outcome(const std::vector<std::byte>& bytes, Outcome& out) {
  std::size_t pos = 0;
  bool found = false;
  while (bytes.size() - pos >= sizeof(FrameHeader)) {
    FrameHeader h{};
    std::memcpy(&h, bytes.data() + pos, sizeof h);
    if (h.magic != kFrameMagic || h.kind > 1 || h.length > bytes.size() - pos - sizeof h) break;
    const std::span<const std::byte> payload(bytes.data() + pos + sizeof h, static_cast<std::size_t>(h.length));
    if (h.kind == 0) {
      out.ok = true;
      out.result.assign(payload.begin(), payload.end());
    } else {
      try {
        out.failure = decode_failure(payload);
        out.ok = false;
      } catch (const sk::Error&) {
        break;
      }
    }
    found = true;
    pos += sizeof h + static_cast<std::size_t>(h.length);
  }
  return found;
}

bool on_main_thread() noexcept { return ::gettid() == ::getpid(); }

// First thing in every child we fork: take over the outcome write end, die
// with the parent.
void child_setup(pid_t expected_parent, int keep_fd, bool deathsig) noexcept {
  // The forking thread held g_fork_mutex (direct mode / supervisor); a worker
  // forked by a supervisor finds it already released. Leave it unlocked.
  pthread_mutex_trylock(&g_fork_mutex);
  pthread_mutex_unlock(&g_fork_mutex);
  if (g_my_outcome_fd >= 0 && g_my_outcome_fd != keep_fd) ::close(g_my_outcome_fd);
  g_my_outcome_fd = keep_fd;
  if (deathsig) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl took effect: then we were reparented.
  if (::getppid() != expected_parent) ::_exit(0);
}

[[noreturn]] void child_exit() noexcept {
  std::fflush(nullptr);
  ::_exit(0);
}

}  // namespace

bool ProcessSpec::any_timeout() const noexcept {
  return std::any_of(timeouts.begin(), timeouts.end(), [](const auto& t) { return t.has_value(); });
}

// ---------------------------------------------------------------------------
// Engine: runs in the worker.
// ---------------------------------------------------------------------------
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

enum class WorkerMode { lifecycle, error_only };

// Forks a worker from the calling process (the supervisor, or the parent in
// direct mode). The worker runs the engine and exits.
pid_t fork_worker(ProcessHandle& h, ControlBlock& cb, const ProcessSpec& spec, WorkerBody& body, int out_fd,
                  WorkerMode mode, const FailureInfo& pending, bool deathsig, bool& in_worker_flag) {
  const pid_t me = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  child_setup(me, out_fd, deathsig);
  in_worker_flag = true;
  (void)h;
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
  child_exit();
}

std::int64_t poll_slice_ms(const ProcessSpec& spec) noexcept {
  std::int64_t min_ms = INT64_MAX;
  for (const auto& t : spec.timeouts)
    if (t) min_ms = std::min<std::int64_t>(min_ms, t->count());
  return std::clamp<std::int64_t>(min_ms / 8, 1, 50);
}

FailureInfo timeout_failure(const ProcessSpec& spec, HookId h, std::uint64_t run) {
  FailureInfo f;
  f.kind = FailureInfo::Kind::timeout;
  f.hook = h;
  f.run = run;
  const auto& limit = spec.timeouts[static_cast<std::size_t>(h)];
  f.limit_ms = limit ? limit->count() : 0;
  f.what = std::string(hook_name(h)) + " ran longer than its timeout of " + std::to_string(f.limit_ms) + " ms";
  return f;
}

}  // namespace

// ---------------------------------------------------------------------------
// Supervisor: runs in S. Restarts workers; enforces hook deadlines.
// ---------------------------------------------------------------------------
namespace {

[[noreturn]] void supervisor_main(ProcessHandle& h, ControlBlock& cb, const ProcessSpec& spec, WorkerBody& body,
                                  int out_fd, pid_t parent, bool& in_worker_flag) {
  cb.supervisor_pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_release);
  const int parent_fd = pidfd_open(parent);
  if (parent_fd < 0 || ::getppid() != parent) ::_exit(0);
  const bool timed = spec.any_timeout();
  const std::int64_t slice = poll_slice_ms(spec);
  WorkerMode mode = WorkerMode::lifecycle;
  FailureInfo pending;
  for (;;) {
    const pid_t w = fork_worker(h, cb, spec, body, out_fd, mode, pending, true, in_worker_flag);
    if (w < 0) {
      FailureInfo f;
      f.kind = FailureInfo::Kind::crash;
      f.what = std::string("supervisor could not fork a worker: ") + std::strerror(errno);
      write_failure(out_fd, f);
      ::_exit(0);
    }
    cb.worker_pid.store(static_cast<std::uint32_t>(w), std::memory_order_release);
    cb.incarnations.fetch_add(1, std::memory_order_acq_rel);
    const int wfd = pidfd_open(w);
    int status = 0;
    bool timed_out = false;
    HookId overran = HookId::none;
    for (;;) {
      int wait_ms = -1;
      if (timed) {
        wait_ms = static_cast<int>(slice);
        const std::uint64_t d = cb.deadline.load(std::memory_order_acquire);
        if (d != 0) {
          const std::int64_t left_ms =
              (static_cast<std::int64_t>(ControlBlock::deadline_ns(d)) - monotonic_ns()) / 1'000'000 + 1;
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
        const std::uint64_t d = cb.deadline.load(std::memory_order_acquire);
        if (d != 0 && now > static_cast<std::int64_t>(ControlBlock::deadline_ns(d))) {
          overran = ControlBlock::deadline_hook(d);
          ::kill(w, SIGKILL);
          ::waitpid(w, &status, 0);
          timed_out = true;
          break;
        }
      }
    }
    if (wfd >= 0) ::close(wfd);
    cb.deadline.store(0, std::memory_order_relaxed);
    // SYNC POINT: acquire pairs with the worker's release after its write.
    if (cb.outcome_written.load(std::memory_order_acquire) != 0) ::_exit(0);
    const std::uint64_t run = cb.current_run.load(std::memory_order_acquire);
    const auto phase = static_cast<Phase>(cb.phase.load(std::memory_order_acquire));
    const FailureInfo f = timed_out ? timeout_failure(spec, overran, run)
                                    : crash_failure(status, static_cast<HookId>(cb.hook.load()), run);
    if (phase == Phase::error || phase == Phase::done) {
      // error() itself died or overran: deliver the failure it was handling.
      write_failure(out_fd, stashed_failure(cb).value_or(f));
      ::_exit(0);
    }
    if (phase == Phase::loop || phase == Phase::starting) {
      const std::uint32_t left = cb.lives_left.load(std::memory_order_relaxed);
      const std::uint32_t now_left = left > 0 ? left - 1 : 0;
      cb.lives_left.store(now_left, std::memory_order_release);
      if (now_left > 0) {
        mode = WorkerMode::lifecycle;  // a fresh worker from our pristine memory
        continue;
      }
    }
    mode = WorkerMode::error_only;  // error() runs in a fresh worker
    pending = f;
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// Parent-side handle.
// ---------------------------------------------------------------------------
void ProcessHandle::start(const ProcessSpec& spec, WorkerBody& body) {
  spec_ = spec;
  body_ = &body;
  supervised_ = spec.lives > 1 || spec.any_timeout() || !on_main_thread();
  std::size_t cap = 4096;
  while (cap < spec.channel_capacity) cap <<= 1;
  channel_capacity_ = cap;
  const std::size_t cb_bytes = round_up(kControlBlockBytes, 4096);
  const std::size_t ch_bytes = round_up(MessageChannel::bytes_needed(cap), 4096);
  map_bytes_ = cb_bytes + 2 * ch_bytes;
  void* mem = ::mmap(nullptr, map_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED)
    throw SpawnError(std::string("Skprocess start(): mmap of the ") + std::to_string(map_bytes_) +
                     "-byte control block failed: " + std::strerror(errno));
  cb_ = new (mem) ControlBlock();
  cb_->start_ns = monotonic_ns();
  cb_->lives_left.store(spec.lives, std::memory_order_relaxed);
  MessageChannel::create(static_cast<std::byte*>(mem) + cb_bytes, cap);
  MessageChannel::create(static_cast<std::byte*>(mem) + cb_bytes + ch_bytes, cap);

  pthread_mutex_lock(&g_fork_mutex);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    const int e = errno;
    pthread_mutex_unlock(&g_fork_mutex);
    unmap();
    throw SpawnError(std::string("Skprocess start(): pipe2 failed: ") + std::strerror(e) +
                     " (too many open files? each running process holds one descriptor)");
  }
  std::fflush(nullptr);  // nothing buffered gets written twice by the child
  const pid_t parent = ::getpid();
  pid_t pid;
  if (supervised_) {
    pid = ::fork();
    if (pid == 0) {
      child_setup(parent, fds[1], on_main_thread());
      ::close(fds[0]);
      supervisor_main(*this, *cb_, spec_, *body_, fds[1], parent, in_worker_);
    }
  } else {
    pid = fork_worker(*this, *cb_, spec_, *body_, fds[1], WorkerMode::lifecycle, FailureInfo{}, true, in_worker_);
  }
  const int fork_errno = errno;
  ::close(fds[1]);
  pthread_mutex_unlock(&g_fork_mutex);
  if (pid < 0) {
    ::close(fds[0]);
    unmap();
    throw SpawnError(std::string("Skprocess start(): fork failed: ") + std::strerror(fork_errno));
  }
  outcome_fd_ = fds[0];
  child_ = pid;
  if (!supervised_) {
    cb_->worker_pid.store(static_cast<std::uint32_t>(pid), std::memory_order_release);
    cb_->incarnations.store(1, std::memory_order_release);
  }
}

ProcessHandle::~ProcessHandle() {
  if (cb_ && !in_worker_ && !finished_) kill();
  if (outcome_fd_ >= 0) ::close(outcome_fd_);
  unmap();
}

void ProcessHandle::unmap() noexcept {
  if (cb_) ::munmap(cb_, map_bytes_);
  cb_ = nullptr;
}

MessageChannel* ProcessHandle::to_worker() const noexcept {
  return reinterpret_cast<MessageChannel*>(reinterpret_cast<std::byte*>(cb_) + round_up(kControlBlockBytes, 4096));
}
MessageChannel* ProcessHandle::to_parent() const noexcept {
  return reinterpret_cast<MessageChannel*>(reinterpret_cast<std::byte*>(cb_) + round_up(kControlBlockBytes, 4096) +
                                           round_up(MessageChannel::bytes_needed(channel_capacity_), 4096));
}

void ProcessHandle::request_stop() noexcept {
  // SYNC POINT: release pairs with the engine's acquire in stop_requested().
  if (cb_) cb_->stop.store(1, std::memory_order_release);
}
bool ProcessHandle::stop_requested() const noexcept {
  return cb_ && cb_->stop.load(std::memory_order_acquire) != 0;
}

std::uint64_t ProcessHandle::current_run() const noexcept {
  // SYNC POINT: acquire pairs with the engine's release after each iteration.
  return cb_ ? cb_->current_run.load(std::memory_order_acquire) : 0;
}

pid_t ProcessHandle::pid() const noexcept {
  if (!cb_) return 0;
  if (in_worker_) return ::getpid();
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
    const auto w = static_cast<pid_t>(cb_->worker_pid.load(std::memory_order_acquire));
    if (w > 0) ::kill(w, SIGKILL);
  }
  if (outcome_fd_ >= 0) ::close(outcome_fd_);
  outcome_fd_ = -1;
  killed_ = true;
  finished_ = true;
  outcome_ = Outcome{};
  outcome_.failure.kind = FailureInfo::Kind::killed;
  outcome_.failure.run = current_run();
  outcome_.failure.hook = static_cast<HookId>(cb_->hook.load(std::memory_order_relaxed));
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
  const auto inc0 = cb_->incarnations.load(std::memory_order_acquire);
  auto keep_going = [&] {
    return !finished_ && is_alive() && cb_->incarnations.load(std::memory_order_acquire) == inc0;
  };
  while (auto m = to_parent()->receive(steady_clock::now(), keep_going)) backlog_.push_back(std::move(*m));
}

void ProcessHandle::collect_finished() {
  ::close(outcome_fd_);
  outcome_fd_ = -1;
  if (!reaped_) {
    ::waitpid(child_, &child_status_, 0);
    reaped_ = true;
  }
  Outcome out;
  if (!parse_outcome(outcome_bytes_, out)) {
    const std::uint64_t run = current_run();
    const auto hook = static_cast<HookId>(cb_->hook.load(std::memory_order_acquire));
    FailureInfo f = crash_failure(child_status_, hook, run);
    if (supervised_) {
      f.what = "the supervisor process ended without an outcome: " + f.what;
      out.failure = f;
    } else {
      const auto phase = static_cast<Phase>(cb_->phase.load(std::memory_order_acquire));
      if (phase == Phase::error || phase == Phase::done) {
        out.failure = stashed_failure(*cb_).value_or(f);
      } else {
        // Direct mode, lives exhausted by a crash: error() runs in a fresh
        // child forked from this (the parent's) copy of the object.
        out.failure = f;
        pthread_mutex_lock(&g_fork_mutex);
        int fds[2];
        pid_t pid = -1;
        if (::pipe2(fds, O_CLOEXEC) == 0) {
          std::fflush(nullptr);
          pid = fork_worker(*this, *cb_, spec_, *body_, fds[1], WorkerMode::error_only, f, true, in_worker_);
          ::close(fds[1]);
        }
        pthread_mutex_unlock(&g_fork_mutex);
        if (pid > 0) {
          outcome_fd_ = fds[0];
          outcome_bytes_.clear();
          while (!read_outcome_pipe(-1)) {
          }
          ::close(outcome_fd_);
          outcome_fd_ = -1;
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
    to_parent()->send(msg, [] { return true; });
    return;
  }
  if (!to_worker()->send(msg, [&] { return is_alive(); }))
    throw PeerGone("Skprocess tell(): the worker process has exited; nobody will listen to this message");
}

std::optional<std::vector<std::byte>> ProcessHandle::receive(std::optional<nanoseconds> timeout) {
  const auto deadline = timeout ? steady_clock::now() + *timeout : steady_clock::time_point::max();
  if (in_worker_) return to_worker()->receive(deadline, [] { return true; });
  if (!backlog_.empty()) {
    auto m = std::move(backlog_.front());
    backlog_.pop_front();
    return m;
  }
  for (;;) {
    const auto inc0 = cb_->incarnations.load(std::memory_order_acquire);
    auto keep_going = [&] { return is_alive() && cb_->incarnations.load(std::memory_order_acquire) == inc0; };
    auto m = to_parent()->receive(finished_ ? steady_clock::now() : deadline, keep_going);
    if (m) return m;
    if (finished_ || steady_clock::now() >= deadline || !is_alive()) return std::nullopt;
    // a new worker incarnation replaced the producer: keep waiting
  }
}

}  // namespace sk::ipc
