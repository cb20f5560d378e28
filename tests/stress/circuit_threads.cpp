// Circuits and Sktimer under thread contention (run under TSan): exact trip
// counts, one break seen by every thread, pooled timer samples.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include <sk/circuit.hpp>
#include <sk/timer.hpp>

namespace {

constexpr int kThreads = 4;

template <class F>
void run_threads(int n, F f) {
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) ts.emplace_back(f, i);
  for (auto& t : ts) t.join();
}

TEST(Circuit, threads_4_shorters_exact_trip_count) {
  constexpr int kShortsEach = 20'000;
  constexpr int kThreshold = 7;
  sk::Circuit c{kThreshold};
  std::atomic<int> tripped_calls{0};
  run_threads(kThreads, [&](int) {
    for (int i = 0; i < kShortsEach; ++i)
      if (c.short_()) tripped_calls.fetch_add(1, std::memory_order_relaxed);
  });
  constexpr int kTotal = kThreads * kShortsEach;
  EXPECT_EQ(c.total_trips(), static_cast<std::uint32_t>(kTotal / kThreshold));
  EXPECT_EQ(tripped_calls.load(), kTotal / kThreshold);
  EXPECT_EQ(c.times_shorted(), static_cast<std::uint32_t>(kTotal % kThreshold));
}

TEST(BreakingCircuit, threads_4_shorters_break_exactly_once) {
  sk::BreakingCircuit b{1000};
  std::atomic<int> broke_calls{0};
  run_threads(kThreads, [&](int) {
    for (int i = 0; i < 10'000; ++i)
      if (b.short_()) broke_calls.fetch_add(1, std::memory_order_relaxed);
  });
  EXPECT_TRUE(b.broken());
  EXPECT_EQ(b.total_trips(), 1u);
  EXPECT_EQ(broke_calls.load(), 1);
}

TEST(BreakingCircuit, threads_1breaker_3watchers_see_break) {
  sk::BreakingCircuit b{1};
  int payload = 0;  // plain data published by the breaking thread
  std::atomic<int> seen{0};
  run_threads(kThreads, [&](int id) {
    if (id == 0) {
      payload = 42;
      b.short_();
      return;
    }
    while (!b.broken()) std::this_thread::yield();
    EXPECT_EQ(payload, 42);  // acquire on broken() sees the write before short_()
    seen.fetch_add(1);
  });
  EXPECT_EQ(seen.load(), kThreads - 1);
}

TEST(BreakingCircuit, threads_4_reset_and_break_cycles_count_every_break) {
  sk::BreakingCircuit b{3};
  std::atomic<int> broke_calls{0};
  run_threads(kThreads, [&](int id) {
    for (int i = 0; i < 5'000; ++i) {
      if (b.short_()) broke_calls.fetch_add(1);
      if (id == 0 && b.broken()) b.reset();
    }
  });
  EXPECT_EQ(b.total_trips(), static_cast<std::uint32_t>(broke_calls.load()));
}

TEST(Sktimer, threads_4_add_time_and_frames_pool_samples) {
  sk::Sktimer t;
  run_threads(kThreads, [&](int) {
    for (int i = 0; i < 2'000; ++i) {
      t.add_time(0.5);
      auto g = t.time_this();
    }
    (void)t.mean();
  });
  EXPECT_EQ(t.num_times(), static_cast<std::size_t>(kThreads * 4'000));
  EXPECT_FALSE(t.running());
}

}  // namespace
