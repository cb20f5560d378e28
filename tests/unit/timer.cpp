// Sktimer: every statistic against values computed by hand, rolling window,
// negative get_time, per-thread frames, misuse errors.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include <sk/timer.hpp>

namespace {

// {1, 2, 3, 4, 10}: sum 20, mean 4, median 3, deviations -3 -2 -1 0 6,
// squared 9+4+1+0+36 = 50, sample variance 50/4 = 12.5.
sk::Sktimer five() {
  sk::Sktimer t;
  for (double x : {1.0, 2.0, 3.0, 4.0, 10.0}) t.add_time(x);
  return t;
}

TEST(Sktimer, single_thread_empty_timer_has_no_statistics) {
  sk::Sktimer t;
  EXPECT_EQ(t.num_times(), 0u);
  EXPECT_FALSE(t.most_recent());
  EXPECT_FALSE(t.total_time());
  EXPECT_FALSE(t.mean());
  EXPECT_FALSE(t.median());
  EXPECT_FALSE(t.min());
  EXPECT_FALSE(t.max());
  EXPECT_FALSE(t.stdev());
  EXPECT_FALSE(t.variance());
  EXPECT_FALSE(t.percentile(50));
  EXPECT_FALSE(t.get_time(0));
  EXPECT_FALSE(t.get_time(-1));
  EXPECT_FALSE(t.stats().mean);
}

TEST(Sktimer, single_thread_statistics_by_hand) {
  auto t = five();
  EXPECT_EQ(t.num_times(), 5u);
  EXPECT_DOUBLE_EQ(*t.most_recent(), 10.0);
  EXPECT_DOUBLE_EQ(*t.result(), 10.0);
  EXPECT_EQ(*t.most_recent_index(), 4u);
  EXPECT_DOUBLE_EQ(*t.total_time(), 20.0);
  EXPECT_DOUBLE_EQ(*t.mean(), 4.0);
  EXPECT_DOUBLE_EQ(*t.median(), 3.0);
  EXPECT_DOUBLE_EQ(*t.min(), 1.0);
  EXPECT_DOUBLE_EQ(*t.max(), 10.0);
  EXPECT_EQ(*t.fastest_index(), 0u);
  EXPECT_EQ(*t.slowest_index(), 4u);
  EXPECT_DOUBLE_EQ(*t.variance(), 12.5);
  EXPECT_DOUBLE_EQ(*t.stdev(), std::sqrt(12.5));
  EXPECT_DOUBLE_EQ(*t.total_time_paused(), 0.0);
}

TEST(Sktimer, single_thread_median_of_even_count_is_mean_of_middle_two) {
  sk::Sktimer t;
  for (double x : {4.0, 1.0, 3.0, 2.0}) t.add_time(x);
  EXPECT_DOUBLE_EQ(*t.median(), 2.5);
}

TEST(Sktimer, single_thread_percentile_linear_interpolation) {
  auto t = five();  // sorted 1 2 3 4 10, idx = p/100 * 4
  EXPECT_DOUBLE_EQ(*t.percentile(0), 1.0);
  EXPECT_DOUBLE_EQ(*t.percentile(25), 2.0);        // idx 1
  EXPECT_DOUBLE_EQ(*t.percentile(50), 3.0);        // idx 2
  EXPECT_DOUBLE_EQ(*t.percentile(90), 7.6);        // idx 3.6: 4 + 0.6 * 6
  EXPECT_DOUBLE_EQ(*t.percentile(12.5), 1.5);      // idx 0.5
  EXPECT_DOUBLE_EQ(*t.percentile(100), 10.0);
}

TEST(Sktimer, single_thread_stdev_needs_two_values) {
  sk::Sktimer t;
  t.add_time(2.0);
  EXPECT_FALSE(t.stdev());
  EXPECT_FALSE(t.variance());
  EXPECT_DOUBLE_EQ(*t.percentile(37), 2.0);
  t.add_time(4.0);
  EXPECT_DOUBLE_EQ(*t.variance(), 2.0);  // (1 + 1) / 1
}

TEST(Sktimer, single_thread_get_time_negative_counts_from_end) {
  auto t = five();
  EXPECT_DOUBLE_EQ(*t.get_time(0), 1.0);
  EXPECT_DOUBLE_EQ(*t.get_time(4), 10.0);
  EXPECT_DOUBLE_EQ(*t.get_time(-1), 10.0);
  EXPECT_DOUBLE_EQ(*t.get_time(-5), 1.0);
  EXPECT_FALSE(t.get_time(5));
  EXPECT_FALSE(t.get_time(-6));
}

TEST(Sktimer, single_thread_rolling_window_keeps_most_recent) {
  sk::Sktimer t(3);
  for (int i = 1; i <= 6; ++i) t.add_time(i);
  EXPECT_EQ(t.num_times(), 3u);
  EXPECT_DOUBLE_EQ(*t.get_time(0), 4.0);
  EXPECT_DOUBLE_EQ(*t.total_time(), 15.0);
  t.set_max_times(2);  // trims at once
  EXPECT_EQ(t.times(), (std::vector<double>{5.0, 6.0}));
  t.set_max_times(std::nullopt);
  for (int i = 0; i < 10; ++i) t.add_time(1);
  EXPECT_EQ(t.num_times(), 12u);
  EXPECT_FALSE(t.max_times());
}

TEST(Sktimer, single_thread_stats_snapshot_matches) {
  auto t = five();
  const auto s = t.stats();
  t.add_time(100);  // snapshot is frozen
  EXPECT_EQ(s.num_times, 5u);
  EXPECT_DOUBLE_EQ(*s.mean, 4.0);
  EXPECT_DOUBLE_EQ(*s.median, 3.0);
  EXPECT_DOUBLE_EQ(*s.min, 1.0);
  EXPECT_DOUBLE_EQ(*s.max, 10.0);
  EXPECT_DOUBLE_EQ(*s.variance, 12.5);
  EXPECT_DOUBLE_EQ(*s.percentile(90), 7.6);
  EXPECT_DOUBLE_EQ(*s.get_time(-2), 4.0);
  EXPECT_EQ(*s.most_recent_index, 4u);
}

TEST(Sktimer, single_thread_start_stop_records_elapsed) {
  sk::Sktimer t;
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const double s = t.stop();
  EXPECT_GE(s, 0.002);
  EXPECT_LT(s, 5.0);  // generous: "did not count wrongly"
  EXPECT_EQ(t.num_times(), 1u);
  EXPECT_DOUBLE_EQ(*t.most_recent(), s);
  EXPECT_FALSE(t.running());
}

TEST(Sktimer, single_thread_pause_excludes_time) {
  sk::Sktimer t;
  t.start();
  t.pause();
  EXPECT_TRUE(t.paused());
  t.pause();  // idempotent
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  t.resume();
  t.resume();  // idempotent
  const double s = t.stop();
  EXPECT_LT(s, 0.020);
  EXPECT_GE(*t.total_time_paused(), 0.020);
}

TEST(Sktimer, single_thread_lap_records_and_restarts) {
  sk::Sktimer t;
  t.start();
  t.lap();
  t.lap();
  EXPECT_TRUE(t.running());
  t.stop();
  EXPECT_EQ(t.num_times(), 3u);
}

TEST(Sktimer, single_thread_discard_records_nothing) {
  sk::Sktimer t;
  t.start();
  t.discard();
  EXPECT_EQ(t.num_times(), 0u);
  EXPECT_FALSE(t.running());
}

TEST(Sktimer, single_thread_nested_frames_stop_innermost_first) {
  sk::Sktimer t;
  t.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  t.start();
  const double inner = t.stop();
  const double outer = t.stop();
  EXPECT_LT(inner, outer);
  EXPECT_EQ(t.num_times(), 2u);
}

TEST(Sktimer, single_thread_time_this_guard) {
  sk::Sktimer t;
  { auto g = t.time_this(); }
  EXPECT_EQ(t.num_times(), 1u);
  {
    auto g = t.time_this();
    g.discard();
  }
  EXPECT_EQ(t.num_times(), 1u);
  {
    auto g = t.time_this();
    g.pause();
    g.resume();
    EXPECT_GE(g.stop(), 0.0);
  }
  EXPECT_EQ(t.num_times(), 2u);
}

TEST(Sktimer, single_thread_reset_forgets_everything) {
  auto t = five();
  t.start();
  t.reset();
  EXPECT_EQ(t.num_times(), 0u);
  EXPECT_FALSE(t.running());
  EXPECT_THROW(t.stop(), sk::TimerNotRunning);
}

TEST(Sktimer, misuse_errors_are_specific) {
  sk::Sktimer t;
  EXPECT_THROW(t.stop(), sk::TimerNotRunning);
  EXPECT_THROW(t.lap(), sk::TimerNotRunning);
  EXPECT_THROW(t.discard(), sk::TimerNotRunning);
  EXPECT_THROW(t.pause(), sk::TimerNotRunning);
  EXPECT_THROW(t.resume(), sk::TimerNotRunning);
  EXPECT_THROW(t.percentile(-0.1), sk::TimerArgumentError);
  EXPECT_THROW(t.percentile(100.5), sk::TimerArgumentError);
  EXPECT_THROW(t.percentile(std::nan("")), sk::TimerArgumentError);
  EXPECT_THROW(t.set_max_times(0), sk::TimerArgumentError);
  EXPECT_THROW(t.set_max_times(-3), sk::TimerArgumentError);
  EXPECT_THROW(sk::Sktimer(std::optional<std::size_t>(0)), sk::TimerArgumentError);
  EXPECT_THROW(t.add_time(-1.0), sk::TimerArgumentError);
  EXPECT_THROW(t.add_time(INFINITY), sk::TimerArgumentError);
  try {
    t.stop();
    FAIL();
  } catch (const sk::TimerError& e) {
    EXPECT_NE(std::string(e.what()).find("start()"), std::string::npos) << e.what();
  }
}

TEST(Sktimer, threads_2_frames_are_per_thread) {
  sk::Sktimer t;
  t.start();
  std::thread other([&] {
    EXPECT_FALSE(t.running());                           // main's frame is not ours
    EXPECT_THROW(t.stop(), sk::TimerNotRunning);
    t.start();
    t.stop();
  });
  other.join();
  EXPECT_TRUE(t.running());
  t.stop();
  EXPECT_EQ(t.num_times(), 2u);  // pooled across threads
}

TEST(Sktimer, single_thread_copy_and_move_keep_times) {
  auto t = five();
  sk::Sktimer c = t;
  EXPECT_EQ(c.num_times(), 5u);
  c.add_time(1);
  EXPECT_EQ(t.num_times(), 5u);
  sk::Sktimer m = std::move(c);
  EXPECT_EQ(m.num_times(), 6u);
  sk::Sktimer w(2);
  w = t;
  EXPECT_DOUBLE_EQ(*w.mean(), 4.0);
}

}  // namespace
