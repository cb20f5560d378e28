// Processes SIGKILLed in the middle of a Value write and of a Shared call:
// the others never hang (they repair within a generous bound) and every
// committed value stays intact; a Shared call is applied all or nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <sk/alloc/owner.hpp>

#include "share_procs.hpp"
#include "share_stress_state.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kRepairBound = std::chrono::seconds(3);  // "does not hang", not a speed test

class Vault {
 public:
  // Runs `before_publish` (crash injection) between computing and publishing.
  void deposit(long v) {
    balance += v;
    last = v;
    ++ops;
    if (before_publish != nullptr) before_publish();
  }
  std::pair<long, long> totals() const { return {balance, ops}; }
  long last_deposit() const { return last; }

  static inline void (*before_publish)() = nullptr;  // process-local

 private:
  long balance = 0;
  long last = 0;
  long ops = 0;
  SK_SHARED_FIELDS(Vault, balance, last, ops);
};
SK_SHARED_METHOD(Vault, deposit, writes(balance, last, ops), reads(balance, ops));
SK_SHARED_METHOD(Vault, totals, reads(balance, ops));
SK_SHARED_METHOD(Vault, last_deposit, reads(last));

struct CrashState {
  sk::Value<sktest::Pair> pair;
  sk::Shared<Vault> vault;
  sk::Atomic<int> stage;  // child -> parent: "I am where you should kill me"
};
SK_SHARE(CrashState, pair, vault, stage);

void wait_stage(sk::Share<CrashState>& share, int stage) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (share->stage.load() < stage) {
    ASSERT_LT(Clock::now(), deadline) << "child never reached stage " << stage;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  EXPECT_EQ(sktest::reap(pid), 128 + SIGKILL);
}

template <class Fn>
std::chrono::milliseconds timed(Fn&& fn) {
  const auto t0 = Clock::now();
  fn();
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
}

}  // namespace

TEST(ShareCrash, crash_value_writer_killed_mid_write) {
  sk::Share<CrashState> share(1 << 20);
  share->pair.store(sktest::Pair{5, {}, 5});
  const pid_t pid = sktest::spawn([share] {
    auto w = share->pair.begin_write();
    sktest::Pair torn{777, {}, 888};
    w.write_partial(torn, 8);  // half-written copy, never committed
    share->stage = 1;
    ::pause();
    return true;
  });
  wait_stage(share, 1);
  EXPECT_EQ(share->pair.writer(), sk::alloc::owner_of_child(pid).compact());
  kill_and_reap(pid);
  // Readers are not blocked and see the committed value.
  EXPECT_EQ(share->pair.load().a, 5);
  // The next writer repairs the lock (dead holder's write discarded).
  const auto took = timed([&] { share->pair.update([](sktest::Pair& p) { ++p.a, ++p.b; }); });
  EXPECT_LT(took, kRepairBound);
  const sktest::Pair p = share->pair.load();
  EXPECT_EQ(p.a, 6);
  EXPECT_EQ(p.b, 6);
  EXPECT_EQ(share->pair.writer(), 0u);
}

TEST(ShareCrash, crash_value_writers_killed_at_random_points) {
  sk::Share<CrashState> share(1 << 20);
  std::mt19937 rng(1234);
  for (int round = 0; round < 20; ++round) {
    const pid_t pid = sktest::spawn([share] {
      share->stage = 1;
      for (;;) share->pair.update([](sktest::Pair& p) { ++p.a, ++p.b; });
      return true;
    });
    wait_stage(share, 1);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    kill_and_reap(pid);
    share->stage = 0;
    const sktest::Pair before = share->pair.load();
    ASSERT_EQ(before.a, before.b) << "torn value after kill in round " << round;
    const auto took = timed([&] { share->pair.update([](sktest::Pair& p) { ++p.a, ++p.b; }); });
    ASSERT_LT(took, kRepairBound);
    const sktest::Pair after = share->pair.load();
    ASSERT_EQ(after.a, before.a + 1);
    ASSERT_EQ(after.b, before.b + 1);
  }
}

TEST(ShareCrash, crash_shared_call_killed_before_commit_rolls_back) {
  sk::Share<CrashState> share(1 << 20);
  share->vault.call<&Vault::deposit>(10);
  const pid_t pid = sktest::spawn([share] {
    Vault::before_publish = [] {
      // We hold every written field's lock and computed the new values.
      ::raise(SIGSTOP);  // parent kills us while stopped
    };
    share->stage = 1;
    share->vault.call<&Vault::deposit>(1000);
    return true;
  });
  wait_stage(share, 1);
  // Wait until the child holds the locks (stopped inside the method).
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (share->vault.holder(0) == 0) {
    ASSERT_LT(Clock::now(), deadline);
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  kill_and_reap(pid);
  // Readers see the last committed call.
  EXPECT_EQ(share->vault.call<&Vault::totals>(), (std::pair<long, long>{10, 1}));
  // The next writer repairs: the dead call's writes are discarded.
  const auto took = timed([&] { share->vault.call<&Vault::deposit>(2); });
  EXPECT_LT(took, kRepairBound);
  EXPECT_EQ(share->vault.call<&Vault::totals>(), (std::pair<long, long>{12, 2}));
  EXPECT_EQ(share->vault.call<&Vault::last_deposit>(), 2);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(share->vault.holder(i), 0u);
}

TEST(ShareCrash, crash_shared_call_killed_mid_publish_rolls_forward) {
  for (std::size_t kill_after = 0; kill_after < 3; ++kill_after) {
    sk::Share<CrashState> share(1 << 20);
    share->vault.call<&Vault::deposit>(10);
    const pid_t pid = sktest::spawn([share, kill_after] {
      static std::size_t when;
      when = kill_after;
      sk::core::detail::field_publish_hook = [](std::size_t flipped) noexcept {
        if (flipped == when) ::raise(SIGKILL);  // after the commit point, `flipped` fields published
      };
      share->vault.call<&Vault::deposit>(1000);
      return true;
    });
    EXPECT_EQ(sktest::reap(pid), 128 + SIGKILL);
    // The next writer finds the dead holder, sees the commit flag and
    // completes the dead call: all three fields reflect it, then ours.
    const auto took = timed([&] { share->vault.call<&Vault::deposit>(2); });
    EXPECT_LT(took, kRepairBound);
    EXPECT_EQ(share->vault.call<&Vault::totals>(), (std::pair<long, long>{1012, 3})) << "killed after " << kill_after;
    EXPECT_EQ(share->vault.call<&Vault::last_deposit>(), 2);
  }
}

TEST(ShareCrash, crash_shared_callers_killed_at_random_points) {
  sk::Share<CrashState> share(1 << 20);
  std::mt19937 rng(99);
  for (int round = 0; round < 20; ++round) {
    const pid_t pid = sktest::spawn([share] {
      share->stage = 1;
      for (;;) share->vault.call<&Vault::deposit>(3);
      return true;
    });
    wait_stage(share, 1);
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    kill_and_reap(pid);
    share->stage = 0;
    const auto took = timed([&] { share->vault.call<&Vault::deposit>(3); });
    ASSERT_LT(took, kRepairBound);
    const auto [balance, ops] = share->vault.call<&Vault::totals>();
    ASSERT_EQ(balance, 3 * ops) << "a call was applied in part (round " << round << ")";
    ASSERT_EQ(share->vault.call<&Vault::last_deposit>(), 3);
  }
}
