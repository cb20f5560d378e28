#pragma once
// sk::Sktimer: a process-local stopwatch that keeps its recorded times and
// answers statistics over them (mean, median, percentiles, ...).
//
//   sk::Sktimer t;
//   t.start(); work(); double s = t.stop();          // seconds
//   { auto g = t.time_this(); work(); }               // RAII: start now, stop at scope end
//   t.add_time(0.25);                                 // record a measured value
//   t.mean(); t.percentile(95); t.get_time(-1);       // std::optional<double>, empty = no data
//
// Open frames (start .. stop) are per thread: each thread has its own stack of
// frames, so two threads timing with one Sktimer never stop each other's
// frame. The recorded times are pooled across threads. Nested start() pushes a
// frame; stop() pops the innermost.
//
// Thread safety: every member may be called from any thread (one mutex guards
// the data). Copying copies the recorded times and max_times, not open frames.
// Serializable with sk::ser (cereal serialize member): times, paused times and
// max_times travel; open frames do not.
//
// For a timer that every process of a Share records into, see
// sk::SharedTimer in <sk/slots/timer.hpp>.
#include <chrono>
#include <concepts>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <cereal/types/deque.hpp>

#include <sk/core/error.hpp>

namespace sk {

// ---- errors ---------------------------------------------------------------
class TimerError : public Error {
 public:
  using Error::Error;
};
// stop/lap/discard/pause/resume on a thread that has no open frame.
class TimerNotRunning : public TimerError {
 public:
  using TimerError::TimerError;
};
// percentile outside [0, 100], max_times <= 0, negative or non-finite time.
class TimerArgumentError : public TimerError {
 public:
  using TimerError::TimerError;
};

// ---- statistics snapshot --------------------------------------------------
// A frozen copy of a timer's data with every statistic computed once.
// Optional fields are empty when there is no data (stdev/variance need >= 2).
struct TimerStats {
  std::vector<double> times;  // oldest first
  std::size_t num_times = 0;
  std::optional<double> most_recent;
  std::optional<std::size_t> most_recent_index;
  std::optional<double> total_time;
  std::optional<double> total_time_paused;
  std::optional<double> mean;
  std::optional<double> median;
  std::optional<double> min;
  std::optional<double> max;
  std::optional<std::size_t> fastest_index;
  std::optional<std::size_t> slowest_index;
  std::optional<double> stdev;     // sample (n - 1)
  std::optional<double> variance;  // sample (n - 1)

  // Builds every field from the times (oldest first) and the paused total.
  static TimerStats from(std::vector<double> times, double total_paused);
  std::optional<double> percentile(double p) const;  // throws TimerArgumentError
  std::optional<double> get_time(long i) const noexcept;
};

namespace timer_detail {
// Statistics over a span of times (oldest first), shared by Sktimer,
// TimerStats and SharedTimer. Empty optional = not enough data.
std::optional<double> sum(std::span<const double> v) noexcept;
std::optional<double> mean(std::span<const double> v) noexcept;
std::optional<double> median(std::span<const double> v);
std::optional<double> variance(std::span<const double> v) noexcept;
std::optional<double> stdev(std::span<const double> v) noexcept;
std::optional<double> percentile(std::span<const double> v, double p);  // throws TimerArgumentError
std::optional<double> get_time(std::span<const double> v, long i) noexcept;
std::optional<std::size_t> index_of_min(std::span<const double> v) noexcept;
std::optional<std::size_t> index_of_max(std::span<const double> v) noexcept;
void check_time(double seconds);               // throws TimerArgumentError if < 0 or not finite
std::size_t check_max_times(long long n);      // throws TimerArgumentError if n <= 0

// One open measurement: its start, and the time it spent paused so far.
struct Frame {
  std::chrono::steady_clock::time_point start;
  std::chrono::steady_clock::duration paused{};
  std::optional<std::chrono::steady_clock::time_point> paused_at;
};
// A thread's stack of open frames, with the start/stop/pause logic. The
// `what` name goes into error messages ("Sktimer", "SharedTimer").
class FrameStack {
 public:
  double start();                                 // pushes; returns the start in seconds since clock epoch
  struct Closed { double elapsed; double paused; };
  Closed stop(const char* what);                  // pops; throws TimerNotRunning
  Closed lap(const char* what);                   // closes and reopens the top frame
  void discard(const char* what);                 // pops without recording
  void pause(const char* what);                   // idempotent while paused
  void resume(const char* what);                  // idempotent while running
  bool running() const noexcept { return !frames_.empty(); }
  bool paused() const noexcept { return running() && frames_.back().paused_at.has_value(); }
  std::size_t depth() const noexcept { return frames_.size(); }

