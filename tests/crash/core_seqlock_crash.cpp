// A Seqlock writer SIGKILLed while it holds the write lock: the next writer
// (another process) takes over within a bounded time, the dead writer's
// half-written copy is never visible, and no committed value is lost.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sk/core/seqlock.hpp>

#include "core_procs.hpp"
#include "core_seqlock_value.hpp"

using namespace std::chrono_literals;
using coretest::Wide;

namespace {

struct Region {
  sk::core::Seqlock<Wide> lock{Wide::filled(1)};
  std::atomic<std::uint32_t> half_written{0};
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint32_t> readers_in{0};  // readers that completed a first read
};

// Reads until stop; fails on a torn value, a value going backwards, or (when
// only_a != 0) a value other than only_a and only_b.
bool reader(Region& r, std::uint64_t only_a, std::uint64_t only_b) {
  coretest::ReadChecker check;
  bool expected_values = true;
  do {
    const Wide v = r.lock.load();
    check.see(v);
    if (only_a != 0 && v.w[0] != only_a && v.w[0] != only_b) expected_values = false;
    if (check.reads() == 1) r.readers_in.fetch_add(1);
  } while (r.stop.load(std::memory_order_acquire) == 0);
  r.reads.fetch_add(check.reads());
  return check.ok() && expected_values;
}

}  // namespace

TEST(Seqlock, crash_writer_killed_after_writing_half_is_rolled_back) {
  coretest::SharedObject<Region> r;
  coretest::Children children;
  std::vector<pid_t> readers;
  for (int i = 0; i < 2; ++i) readers.push_back(children.fork([&] { return reader(*r, 1, 3); }));
  ASSERT_TRUE(coretest::eventually([&] { return r->readers_in.load() == 2; }));

  const pid_t victim = children.fork([&] {
    auto w = r->lock.begin_write(static_cast<std::uint32_t>(::getpid()));
    w.write_partial(Wide::filled(2), sizeof(Wide) / 2);  // half of the new copy
    r->half_written.store(1, std::memory_order_release);
    for (;;) ::pause();  // hold the lock until killed
    return true;
  });
  ASSERT_TRUE(coretest::eventually([&] { return r->half_written.load() != 0; }));
  EXPECT_EQ(r->lock.holder(), static_cast<std::uint32_t>(victim));
  std::this_thread::sleep_for(20ms);  // readers read while a live writer holds the lock
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  // Not reaped yet: the owner_dead callback must treat the zombie as dead.

  const auto t0 = std::chrono::steady_clock::now();
  r->lock.store(Wide::filled(3), static_cast<std::uint32_t>(::getpid()), &coretest::process_gone);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 1s) << "the dead writer's lock was not taken over in time";
  ::testing::Test::RecordProperty(
      "takeover_us", std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));

  const Wide now = r->lock.load();
  EXPECT_TRUE(now.uniform());
  EXPECT_EQ(now.w[0], 3u);
  EXPECT_EQ(r->lock.version(), 6u);  // 1 (victim) -> 4 (abort) -> 5 -> 6
  EXPECT_EQ(r->lock.holder(), 0u);

  std::this_thread::sleep_for(20ms);
  r->stop.store(1, std::memory_order_release);
  EXPECT_EQ(children.wait(victim), 128 + SIGKILL);
  for (pid_t p : readers) EXPECT_EQ(children.wait(p), 0) << "reader saw a torn, dirty or backwards value";
  EXPECT_GT(r->reads.load(), 0u);
}

// Writers killed at random points of update() loops: whenever the kill lands
// inside the lock, the next writer rolls it back; committed increments are
// never lost (the value never goes backwards) and readers never see a tear.
TEST(Seqlock, crash_writers_killed_at_random_points_lose_no_commit) {
  coretest::SharedObject<Region> r;
  coretest::Children children;
  const pid_t watcher = children.fork([&] { return reader(*r, 0, 0); });
  ASSERT_TRUE(coretest::eventually([&] { return r->readers_in.load() == 1; }));
  std::mt19937 rng(20261126);
  std::uniform_int_distribution<int> delay_us(0, 3000);
  const auto self = static_cast<std::uint32_t>(::getpid());
  int killed_holding = 0;
  std::uint64_t before = r->lock.load().w[0];
  for (int round = 0; round < 30; ++round) {
    const pid_t w = children.fork([&] {
      const auto tag = static_cast<std::uint32_t>(::getpid());
      for (;;) {
        r->lock.update(coretest::add_one, tag, &coretest::process_gone);
      }
      return true;
    });
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    ASSERT_EQ(::kill(w, SIGKILL), 0);
    EXPECT_EQ(children.wait(w), 128 + SIGKILL);
    if (r->lock.holder() == static_cast<std::uint32_t>(w)) ++killed_holding;

    const auto t0 = std::chrono::steady_clock::now();
    const Wide after = r->lock.update(coretest::add_one, self, &coretest::process_gone);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    EXPECT_TRUE(after.uniform());
    EXPECT_GT(after.w[0], before) << "a committed increment was lost in round " << round;
    before = after.w[0];
    EXPECT_EQ(r->lock.holder(), 0u);
  }
  r->stop.store(1, std::memory_order_release);
  EXPECT_EQ(children.wait(watcher), 0) << "watcher saw a torn or backwards value";
  ::testing::Test::RecordProperty("killed_holding_lock", killed_holding);
  ::testing::Test::RecordProperty("final_value", std::to_string(before));
}
