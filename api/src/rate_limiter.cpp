#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include <sk/rate_limiter.hpp>

namespace sk {
namespace {

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t interval_for(double per_second) {
  if (!std::isfinite(per_second) || per_second <= 0.0 || 1e9 / per_second < 1.0) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "rate_limit(%g): calls per second must be a finite number > 0 and <= 1e9 "
                  "(0.5 = one call every 2 seconds)",
                  per_second);
    throw ModifierError(buf);
  }
  return static_cast<std::int64_t>(std::llround(1e9 / per_second));
}

}  // namespace

RateLimiter::RateLimiter(double per_second) : interval_ns_(interval_for(per_second)) {}

void RateLimiter::acquire() {
  const std::int64_t now = now_ns();
  std::int64_t next = next_ns_.load(std::memory_order_relaxed);
  std::int64_t slot = 0;
  // Relaxed: the word orders calls in time and publishes no other data; each
  // successful CAS hands out a distinct slot.
  do {
    slot = std::max(next, now);
  } while (!next_ns_.compare_exchange_weak(next, slot + interval_ns_, std::memory_order_relaxed));
  if (slot > now) std::this_thread::sleep_for(std::chrono::nanoseconds(slot - now));
}

bool RateLimiter::try_acquire() noexcept {
  const std::int64_t now = now_ns();
  std::int64_t next = next_ns_.load(std::memory_order_relaxed);
  while (next <= now) {
    if (next_ns_.compare_exchange_weak(next, now + interval_ns_, std::memory_order_relaxed)) return true;
  }
  return false;
}

std::string RateLimiter::describe_value() const {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%g/s", per_second());
  return buf;
}

}  // namespace sk
