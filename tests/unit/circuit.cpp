// Circuit and BreakingCircuit, single thread: thresholds, trip counts,
// backoff, reset, misuse errors.
#include <gtest/gtest.h>

#include <sk/circuit.hpp>

namespace {

TEST(Circuit, single_thread_trips_at_threshold_and_auto_resets) {
  sk::Circuit c{3};
  EXPECT_FALSE(c.short_());
  EXPECT_FALSE(c.short_circuit());
  EXPECT_EQ(c.times_shorted(), 2u);
  EXPECT_TRUE(c.short_());
  EXPECT_EQ(c.times_shorted(), 0u);
  EXPECT_EQ(c.total_trips(), 1u);
  for (int i = 0; i < 9; ++i) c.short_();
  EXPECT_EQ(c.total_trips(), 4u);
  EXPECT_EQ(c.times_shorted(), 0u);
  EXPECT_EQ(c.num_shorts_to_trip(), 3u);
}

TEST(Circuit, single_thread_threshold_one_trips_every_short) {
  sk::Circuit c{1};
  EXPECT_TRUE(c.short_());
  EXPECT_TRUE(c.short_());
  EXPECT_EQ(c.total_trips(), 2u);
}

TEST(Circuit, single_thread_trip_and_backoff_capped) {
  sk::Circuit c{100, {.sleep_time_after_trip = 0.001, .backoff_factor = 2.0, .max_sleep_time = 0.004}};
  EXPECT_DOUBLE_EQ(c.current_sleep_time(), 0.001);
  c.short_();
  EXPECT_TRUE(c.trip());
  EXPECT_EQ(c.times_shorted(), 0u);
  EXPECT_EQ(c.total_trips(), 1u);
  EXPECT_DOUBLE_EQ(c.current_sleep_time(), 0.002);
  c.trip();
  EXPECT_DOUBLE_EQ(c.current_sleep_time(), 0.004);
  c.trip(0.0);  // custom sleep; backoff still applies (capped)
  EXPECT_DOUBLE_EQ(c.current_sleep_time(), 0.004);
  c.reset_backoff();
  EXPECT_DOUBLE_EQ(c.current_sleep_time(), 0.001);
  EXPECT_EQ(c.total_trips(), 3u);
}

TEST(Circuit, single_thread_reset_clears_shorts_only) {
  sk::Circuit c{3};
  c.short_();
  c.short_();
  c.reset();
  EXPECT_EQ(c.times_shorted(), 0u);
  EXPECT_FALSE(c.short_());
}

TEST(BreakingCircuit, single_thread_breaks_and_stays_broken) {
  sk::BreakingCircuit b{2};
  EXPECT_FALSE(b.broken());
  EXPECT_FALSE(b.short_());
  EXPECT_TRUE(b.short_());
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.times_shorted(), 0u);
  EXPECT_EQ(b.total_trips(), 1u);  // the original counted 2 (every short)
  EXPECT_FALSE(b.short_());        // ignored while broken
  EXPECT_FALSE(b.short_());
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.total_trips(), 1u);
  EXPECT_EQ(b.times_shorted(), 0u);
}

TEST(BreakingCircuit, single_thread_reset_unbreaks_and_backs_off) {
  sk::BreakingCircuit b{1, {.sleep_time_after_trip = 0.001, .backoff_factor = 3.0, .max_sleep_time = 0.005}};
  b.short_();
  EXPECT_TRUE(b.broken());
  EXPECT_DOUBLE_EQ(b.current_sleep_time(), 0.001);  // no backoff at the trip itself
  b.reset();
  EXPECT_FALSE(b.broken());
  EXPECT_DOUBLE_EQ(b.current_sleep_time(), 0.003);
  b.trip();
  b.reset();
  EXPECT_DOUBLE_EQ(b.current_sleep_time(), 0.005);
  b.reset_backoff();
  EXPECT_DOUBLE_EQ(b.current_sleep_time(), 0.001);
  EXPECT_EQ(b.total_trips(), 2u);
}

TEST(BreakingCircuit, single_thread_trip_counts_even_when_broken) {
  sk::BreakingCircuit b{5};
  EXPECT_TRUE(b.trip());
  EXPECT_TRUE(b.trip());
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.total_trips(), 2u);
}

TEST(BreakingCircuit, single_thread_describe_and_copy) {
  sk::BreakingCircuit b{3, {.sleep_time_after_trip = 0.5}};
  b.short_();
  EXPECT_EQ(b.describe_value(), "closed times_shorted=1/3 total_trips=0 current_sleep_time=0.5s");
  EXPECT_EQ(sk::BreakingCircuit::kind, "BreakingCircuit");
  sk::BreakingCircuit copy = b;
  EXPECT_EQ(copy.times_shorted(), 1u);
  EXPECT_DOUBLE_EQ(copy.sleep_time_after_trip(), 0.5);
}

TEST(Circuit, single_thread_jitter_is_clamped) {
  sk::Circuit c{1, {.jitter = 7.0}};
  EXPECT_DOUBLE_EQ(c.jitter(), 1.0);
  sk::Circuit d{1, {.jitter = -1.0}};
  EXPECT_DOUBLE_EQ(d.jitter(), 0.0);
  sk::Circuit e{1, {.sleep_time_after_trip = 0.001, .jitter = 0.5}};
  EXPECT_TRUE(e.short_());  // sleeps 0.5 .. 1.5 ms
}

TEST(Circuit, misuse_errors_are_specific) {
  EXPECT_THROW(sk::Circuit{0}, sk::CircuitError);
  EXPECT_THROW(sk::BreakingCircuit{-2}, sk::CircuitError);
  EXPECT_THROW((sk::Circuit{1, {.sleep_time_after_trip = -1}}), sk::CircuitError);
  EXPECT_THROW((sk::Circuit{1, {.backoff_factor = 0}}), sk::CircuitError);
  EXPECT_THROW((sk::BreakingCircuit{1, {.max_sleep_time = -0.5}}), sk::CircuitError);
  try {
    sk::BreakingCircuit b{0};
    FAIL();
  } catch (const sk::CircuitError& e) {
    EXPECT_NE(std::string(e.what()).find("num_shorts_to_trip"), std::string::npos) << e.what();
  }
}

}  // namespace
