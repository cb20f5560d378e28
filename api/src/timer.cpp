#include <algorithm>
#include <cmath>
#include <string>

#include <sk/timer.hpp>

namespace sk {
namespace timer_detail {

using Clock = std::chrono::steady_clock;

static double seconds(Clock::duration d) noexcept { return std::chrono::duration<double>(d).count(); }

std::optional<double> sum(std::span<const double> v) noexcept {
  if (v.empty()) return std::nullopt;
  double s = 0;
  for (double x : v) s += x;
  return s;
}

std::optional<double> mean(std::span<const double> v) noexcept {
  if (v.empty()) return std::nullopt;
  return *sum(v) / static_cast<double>(v.size());
}

std::optional<double> median(std::span<const double> v) {
  if (v.empty()) return std::nullopt;
  std::vector<double> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());
  const std::size_t n = s.size();
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
}

std::optional<double> variance(std::span<const double> v) noexcept {
  if (v.size() < 2) return std::nullopt;
  const double m = *mean(v);
  double acc = 0;
  for (double x : v) acc += (x - m) * (x - m);
  return acc / static_cast<double>(v.size() - 1);
}

std::optional<double> stdev(std::span<const double> v) noexcept {
  auto var = variance(v);
  if (!var) return std::nullopt;
  return std::sqrt(*var);
}

std::optional<double> percentile(std::span<const double> v, double p) {
  if (!(p >= 0.0 && p <= 100.0)) {
    throw TimerArgumentError("percentile(" + std::to_string(p) +
                             "): p must be in [0, 100] (e.g. 50 for the median, 95 for p95)");
  }
  if (v.empty()) return std::nullopt;
  std::vector<double> s(v.begin(), v.end());
  std::sort(s.begin(), s.end());
  const double idx = p / 100.0 * static_cast<double>(s.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(idx));
  const std::size_t hi = std::min(lo + 1, s.size() - 1);
  const double frac = idx - static_cast<double>(lo);
  return s[lo] + (s[hi] - s[lo]) * frac;
}

std::optional<double> get_time(std::span<const double> v, long i) noexcept {
  const long n = static_cast<long>(v.size());
  const long k = i < 0 ? n + i : i;
  if (k < 0 || k >= n) return std::nullopt;
  return v[static_cast<std::size_t>(k)];
}

std::optional<std::size_t> index_of_min(std::span<const double> v) noexcept {
  if (v.empty()) return std::nullopt;
  return static_cast<std::size_t>(std::min_element(v.begin(), v.end()) - v.begin());
}

std::optional<std::size_t> index_of_max(std::span<const double> v) noexcept {
  if (v.empty()) return std::nullopt;
  return static_cast<std::size_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

void check_time(double s) {
  if (!std::isfinite(s) || s < 0.0) {
    throw TimerArgumentError("add_time(" + std::to_string(s) +
                             "): a time must be a finite number of seconds >= 0");
  }
}

std::size_t check_max_times(long long n) {
  if (n <= 0) {
    throw TimerArgumentError("set_max_times(" + std::to_string(n) +
                             "): the window must hold at least 1 time; pass std::nullopt to keep all");
  }
  return static_cast<std::size_t>(n);
}

// ---- FrameStack ------------------------------------------------------------
double FrameStack::start() {
  const auto now = Clock::now();
  frames_.push_back(Frame{now, {}, std::nullopt});
  return seconds(now.time_since_epoch());
}

Frame& FrameStack::top(const char* what, const char* op) {
  if (frames_.empty()) {
    throw TimerNotRunning(std::string(what) + "::" + op +
                          "(): this thread has no running timing; call start() first "
                          "(frames are per thread: a start() on another thread does not count)");
  }
  return frames_.back();
}

static FrameStack::Closed close(Frame& f, Clock::time_point now) {
  auto paused = f.paused;
  if (f.paused_at) paused += now - *f.paused_at;
  const auto elapsed = (now - f.start) - paused;
  return {std::max(0.0, seconds(elapsed)), seconds(paused)};
}

FrameStack::Closed FrameStack::stop(const char* what) {
  Frame& f = top(what, "stop");
  const auto c = close(f, Clock::now());
  frames_.pop_back();
  return c;
}

FrameStack::Closed FrameStack::lap(const char* what) {
  Frame& f = top(what, "lap");
  const auto now = Clock::now();
  const auto c = close(f, now);
  f = Frame{now, {}, std::nullopt};
  return c;
}

void FrameStack::discard(const char* what) {
  top(what, "discard");
  frames_.pop_back();
}

void FrameStack::pause(const char* what) {
  Frame& f = top(what, "pause");
  if (!f.paused_at) f.paused_at = Clock::now();
}

void FrameStack::resume(const char* what) {
  Frame& f = top(what, "resume");
  if (f.paused_at) {
    f.paused += Clock::now() - *f.paused_at;
    f.paused_at.reset();
  }
}

}  // namespace timer_detail

// ---- TimerStats -------------------------------------------------------------
TimerStats TimerStats::from(std::vector<double> times, double total_paused) {
  namespace d = timer_detail;
  TimerStats s;
  const std::span<const double> v(times);
  s.num_times = times.size();
  s.most_recent = d::get_time(v, -1);
  if (!times.empty()) {
    s.most_recent_index = times.size() - 1;
    s.total_time_paused = total_paused;
  }
  s.total_time = d::sum(v);
  s.mean = d::mean(v);
  s.median = d::median(v);
  s.fastest_index = d::index_of_min(v);
  s.slowest_index = d::index_of_max(v);
  if (s.fastest_index) s.min = times[*s.fastest_index];
  if (s.slowest_index) s.max = times[*s.slowest_index];
  s.variance = d::variance(v);
  s.stdev = d::stdev(v);
  s.times = std::move(times);
  return s;
}

std::optional<double> TimerStats::percentile(double p) const { return timer_detail::percentile(times, p); }
std::optional<double> TimerStats::get_time(long i) const noexcept { return timer_detail::get_time(times, i); }

// ---- Sktimer ----------------------------------------------------------------
namespace {
constexpr const char* kName = "Sktimer";
}

Sktimer::Sktimer(std::optional<std::size_t> max_times) { set_max_times(max_times); }

Sktimer::Sktimer(const Sktimer& o) {
  std::lock_guard lk(o.mu_);
  times_ = o.times_;
  paused_ = o.paused_;
  max_times_ = o.max_times_;
}

Sktimer& Sktimer::operator=(const Sktimer& o) {
  if (this == &o) return *this;
  std::scoped_lock lk(mu_, o.mu_);
  times_ = o.times_;
  paused_ = o.paused_;
  max_times_ = o.max_times_;
  return *this;
}

Sktimer::Sktimer(Sktimer&& o) noexcept {
  std::lock_guard lk(o.mu_);
  times_ = std::move(o.times_);
  paused_ = std::move(o.paused_);
  max_times_ = o.max_times_;
  frames_ = std::move(o.frames_);
}

Sktimer& Sktimer::operator=(Sktimer&& o) noexcept {
  if (this == &o) return *this;
  std::scoped_lock lk(mu_, o.mu_);
  times_ = std::move(o.times_);
  paused_ = std::move(o.paused_);
  max_times_ = o.max_times_;
  frames_ = std::move(o.frames_);
  return *this;
}

timer_detail::FrameStack& Sktimer::frames_locked() { return frames_[std::this_thread::get_id()]; }

void Sktimer::record_locked(double s, double paused) {
  times_.push_back(s);
  paused_.push_back(paused);
  while (max_times_ != 0 && times_.size() > max_times_) {
    times_.pop_front();
    paused_.pop_front();
  }
}

double Sktimer::start() {
  std::lock_guard lk(mu_);
  return frames_locked().start();
}

double Sktimer::stop() {
  std::lock_guard lk(mu_);
  auto& fs = frames_locked();
  const auto c = fs.stop(kName);
  if (!fs.running()) frames_.erase(std::this_thread::get_id());
  record_locked(c.elapsed, c.paused);
  return c.elapsed;
}

double Sktimer::lap() {
  std::lock_guard lk(mu_);
  const auto c = frames_locked().lap(kName);
  record_locked(c.elapsed, c.paused);
  return c.elapsed;
}

void Sktimer::discard() {
  std::lock_guard lk(mu_);
  auto& fs = frames_locked();
  fs.discard(kName);
  if (!fs.running()) frames_.erase(std::this_thread::get_id());
}

void Sktimer::pause() {
  std::lock_guard lk(mu_);
  frames_locked().pause(kName);
}

void Sktimer::resume() {
  std::lock_guard lk(mu_);
  frames_locked().resume(kName);
}

bool Sktimer::running() const {
  std::lock_guard lk(mu_);
  auto it = frames_.find(std::this_thread::get_id());
  return it != frames_.end() && it->second.running();
}

bool Sktimer::paused() const {
  std::lock_guard lk(mu_);
  auto it = frames_.find(std::this_thread::get_id());
  return it != frames_.end() && it->second.paused();
}

void Sktimer::add_time(double seconds) {
  timer_detail::check_time(seconds);
  std::lock_guard lk(mu_);
  record_locked(seconds, 0.0);
}

void Sktimer::reset() {
  std::lock_guard lk(mu_);
  times_.clear();
  paused_.clear();
  frames_.clear();
}

void Sktimer::set_max_times(std::optional<std::size_t> n) {
  if (n && *n == 0) timer_detail::check_max_times(0);
  std::lock_guard lk(mu_);
  max_times_ = n.value_or(0);
  while (max_times_ != 0 && times_.size() > max_times_) {
    times_.pop_front();
    paused_.pop_front();
  }
}

std::optional<std::size_t> Sktimer::max_times() const {
  std::lock_guard lk(mu_);
  if (max_times_ == 0) return std::nullopt;
  return max_times_;
}

std::size_t Sktimer::num_times() const {
  std::lock_guard lk(mu_);
  return times_.size();
}

std::optional<double> Sktimer::most_recent() const {
  std::lock_guard lk(mu_);
  if (times_.empty()) return std::nullopt;
  return times_.back();
}

std::optional<std::size_t> Sktimer::most_recent_index() const {
  std::lock_guard lk(mu_);
  if (times_.empty()) return std::nullopt;
  return times_.size() - 1;
}

std::optional<double> Sktimer::total_time() const {
  return with_times([](auto v) { return timer_detail::sum(v); });
}

std::optional<double> Sktimer::total_time_paused() const {
  std::lock_guard lk(mu_);
  if (paused_.empty()) return std::nullopt;
  double s = 0;
  for (double p : paused_) s += p;
  return s;
}

std::optional<double> Sktimer::mean() const {
  return with_times([](auto v) { return timer_detail::mean(v); });
}
std::optional<double> Sktimer::median() const {
  return with_times([](auto v) { return timer_detail::median(v); });
}
std::optional<double> Sktimer::min() const {
  return with_times([](auto v) -> std::optional<double> {
    auto i = timer_detail::index_of_min(v);
    if (!i) return std::nullopt;
    return v[*i];
  });
}
std::optional<double> Sktimer::max() const {
  return with_times([](auto v) -> std::optional<double> {
    auto i = timer_detail::index_of_max(v);
    if (!i) return std::nullopt;
    return v[*i];
  });
}
std::optional<std::size_t> Sktimer::fastest_index() const {
  return with_times([](auto v) { return timer_detail::index_of_min(v); });
}
std::optional<std::size_t> Sktimer::slowest_index() const {
  return with_times([](auto v) { return timer_detail::index_of_max(v); });
}
std::optional<double> Sktimer::stdev() const {
  return with_times([](auto v) { return timer_detail::stdev(v); });
}
std::optional<double> Sktimer::variance() const {
  return with_times([](auto v) { return timer_detail::variance(v); });
}
std::optional<double> Sktimer::percentile(double p) const {
  return with_times([p](auto v) { return timer_detail::percentile(v, p); });
}
std::optional<double> Sktimer::get_time(long i) const {
  std::lock_guard lk(mu_);
  const long n = static_cast<long>(times_.size());
  const long k = i < 0 ? n + i : i;
  if (k < 0 || k >= n) return std::nullopt;
  return times_[static_cast<std::size_t>(k)];
}

std::vector<double> Sktimer::times() const {
  std::lock_guard lk(mu_);
  return {times_.begin(), times_.end()};
}

TimerStats Sktimer::stats() const {
  std::vector<double> v;
  double paused = 0;
  {
    std::lock_guard lk(mu_);
    v.assign(times_.begin(), times_.end());
    for (double p : paused_) paused += p;
  }
  return TimerStats::from(std::move(v), paused);
}

}  // namespace sk
