// sk::LogForwarder: tails an sk::Log with its cursor API (read_from /
// wait_from) on one thread and hands each record to spdlog sinks once
// (design: sk/spdlog.hpp).
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include <sk/spdlog.hpp>

namespace sk {

struct LogForwarder::State {
  State(const Log& l, std::vector<spdlog::sink_ptr> s, Options o)
      : log(l), sinks(std::move(s)), options(normalized(o)), owner(::getpid()) {}

  static Options normalized(Options o) noexcept {
    if (o.batch == 0) o.batch = 1;
    if (o.poll < std::chrono::milliseconds(1)) o.poll = std::chrono::milliseconds(1);  // never a busy loop
    if (o.hole_timeout < std::chrono::milliseconds(0)) o.hole_timeout = std::chrono::milliseconds(0);
    return o;
  }

  const Log& log;
  const std::vector<spdlog::sink_ptr> sinks;
  const Options options;
  const pid_t owner;  // the process whose thread this is

  // Set by the thread, read by anyone (counters) or under mu (drain/flush).
  std::atomic<std::uint64_t> cursor{0}, forwarded{0}, skipped{0}, lost{0};
  // Makes the thread's wait_from() return (flush request or stop).
  std::atomic<bool> attention{false};

  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;                // guarded by mu
  bool finished = false;            // the thread ended (stop or error)
  std::exception_ptr error;         // what ended it, if not stop
  std::uint64_t flush_asked = 0;    // flush() calls so far
  std::uint64_t flush_done = 0;     // flushes the thread has done
  std::chrono::steady_clock::time_point last_sink_error{};

  std::thread thread;

  // Held while the thread hands a batch to the sinks, and by a fork (below).
  std::mutex sink_mu;

  // Fork safety: spdlog's file sinks buffer in a FILE*. A child forked while
  // that buffer holds forwarded lines would write them a second time if it
  // flushes stdio before it exits. So every fork (pthread_atfork) first
  // waits for the batch in progress and flushes the sinks of this process's
  // forwarders; the child inherits empty buffers and forgets the forwarders
  // (their threads exist only in the parent).
  static std::mutex& registry_mu() {
    static auto* mu = new std::mutex;  // never destroyed: a fork may come during exit
    return *mu;
  }
  static std::vector<State*>& registry() {
    static auto* live = new std::vector<State*>;
    return *live;
  }
  static void before_fork() noexcept {
    registry_mu().lock();
    for (State* st : registry()) {
      st->sink_mu.lock();
      st->flush_sinks();
    }
  }
  static void after_fork_parent() noexcept {
    for (State* st : registry()) st->sink_mu.unlock();
    registry_mu().unlock();
  }
  static void after_fork_child() noexcept {
    for (State* st : registry()) st->sink_mu.unlock();
    registry().clear();
    registry_mu().unlock();
  }
  void enlist() {
    static std::once_flag once;
    std::call_once(once, [] { pthread_atfork(&before_fork, &after_fork_parent, &after_fork_child); });
    std::lock_guard lock(registry_mu());
    registry().push_back(this);
  }
  void delist() {
    std::lock_guard lock(registry_mu());
    std::erase(registry(), this);
  }

  // One line through every sink, as if logged by the Log itself.
  void warn(const std::string& text) {
    spdlog::details::log_msg msg(spdlog::log_clock::now(), spdlog::source_loc{},
                                 spdlog::string_view_t(log.name().data(), log.name().size()), spdlog::level::warn,
                                 spdlog::string_view_t(text.data(), text.size()));
    msg.thread_id = static_cast<std::size_t>(owner);
    to_sinks(msg);
  }

  void to_sinks(const spdlog::details::log_msg& msg) {
    for (const spdlog::sink_ptr& sink : sinks) {
      if (!sink->should_log(msg.level)) continue;
      try {
        sink->log(msg);
      } catch (const std::exception& e) {
        sink_error(e.what());
      }
    }
  }

  // A sink that throws (disk full, ...) loses that record for that sink
  // only; say so on stderr, at most once a second, as spdlog's own handler does.
  void sink_error(const char* what) noexcept {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_sink_error < std::chrono::seconds(1)) return;
    last_sink_error = now;
    const std::string line = fmt::format("sk::LogForwarder (log '{}'): a sink threw: {}\n", log.name(), what);
    [[maybe_unused]] const ssize_t n = ::write(2, line.data(), line.size());
  }

  void flush_sinks() {
    for (const spdlog::sink_ptr& sink : sinks) {
      try {
        sink->flush();
      } catch (const std::exception& e) {
        sink_error(e.what());
      }
    }
  }

  void publish(std::uint64_t at) {
    {
      std::lock_guard lock(mu);
      cursor.store(at, std::memory_order_relaxed);
    }
    cv.notify_all();
  }

