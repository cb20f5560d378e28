// Share slots hammered by threads of one process (the TSan variants of
// share_procs.cpp): exact totals, no torn reads, no data races.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "share_stress_state.hpp"

namespace {

constexpr long kOps = 20000;
constexpr long kSlowOps = 4000;

void run_threads(int threads) {
  sk::Share<sktest::StressState> share(4 << 20);
  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i) ts.emplace_back([share, threads] { sktest::stress_worker(*share, threads, kOps, kSlowOps); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(share->plus.load(), 3 * kOps * threads);
  EXPECT_EQ(share->incr.load(), kOps * threads);
  EXPECT_EQ(share->counter.load(), kOps * threads);
  EXPECT_EQ(share->fplus.load(), static_cast<double>(((kOps + 63) / 64) * threads));
  EXPECT_EQ(share->pair.load().a, kSlowOps * threads);
  EXPECT_EQ(share->pair.load().b, kSlowOps * threads);
  const auto [balance, ops] = share->ledger.call<&sktest::Ledger::totals>();
  EXPECT_EQ(ops, kSlowOps * threads);
  EXPECT_EQ(balance, 2 * kSlowOps * threads);
  EXPECT_EQ(share->torn.load(), 0);
}

}  // namespace

TEST(ShareThreads, threads_2_exact_totals) { run_threads(2); }
TEST(ShareThreads, threads_4_exact_totals) { run_threads(4); }

// Readers that only snapshot while writers call: never a mixed snapshot.
TEST(ShareThreads, threads_2writers_2readers_consistent_snapshots) {
  sk::Share<sktest::StressState> share(4 << 20);
  std::atomic<bool> stop{false};
  std::atomic<int> readers_up{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 2; ++i)
    ts.emplace_back([share, &readers_up] {
      while (readers_up.load() < 2) std::this_thread::yield();  // readers overlap the writes
      for (long k = 0; k < kSlowOps; ++k) share->ledger.call<&sktest::Ledger::deposit>(5);
    });
  long bad = 0, reads = 0;
  std::thread reader1([&] {
    readers_up += 1;
    while (!stop.load() || reads < 100) {
      const auto [b, n] = share->ledger.call<&sktest::Ledger::totals>();
      if (b != 5 * n) ++bad;
      ++reads;
    }
  });
  std::thread reader2([&, share] {
    readers_up += 1;
    while (!stop.load()) {
      const sktest::Ledger l = share->ledger.snapshot();
      const auto [b, n] = l.totals();
      if (b != 5 * n) share->torn += 1;
    }
  });
  for (auto& t : ts) t.join();
  stop = true;
  reader1.join();
  reader2.join();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(share->torn.load(), 0);
  EXPECT_EQ(share->ledger.call<&sktest::Ledger::totals>().second, 2 * kSlowOps);
}
