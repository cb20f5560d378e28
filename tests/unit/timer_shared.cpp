// SharedTimer (single process): statistics by hand, rolling window over the
// merged buffers, reset, frames, misuse; as a Share member next to circuits
// and a rate limiter.
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include <sk/circuit.hpp>
#include <sk/rate_limiter.hpp>
#include <sk/share.hpp>
#include <sk/slots/timer.hpp>

namespace {

struct TimingState {
  sk::SharedTimer timer;
  sk::SharedTimer small{4, 2};
  sk::BreakingCircuit breaker{3};
  sk::Circuit circuit{2};
  sk::RateLimiter limiter{1000};
};
SK_SHARE(TimingState, timer, small, breaker, circuit, limiter);

TEST(SharedTimer, single_thread_statistics_by_hand) {
  sk::SharedTimer t;
  EXPECT_EQ(t.num_times(), 0u);
  EXPECT_FALSE(t.mean());
  for (double x : {1.0, 2.0, 3.0, 4.0, 10.0}) t.add_time(x);
  EXPECT_EQ(t.num_times(), 5u);
  EXPECT_DOUBLE_EQ(*t.total_time(), 20.0);
  EXPECT_DOUBLE_EQ(*t.mean(), 4.0);
  EXPECT_DOUBLE_EQ(*t.median(), 3.0);
  EXPECT_DOUBLE_EQ(*t.min(), 1.0);
  EXPECT_DOUBLE_EQ(*t.max(), 10.0);
  EXPECT_DOUBLE_EQ(*t.variance(), 12.5);
  EXPECT_DOUBLE_EQ(*t.stdev(), std::sqrt(12.5));
  EXPECT_DOUBLE_EQ(*t.percentile(90), 7.6);
  EXPECT_DOUBLE_EQ(*t.most_recent(), 10.0);
  EXPECT_DOUBLE_EQ(*t.get_time(-2), 4.0);
  EXPECT_DOUBLE_EQ(*t.get_time(0), 1.0);
  EXPECT_EQ(t.stats().num_times, 5u);
  EXPECT_DOUBLE_EQ(*t.to_sktimer().mean(), 4.0);
}

TEST(SharedTimer, single_thread_rolling_window_and_reset) {
  sk::SharedTimer t(4, 2);
  for (int i = 1; i <= 10; ++i) t.add_time(i);
  EXPECT_EQ(t.times(), (std::vector<double>{7, 8, 9, 10}));
  t.set_max_times(2);
  EXPECT_EQ(t.times(), (std::vector<double>{9, 10}));
  t.set_max_times(std::nullopt);
  EXPECT_EQ(t.max_times(), 4u);
  t.reset();
  EXPECT_EQ(t.num_times(), 0u);
  t.add_time(5);
  EXPECT_EQ(t.times(), (std::vector<double>{5}));
}

TEST(SharedTimer, single_thread_frames) {
  sk::SharedTimer t;
  t.start();
  t.pause();
  t.resume();
  EXPECT_GE(t.lap(), 0.0);
  EXPECT_GE(t.stop(), 0.0);
  { auto g = t.time_this(); }
  t.start();
  t.discard();
  EXPECT_FALSE(t.running());
  EXPECT_EQ(t.num_times(), 3u);
}

TEST(SharedTimer, misuse_errors_are_specific) {
  sk::SharedTimer t(8, 1);
  EXPECT_THROW(t.stop(), sk::TimerNotRunning);
  EXPECT_THROW(t.pause(), sk::TimerNotRunning);
  EXPECT_THROW(t.add_time(-1), sk::TimerArgumentError);
  EXPECT_THROW(t.percentile(101), sk::TimerArgumentError);
  EXPECT_THROW(t.set_max_times(0), sk::TimerArgumentError);
  EXPECT_THROW(t.set_max_times(9), sk::TimerArgumentError);  // over capacity
  EXPECT_THROW(sk::SharedTimer(0, 1), sk::TimerArgumentError);
  EXPECT_THROW(sk::SharedTimer(1, 0), sk::TimerArgumentError);
}

TEST(SharedTimer, threads_4_writers_one_process_buffer) {
  sk::SharedTimer t(40'000, 2);
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 5'000; ++k) t.add_time(0.25);
    });
  for (auto& th : ts) th.join();
  EXPECT_EQ(t.num_times(), 20'000u);
  EXPECT_DOUBLE_EQ(*t.total_time(), 5'000.0);
}

TEST(SharedTimer, single_thread_as_share_member_with_circuits) {
  sk::Share<TimingState> share(std::size_t{4} << 20);
  share->timer.add_time(0.5);
  share->small.add_time(1.5);
  EXPECT_DOUBLE_EQ(*share->timer.mean(), 0.5);
  EXPECT_EQ(share->small.capacity(), 4u);
  share->breaker.short_();
  share->circuit.short_();
  share->limiter.acquire();
  const std::string d = share.describe();
  EXPECT_NE(d.find("SharedTimer"), std::string::npos) << d;
  EXPECT_NE(d.find("1 times, mean 0.5s"), std::string::npos) << d;
  EXPECT_NE(d.find("closed times_shorted=1/3"), std::string::npos) << d;
  EXPECT_NE(d.find("RateLimiter"), std::string::npos) << d;
}

}  // namespace
