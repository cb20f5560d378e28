#pragma once
// Circuit breakers: count failures ("shorts") and trip at a threshold.
//
//   sk::Circuit c{5, {.sleep_time_after_trip = 0.1, .backoff_factor = 2}};
//   if (failed) c.short_();        // the 5th short trips: sleeps 0.1 s, next trip 0.2 s, ...
//
//   sk::BreakingCircuit breaker{3};
//   while (!breaker.broken()) { try { work(); } catch (...) { breaker.short_(); } }
//   breaker.reset();               // the only way out of "broken"
//
// `short` is a C++ keyword, so the original's `short()` is `short_()`, with
// `short_circuit()` as a spelled-out alias.
//
// One class works standalone and as a Share slot: every piece of mutable state
// is one atomic word (no locks, no pointers), so `sk::BreakingCircuit breaker{3};`
// can be a member of a Share State struct and then every process counts
// toward one threshold and sees the same `broken` flag.
//
// Concurrency: shorts, trips and resets are compare-and-swap loops on one
// packed 64-bit word {times_shorted:32, broken:1, total_trips:31}, so exactly
// one caller crosses each threshold (and only that caller sleeps). Sleeping
// happens after the state change, holding nothing.
//
// Fixes against the original: `total_trips` counts trips, not shorts (the
// original's BreakingCircuit counted every short); shorts on an already broken
// BreakingCircuit are ignored (return false) so that processes racing past the
// threshold do not trip it again.
#include <atomic>
#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <sk/core/error.hpp>

namespace sk {

// Invalid circuit parameters (num_shorts_to_trip < 1, negative sleep, ...).
class CircuitError : public Error {
 public:
  using Error::Error;
};

struct CircuitOptions {
  double sleep_time_after_trip = 0.0;  // seconds slept by the caller that trips
  double backoff_factor = 1.0;         // sleep multiplier applied per trip (Circuit) / per reset (Breaking)
  double max_sleep_time = 10.0;        // cap for the backed-off sleep
  double jitter = 0.0;                 // clamped to [0, 1]; sleep drawn from sleep * (1 +- jitter)
};

namespace circuit_detail {

// Packed state word.
struct State {
  std::uint32_t shorted = 0;
  bool broken = false;
  std::uint32_t trips = 0;  // 31 bits (wraps after 2^31 trips)

