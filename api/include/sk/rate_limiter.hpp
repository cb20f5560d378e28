#pragma once
// sk::RateLimiter: at most `per_second` acquisitions per second, spaced evenly
// (minimum interval 1/per_second between two calls; the first is immediate).
//
// All state is one atomic word (the steady-clock time of the next free slot),
// so the same class works standalone, shared by threads, and as a Share slot:
// `sk::RateLimiter api_limit{10};` in a Share State limits every process
// together. Each caller reserves its slot with one CAS and then sleeps until
// it, holding nothing. steady_clock is CLOCK_MONOTONIC on Linux, one clock
// for every process on the machine.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <sk/core/error.hpp>

namespace sk {

// Misuse of a call modifier or rate limiter (bad count, duration, rate, or a
// modifier set twice on one chain).
class ModifierError : public Error {
 public:
  using Error::Error;
};

class RateLimiter {
 public:
  static constexpr std::string_view kind = "RateLimiter";

  // per_second > 0 (fractions allowed: 0.5 = one call every 2 s). Throws ModifierError.
  explicit RateLimiter(double per_second);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Reserves the next slot and sleeps until it.
  void acquire();
  // Takes the slot only if it is free now; never sleeps.
  bool try_acquire() noexcept;

  double per_second() const noexcept { return 1e9 / static_cast<double>(interval_ns_); }
  std::chrono::nanoseconds interval() const noexcept { return std::chrono::nanoseconds(interval_ns_); }
  std::string describe_value() const;

 private:
  std::int64_t interval_ns_;
  std::atomic<std::int64_t> next_ns_{0};  // steady-clock ns of the next free slot
};

static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::is_standard_layout_v<RateLimiter>);

}  // namespace sk
