// A BreakingCircuit in a Share: the short that breaks it sleeps
// sleep_time_after_trip in the process that made it (the Python original
// skipped that sleep inside a Share), shorts while it is broken return at once
// without sleeping, and reset() applies the backoff for everyone.
#include <gtest/gtest.h>

#include <chrono>

#include <sk/circuit.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>

#include "share_procs.hpp"

namespace {

struct State {
  sk::BreakingCircuit breaker{2, {.sleep_time_after_trip = 0.3, .backoff_factor = 2}};
  sk::Atomic<long> trip_ms;        // how long the breaking short took, in its process
  sk::Atomic<long> late_ms;        // how long a short while broken took
  sk::Atomic<int> late_returned;   // what it returned (0/1)
};
SK_SHARE(State, breaker, trip_ms, late_ms, late_returned);

long ms_since(std::chrono::steady_clock::time_point t0) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
}

}  // namespace

TEST(BreakingCircuitShared, procs_breaking_short_sleeps_in_its_process_later_shorts_do_not) {
  sk::Share<State> share;
  ASSERT_FALSE(share->breaker.short_());  // 1 of 2: no trip, no sleep
  // Another process makes the breaking short.
  ASSERT_TRUE(sktest::run_children(1, [&](int) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool broke = share->breaker.short_();
    share->trip_ms = ms_since(t0);
    return broke;
  }));
  EXPECT_TRUE(share->breaker.broken());
  EXPECT_EQ(share->breaker.total_trips(), 1u);
  EXPECT_GE(share->trip_ms.load(), 290) << "the breaking short must sleep sleep_time_after_trip (0.3 s)";
  EXPECT_LT(share->trip_ms.load(), 3000);
  // A third process shorts while it is broken: ignored, immediately.
  ASSERT_TRUE(sktest::run_children(1, [&](int) {
    const auto t0 = std::chrono::steady_clock::now();
    share->late_returned = share->breaker.short_() ? 1 : 0;
    share->late_ms = ms_since(t0);
    return true;
  }));
  EXPECT_EQ(share->late_returned.load(), 0);
  EXPECT_LT(share->late_ms.load(), 100);
  // reset() (any process) unbreaks and backs off: the next break sleeps 0.6 s.
  share->breaker.reset();
  EXPECT_FALSE(share->breaker.broken());
  EXPECT_DOUBLE_EQ(share->breaker.current_sleep_time(), 0.6);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(share->breaker.short_());
  EXPECT_TRUE(share->breaker.short_(0.05));  // a custom sleep replaces the current one
  EXPECT_GE(ms_since(t0), 45);
  EXPECT_LT(ms_since(t0), 550);
}