  static State unpack(std::uint64_t w) noexcept {
    return {static_cast<std::uint32_t>(w), ((w >> 32) & 1u) != 0,
            static_cast<std::uint32_t>(w >> 33)};
  }
  std::uint64_t pack() const noexcept {
    return std::uint64_t{shorted} | (std::uint64_t{broken} << 32) |
           (std::uint64_t{trips & 0x7fff'ffffu} << 33);
  }
};

// The data both circuits keep. Constants are written once by the constructor
// (before the object is shared); everything that changes is an atomic word.
class CircuitCore {
 public:
  CircuitCore(long long num_shorts_to_trip, const CircuitOptions& o, const char* what);
  CircuitCore(const CircuitCore& o) noexcept;  // snapshot of the atomic state
  CircuitCore& operator=(const CircuitCore&) = delete;

  std::uint32_t num_shorts_to_trip() const noexcept { return num_shorts_; }
  std::uint32_t times_shorted() const noexcept { return load().shorted; }
  std::uint32_t total_trips() const noexcept { return load().trips; }
  double current_sleep_time() const noexcept {
    return std::bit_cast<double>(sleep_bits_.load(std::memory_order_relaxed));
  }
  double sleep_time_after_trip() const noexcept { return sleep0_; }
  double backoff_factor() const noexcept { return factor_; }
  double max_sleep_time() const noexcept { return max_sleep_; }
  double jitter() const noexcept { return jitter_; }

  // current_sleep_time = sleep_time_after_trip.
  void reset_backoff() noexcept {
    sleep_bits_.store(std::bit_cast<std::uint64_t>(sleep0_), std::memory_order_relaxed);
  }

 protected:
  State load() const noexcept {
    // SYNC POINT: acquire pairs with the release CAS in update(): a process that
    // sees broken=1 also sees whatever the breaking process published before it
    // called short_()/trip().
    return State::unpack(state_.load(std::memory_order_acquire));
  }
  // CAS loop: next(State&) edits a copy and returns a result; retried until
  // the CAS wins. Returns the result of the winning attempt.
  template <class Next>
  auto update(Next&& next) noexcept {
    // SYNC POINT: acquire pairs with the release CAS of the previous update:
    // next() starts from the winner's state and sees what it published.
    std::uint64_t w = state_.load(std::memory_order_acquire);
    for (;;) {
      State s = State::unpack(w);
      auto r = next(s);
      // SYNC POINT: release publishes the caller's prior writes with the new
      // state; acquire on failure re-reads the winner's state. Exactly one CAS
      // moves shorted across the threshold, so exactly one caller trips.
      if (state_.compare_exchange_weak(w, s.pack(), std::memory_order_acq_rel, std::memory_order_acquire)) {
        return r;
      }
    }
  }
  // current = min(current * factor, max), atomically.
  void apply_backoff() noexcept;
  // Sleeps `custom` or `base` seconds with jitter; holds nothing.
  void sleep_after_trip(std::optional<double> custom, double base) const;
  std::string describe_core() const;

  std::uint32_t num_shorts_;
  double sleep0_;
  double factor_;
  double max_sleep_;
  double jitter_;
  std::atomic<std::uint64_t> state_{0};
  std::atomic<std::uint64_t> sleep_bits_;
};

}  // namespace circuit_detail

// Auto-resetting breaker: the short that reaches the threshold trips it (counts
// a trip, zeroes times_shorted, sleeps, applies the backoff) and it is ready
// again at once.
class Circuit : public circuit_detail::CircuitCore {
 public:
  static constexpr std::string_view kind = "Circuit";

  explicit Circuit(long long num_shorts_to_trip, const CircuitOptions& o = {})
      : CircuitCore(num_shorts_to_trip, o, "Circuit") {}

  // Counts a failure. Returns true if this call tripped the circuit (and slept
  // `custom_sleep` seconds or current_sleep_time()).
  bool short_(std::optional<double> custom_sleep = std::nullopt);
  bool short_circuit(std::optional<double> custom_sleep = std::nullopt) { return short_(custom_sleep); }
  // Trips now (counts a trip, zeroes times_shorted, sleeps, backs off). Returns true.
  bool trip(std::optional<double> custom_sleep = std::nullopt);
  // Zeroes times_shorted (total_trips and the sleep time stay).
  void reset() noexcept;

  std::string describe_value() const;
};

// Breaker that stays broken: the short that reaches the threshold breaks it
// (counts a trip, zeroes times_shorted, sleeps) and it stays broken, for every
// process sharing it, until reset(). reset() applies the backoff.
class BreakingCircuit : public circuit_detail::CircuitCore {
 public:
  static constexpr std::string_view kind = "BreakingCircuit";

  explicit BreakingCircuit(long long num_shorts_to_trip, const CircuitOptions& o = {})
      : CircuitCore(num_shorts_to_trip, o, "BreakingCircuit") {}

  // Counts a failure. Returns true if this call broke the circuit (and slept).
  // Ignored (returns false, no sleep) while the circuit is broken.
  bool short_(std::optional<double> custom_sleep = std::nullopt);
  bool short_circuit(std::optional<double> custom_sleep = std::nullopt) { return short_(custom_sleep); }
  // Breaks now: counts a trip (even if already broken), zeroes times_shorted, sleeps. Returns true.
  bool trip(std::optional<double> custom_sleep = std::nullopt);
  // Unbreaks, zeroes times_shorted, then current_sleep_time *= backoff_factor (capped).
  void reset() noexcept;
  bool broken() const noexcept { return load().broken; }

  std::string describe_value() const;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<Circuit> && std::is_standard_layout_v<BreakingCircuit>);
static_assert(!std::is_polymorphic_v<Circuit> && !std::is_polymorphic_v<BreakingCircuit>);

}  // namespace sk