 private:
  Frame& top(const char* what, const char* op);
  std::vector<Frame> frames_;
};
}  // namespace timer_detail

class Sktimer;

// RAII guard from Sktimer::time_this(): starts a frame now and stops it
// (recording the time) when destroyed, unless stop() or discard() ran first.
template <class Timer>
class TimerGuard {
 public:
  explicit TimerGuard(Timer& t) : t_(&t) { t_->start(); }
  TimerGuard(const TimerGuard&) = delete;
  TimerGuard& operator=(const TimerGuard&) = delete;
  TimerGuard(TimerGuard&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  TimerGuard& operator=(TimerGuard&&) = delete;
  ~TimerGuard() {
    if (t_) {
      try {
        t_->stop();
      } catch (...) {  // the frame was closed by hand through the timer: nothing to record
      }
    }
  }
  double stop() { return std::exchange(t_, nullptr)->stop(); }
  void discard() { std::exchange(t_, nullptr)->discard(); }
  void pause() { t_->pause(); }
  void resume() { t_->resume(); }
  double lap() { return t_->lap(); }

 private:
  Timer* t_;
};

class Sktimer {
 public:
  Sktimer() = default;
  // max_times: keep only the most recent n times (rolling window); nullopt = all.
  explicit Sktimer(std::optional<std::size_t> max_times);
  Sktimer(const Sktimer& o);
  Sktimer& operator=(const Sktimer& o);
  Sktimer(Sktimer&& o) noexcept;
  Sktimer& operator=(Sktimer&& o) noexcept;
  ~Sktimer() = default;

  // ---- measuring (per thread) ----
  double start();           // opens a frame on this thread (nested: pushes); returns steady seconds
  double stop();            // closes this thread's innermost frame, records and returns its seconds
  double lap();             // records the elapsed time and restarts the innermost frame
  void discard();           // closes the innermost frame without recording
  void pause();             // excludes time from the innermost frame until resume() (no-op if paused)
  void resume();            // (no-op if not paused)
  bool running() const;     // this thread has an open frame
  bool paused() const;      // this thread's innermost frame is paused
  TimerGuard<Sktimer> time_this() { return TimerGuard<Sktimer>(*this); }

  // ---- recording ----
  void add_time(double seconds);  // records a measured time (>= 0, finite)
  void reset();                   // forgets every time and every open frame
  void set_max_times(std::optional<std::size_t> n);  // n == 0 throws; trims at once
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  void set_max_times(I n) {
    set_max_times(std::optional<std::size_t>(timer_detail::check_max_times(static_cast<long long>(n))));
  }
  std::optional<std::size_t> max_times() const;

  // ---- statistics (empty optional = no data) ----
  std::size_t num_times() const;
  std::optional<double> most_recent() const;
  std::optional<double> result() const { return most_recent(); }  // the original's alias
  std::optional<std::size_t> most_recent_index() const;
  std::optional<double> total_time() const;
  std::optional<double> total_time_paused() const;
  std::optional<double> mean() const;
  std::optional<double> median() const;
  std::optional<double> min() const;
  std::optional<double> max() const;
  std::optional<std::size_t> fastest_index() const;
  std::optional<std::size_t> slowest_index() const;
  std::optional<double> stdev() const;      // sample, needs >= 2 times
  std::optional<double> variance() const;   // sample, needs >= 2 times
  std::optional<double> percentile(double p) const;  // p in [0, 100], linear interpolation
  std::optional<double> get_time(long i) const;      // i < 0 counts from the end (-1 = last)
  std::vector<double> times() const;                 // oldest first
  TimerStats stats() const;

  // sk::ser / cereal: the recorded data, not the open frames.
  template <class Archive>
  void serialize(Archive& ar) {
    std::lock_guard lk(mu_);
    ar(times_, paused_, max_times_);
  }

 private:
  void record_locked(double seconds, double paused);
  timer_detail::FrameStack& frames_locked();
  template <class F>
  auto with_times(F&& f) const {
    std::lock_guard lk(mu_);
    std::vector<double> v(times_.begin(), times_.end());
    return f(std::span<const double>(v));
  }

  mutable std::mutex mu_;
  std::deque<double> times_;
  std::deque<double> paused_;   // paused seconds of each recorded time
  std::size_t max_times_ = 0;   // 0 = unlimited
  std::unordered_map<std::thread::id, timer_detail::FrameStack> frames_;
};

}  // namespace sk