  // Serves a pending flush() (sinks are only touched on this thread).
  void serve_flush() {
    std::uint64_t asked;
    {
      std::lock_guard lock(mu);
      asked = flush_asked;
      if (asked == flush_done) return;
      attention.store(stop, std::memory_order_relaxed);
    }
    {
      std::lock_guard lock(sink_mu);
      flush_sinks();
    }
    {
      std::lock_guard lock(mu);
      flush_done = asked;
    }
    cv.notify_all();
  }

  void run() noexcept {
    try {
      loop();
    } catch (...) {
      std::lock_guard lock(mu);
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mu);
      finished = true;
    }
    cv.notify_all();
  }

  void loop() {
    using Clock = std::chrono::steady_clock;
    std::uint64_t at = cursor.load(std::memory_order_relaxed);
    std::uint64_t hole = UINT64_MAX;  // the seq we are waiting for, if any
    Clock::time_point hole_since{};
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stop) return;
      }
      const LogBatch b = log.read_from(at, options.batch);
      std::unique_lock sinks_held(sink_mu);
      if (b.skipped != 0) {
        skipped.fetch_add(b.skipped, std::memory_order_relaxed);
        warn(fmt::format("sk::LogForwarder: {} record(s) between seq {} and {} left the Log's retention (or were "
                         "cleared) before they could be forwarded (give the Log a larger sk::LogRetention, or forward "
                         "sooner)",
                         b.skipped, at, b.next - 1));
      }
      for (const LogRecord& r : b.records) to_sinks(to_spdlog_msg(r));
      sinks_held.unlock();
      forwarded.fetch_add(b.records.size(), std::memory_order_relaxed);
      const bool moved = b.next != at;
      at = b.next;
      if (b.waiting) {
        const auto now = Clock::now();
        if (hole != at) {
          hole = at;
          hole_since = now;
        } else if (now - hole_since >= options.hole_timeout) {
          lost.fetch_add(1, std::memory_order_relaxed);
          sinks_held.lock();
          warn(fmt::format("sk::LogForwarder: record seq {} was never stored by its writer within {} ms (killed "
                           "mid-call?); it is not forwarded",
                           at, options.hole_timeout.count()));
          sinks_held.unlock();
          ++at;
          hole = UINT64_MAX;
          publish(at);
          continue;
        }
      }
      if (moved) publish(at);
      serve_flush();
      if (moved && !b.waiting) continue;  // more may be there already
      std::chrono::nanoseconds wait = options.poll;
      if (b.waiting) wait = std::min<std::chrono::nanoseconds>(wait, hole_since + options.hole_timeout - Clock::now());
      if (wait > std::chrono::nanoseconds::zero()) log.wait_from(at, wait, &attention);
    }
  }
};

LogForwarder::LogForwarder(const Log& log, std::vector<spdlog::sink_ptr> sinks, Options options)
    : s_(std::make_unique<State>(log, std::move(sinks), options)) {
  s_->cursor.store(options.from_start ? 0 : log.written(), std::memory_order_relaxed);
  s_->enlist();  // before the thread writes anything (see before_fork)
  try {
    s_->thread = std::thread([st = s_.get()] { st->run(); });
  } catch (...) {
    s_->delist();
    throw;
  }
}

LogForwarder::~LogForwarder() {
  if (!s_) return;
  if (s_->owner != ::getpid()) {
    // A forked copy: the thread (and its locks) exist only in the owner.
    (void)s_.release();
    return;
  }
  try {
    drain();
  } catch (...) {
    // The thread has stopped on an error; nothing more to forward.
  }
  {
    std::lock_guard lock(s_->mu);
    s_->stop = true;
    s_->attention.store(true, std::memory_order_relaxed);
  }
  s_->log.wake_readers();
  s_->thread.join();
  s_->delist();
  std::lock_guard lock(s_->sink_mu);
  s_->flush_sinks();
}

void LogForwarder::drain() {
  if (s_->owner != ::getpid()) return;
  const std::uint64_t target = s_->log.written();
  std::unique_lock lock(s_->mu);
  s_->cv.wait(lock, [&] { return s_->finished || s_->cursor.load(std::memory_order_relaxed) >= target; });
  if (s_->error) std::rethrow_exception(s_->error);
}

void LogForwarder::flush() {
  if (s_->owner != ::getpid()) return;
  drain();
  std::unique_lock lock(s_->mu);
  const std::uint64_t ticket = ++s_->flush_asked;
  s_->attention.store(true, std::memory_order_relaxed);
  lock.unlock();
  s_->log.wake_readers();
  lock.lock();
  s_->cv.wait(lock, [&] { return s_->finished || s_->flush_done >= ticket; });
  if (s_->error) std::rethrow_exception(s_->error);
}

std::uint64_t LogForwarder::forwarded() const noexcept { return s_->forwarded.load(std::memory_order_relaxed); }
std::uint64_t LogForwarder::skipped() const noexcept { return s_->skipped.load(std::memory_order_relaxed); }
std::uint64_t LogForwarder::lost() const noexcept { return s_->lost.load(std::memory_order_relaxed); }
std::uint64_t LogForwarder::position() const noexcept { return s_->cursor.load(std::memory_order_relaxed); }

}  // namespace sk
