// SharedTimer, circuits and RateLimiter shared by 4 forked processes through
// a Share: exact sample count and sum, exact trip counts, a break seen by
// every process, a dead recorder's samples kept and its buffer reused.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <vector>

#include <sk/circuit.hpp>
#include <sk/rate_limiter.hpp>
#include <sk/share.hpp>
#include <sk/slots/timer.hpp>

#include "test_fork.hpp"

namespace {

constexpr int kProcs = 4;

// Plain atomics are not slots; wrap the count in a tiny slot type.
struct TripCount {
  static constexpr std::string_view kind = "TripCount";
  std::atomic<int> n{0};
  std::string describe_value() const { return std::to_string(n.load()); }
};
struct ProcState {
  sk::SharedTimer timer{20'000, 8};
  sk::SharedTimer tiny{16, 2};
  sk::Circuit circuit{7};
  sk::BreakingCircuit breaker{500};
  sk::BreakingCircuit signal{1};
  sk::RateLimiter limiter{200};
  TripCount tripped;
  TripCount broke;
};
SK_SHARE(ProcState, timer, tiny, circuit, breaker, signal, limiter, tripped, broke);

// Forks n children running body(i); each exits 0 on success. Returns true if
// all exited 0.
bool fork_all(int n, const std::function<void(int)>& body) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t p = sktest::fork();
    if (p == 0) {
      body(i);
      _exit(::testing::Test::HasFailure() ? 1 : 0);
    }
    pids.push_back(p);
  }
  bool ok = true;
  for (pid_t p : pids) {
    int st = 0;
    waitpid(p, &st, 0);
    ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  return ok;
}

TEST(SharedTimer, procs_4_add_time_exact_count_and_sum) {
  sk::Share<ProcState> share(std::size_t{8} << 20);
  constexpr int kEach = 4'000;
  ASSERT_TRUE(fork_all(kProcs, [&](int i) {
    for (int k = 0; k < kEach; ++k) share->timer.add_time(0.001 * (i + 1));
    { auto g = share->timer.time_this(); }  // start/stop frames are this process's own
  }));
  EXPECT_EQ(share->timer.num_times(), static_cast<std::size_t>(kProcs * (kEach + 1)));
  // sum of 0.001 * (1+2+3+4) * kEach plus 4 tiny frame times
  EXPECT_NEAR(*share->timer.total_time(), 0.010 * kEach, 1e-3);
  const auto s = share->timer.stats();
  EXPECT_DOUBLE_EQ(*s.max, 0.004);
}

TEST(SharedTimer, procs_4_add_time_exact_sum_of_binary_fractions) {
  sk::Share<ProcState> share(std::size_t{8} << 20);
  constexpr int kEach = 4'000;
  ASSERT_TRUE(fork_all(kProcs, [&](int i) {
    for (int k = 0; k < kEach; ++k) share->timer.add_time(0.25 * (i + 1));  // exact in binary
  }));
  EXPECT_EQ(share->timer.num_times(), static_cast<std::size_t>(kProcs * kEach));
  EXPECT_DOUBLE_EQ(*share->timer.total_time(), 0.25 * 10 * kEach);
  EXPECT_DOUBLE_EQ(*share->timer.mean(), 0.25 * 10 / 4);
}

TEST(SharedTimer, procs_dead_recorder_keeps_samples_and_buffer_is_reused) {
  sk::Share<ProcState> share(std::size_t{8} << 20);
  // tiny has 2 process buffers. Two children record and exit; a third must take
  // over a dead child's buffer, keeping the rolling window of all samples.
  ASSERT_TRUE(fork_all(2, [&](int i) { share->tiny.add_time(i + 1.0); }));
  ASSERT_TRUE(fork_all(1, [&](int) { share->tiny.add_time(3.0); }));
  EXPECT_EQ(share->tiny.num_times(), 3u);
  EXPECT_DOUBLE_EQ(*share->tiny.total_time(), 6.0);
  EXPECT_DOUBLE_EQ(*share->tiny.most_recent(), 3.0);
}

TEST(Circuit, procs_4_shorters_exact_trip_count) {
  sk::Share<ProcState> share(std::size_t{8} << 20);
  constexpr int kEach = 70'000;
  ASSERT_TRUE(fork_all(kProcs, [&](int) {
    for (int k = 0; k < kEach; ++k)
      if (share->circuit.short_()) share->tripped.n.fetch_add(1);
  }));
  EXPECT_EQ(share->circuit.total_trips(), static_cast<std::uint32_t>(kProcs * kEach / 7));
  EXPECT_EQ(share->tripped.n.load(), kProcs * kEach / 7);
  EXPECT_EQ(share->circuit.times_shorted(), 0u);
}

TEST(BreakingCircuit, procs_4_shorters_break_exactly_once) {
  sk::Share<ProcState> share(std::size_t{8} << 20);
  ASSERT_TRUE(fork_all(kProcs, [&](int) {
    for (int k = 0; k < 1'000; ++k)
      if (share->breaker.short_()) share->broke.n.fetch_add(1);
  }));
  EXPECT_TRUE(share->breaker.broken());
  EXPECT_EQ(share->breaker.total_trips(), 1u);
  EXPECT_EQ(share->broke.n.load(), 1);
}

TEST(BreakingCircuit, procs_broken_in_one_seen_in_others) {
  sk::Share<ProcState> share(std::size_t{8} << 20);
  ASSERT_TRUE(fork_all(kProcs, [&](int i) {
    if (i == 0) {
      share->timer.add_time(1.0);  // published before the break
      share->signal.short_();
      return;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!share->signal.broken()) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "break not seen within 10 s";
      sched_yield();
    }
    EXPECT_EQ(share->timer.num_times(), 1u);
  }));
  EXPECT_TRUE(share->signal.broken());
  share->signal.reset();
  EXPECT_FALSE(share->signal.broken());
}

TEST(RateLimiter, procs_4_share_one_limit) {
  sk::Share<ProcState> share(std::size_t{8} << 20);  // 200/s = 5 ms apart
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(fork_all(kProcs, [&](int) {
    for (int k = 0; k < 5; ++k) share->limiter.acquire();
  }));
  // 20 acquisitions together: at least 19 intervals of 5 ms.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(95));
}

}  // namespace
