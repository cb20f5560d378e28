// Share slots hammered by 2, 4 and 8 forked processes: every total is exact
// and no reader ever sees a torn Value or a Shared snapshot mixing calls.
#include <gtest/gtest.h>

#include "share_procs.hpp"
#include "share_stress_state.hpp"

namespace {

constexpr long kOps = 200000;    // Atomic / Counter updates per process
constexpr long kSlowOps = 20000; // Value::update and Shared::call per process

void run_procs(int procs) {
  sk::Share<sktest::StressState> share(4 << 20);
  ASSERT_TRUE(sktest::run_children(procs, [share, procs](int) {
    sktest::stress_worker(*share, procs, kOps, kSlowOps);
    return true;
  }));
  EXPECT_EQ(share->plus.load(), 3 * kOps * procs);
  EXPECT_EQ(share->incr.load(), kOps * procs);
  EXPECT_EQ(share->fplus.load(), static_cast<double>(((kOps + 63) / 64) * procs));
  EXPECT_EQ(share->counter.load(), kOps * procs);
  const sktest::Pair p = share->pair.load();
  EXPECT_EQ(p.a, kSlowOps * procs);
  EXPECT_EQ(p.b, kSlowOps * procs);
  const auto [balance, ops] = share->ledger.call<&sktest::Ledger::totals>();
  EXPECT_EQ(ops, kSlowOps * procs);
  EXPECT_EQ(balance, 2 * kSlowOps * procs);
  EXPECT_EQ(share->torn.load(), 0);
}

}  // namespace

TEST(ShareProcs, procs_2_exact_totals) { run_procs(2); }
TEST(ShareProcs, procs_4_exact_totals) { run_procs(4); }
TEST(ShareProcs, procs_8_exact_totals) { run_procs(8); }

// Counter striping: forked workers take different stripes, and the sum stays
// exact through a reset() racing the adders (each add is either returned by
// reset or still counted).
TEST(ShareProcs, procs_4_counter_reset_loses_nothing) {
  sk::Share<sktest::StressState> share(4 << 20);
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i)
    pids.push_back(sktest::spawn([share] {
      for (long k = 0; k < kOps; ++k) share->counter += 1;
      return true;
    }));
  long removed = 0;
  for (int k = 0; k < 50; ++k) removed += share->counter.reset();
  for (pid_t p : pids) ASSERT_EQ(sktest::reap(p), 0);
  EXPECT_EQ(removed + share->counter.load(), 4 * kOps);
}
