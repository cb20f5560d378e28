#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <thread>

#include <sk/circuit.hpp>

namespace sk {
namespace circuit_detail {
namespace {

double checked(double v, const char* what, const char* field, bool allow_zero) {
  if (!std::isfinite(v) || v < 0.0 || (!allow_zero && v == 0.0)) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: %s = %g is invalid; it must be a finite number %s", what, field, v,
                  allow_zero ? ">= 0" : "> 0");
    throw CircuitError(buf);
  }
  return v;
}

std::uint32_t checked_threshold(long long n, const char* what) {
  if (n < 1 || n > 0xffff'ffffLL) {
    throw CircuitError(std::string(what) + ": num_shorts_to_trip = " + std::to_string(n) +
                       " is invalid; it must be between 1 and 4294967295 (how many shorts trip the circuit)");
  }
  return static_cast<std::uint32_t>(n);
}

double jittered(double s, double jitter) {
  if (jitter <= 0.0 || s <= 0.0) return s;
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_real_distribution<double> d(1.0 - jitter, 1.0 + jitter);
  return std::max(0.0, s * d(rng));
}

}  // namespace

CircuitCore::CircuitCore(long long n, const CircuitOptions& o, const char* what)
    : num_shorts_(checked_threshold(n, what)),
      sleep0_(checked(o.sleep_time_after_trip, what, "sleep_time_after_trip", true)),
      factor_(checked(o.backoff_factor, what, "backoff_factor", false)),
      max_sleep_(checked(o.max_sleep_time, what, "max_sleep_time", true)),
      jitter_(std::isnan(o.jitter) ? 0.0 : std::clamp(o.jitter, 0.0, 1.0)),
      sleep_bits_(std::bit_cast<std::uint64_t>(sleep0_)) {}

CircuitCore::CircuitCore(const CircuitCore& o) noexcept
    : num_shorts_(o.num_shorts_),
      sleep0_(o.sleep0_),
      factor_(o.factor_),
      max_sleep_(o.max_sleep_),
      jitter_(o.jitter_),
      // SYNC POINT: acquire pairs with update()'s release CAS: the copy sees
      // what the process that broke the circuit published before breaking it.
      state_(o.state_.load(std::memory_order_acquire)),
      sleep_bits_(o.sleep_bits_.load(std::memory_order_relaxed)) {}

void CircuitCore::apply_backoff() noexcept {
  std::uint64_t w = sleep_bits_.load(std::memory_order_relaxed);
  for (;;) {
    const double next = std::min(std::bit_cast<double>(w) * factor_, max_sleep_);
    // Relaxed: the sleep time publishes nothing but itself.
    if (sleep_bits_.compare_exchange_weak(w, std::bit_cast<std::uint64_t>(next), std::memory_order_relaxed)) return;
  }
}

void CircuitCore::sleep_after_trip(std::optional<double> custom, double base) const {
  double s = custom ? *custom : base;
  if (!std::isfinite(s) || s < 0.0) s = 0.0;
  s = jittered(s, jitter_);
  if (s > 0.0) std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

std::string CircuitCore::describe_core() const {
  const State s = load();
  char buf[160];
  std::snprintf(buf, sizeof buf, "times_shorted=%u/%u total_trips=%u current_sleep_time=%gs", s.shorted,
                num_shorts_, s.trips, current_sleep_time());
  return buf;
}

}  // namespace circuit_detail

using circuit_detail::State;

// ---- Circuit ------------------------------------------------------------------
bool Circuit::short_(std::optional<double> custom_sleep) {
  const bool tripped = update([this](State& s) {
    if (s.shorted + 1 >= num_shorts_) {
      s.shorted = 0;
      ++s.trips;
      return true;
    }
    ++s.shorted;
    return false;
  });
  if (tripped) {
    const double sleep = current_sleep_time();
    apply_backoff();
    sleep_after_trip(custom_sleep, sleep);
  }
  return tripped;
}

bool Circuit::trip(std::optional<double> custom_sleep) {
  update([](State& s) {
    s.shorted = 0;
    ++s.trips;
    return true;
  });
  const double sleep = current_sleep_time();
  apply_backoff();
  sleep_after_trip(custom_sleep, sleep);
  return true;
}

void Circuit::reset() noexcept {
  update([](State& s) {
    s.shorted = 0;
    return true;
  });
}

std::string Circuit::describe_value() const { return describe_core(); }

// ---- BreakingCircuit -----------------------------------------------------------
bool BreakingCircuit::short_(std::optional<double> custom_sleep) {
  const bool broke = update([this](State& s) {
    if (s.broken) return false;
    if (s.shorted + 1 >= num_shorts_) {
      s.shorted = 0;
      s.broken = true;
      ++s.trips;
      return true;
    }
    ++s.shorted;
    return false;
  });
  if (broke) sleep_after_trip(custom_sleep, current_sleep_time());
  return broke;
}

bool BreakingCircuit::trip(std::optional<double> custom_sleep) {
  update([](State& s) {
    s.shorted = 0;
    s.broken = true;
    ++s.trips;
    return true;
  });
  sleep_after_trip(custom_sleep, current_sleep_time());
  return true;
}

void BreakingCircuit::reset() noexcept {
  update([](State& s) {
    s.shorted = 0;
    s.broken = false;
    return true;
  });
  apply_backoff();
}

std::string BreakingCircuit::describe_value() const {
  return std::string(broken() ? "broken " : "closed ") + describe_core();
}

}  // namespace sk
