// A FieldSeqlock writer process SIGKILLed inside a transaction is repaired
// all-or-nothing by the next process that needs one of its fields: before
// the commit point its writes are discarded, after it (killed between any
// two field flips) every field of its transaction is rolled forward. A
// reader waiting on a publish in progress repairs it too. Owner ids are
// pids; liveness is coretest::process_gone.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "core_field_seqlock_workload.hpp"
#include "core_procs.hpp"

namespace {

using coretest::Cells;
using coretest::FieldValues;
using coretest::fields;
using Clock = std::chrono::steady_clock;

constexpr sk::core::FieldOwners kOwners{&coretest::pid_tag, &coretest::process_gone};
// Repair waits for a bounded spin and one parked slice (2 ms) at least; on a
// loaded 2-core machine give it far more, but not "forever".
constexpr auto kRepairBound = std::chrono::seconds(2);

struct Region {
  Cells cells{10, -10, 0, coretest::Wide::filled(1)};
  std::atomic<std::uint32_t> stage{0};
};

FieldValues snapshot(const Cells& c) {
  FieldValues v;
  c.read<Cells::kAll>(fields(v), kOwners);
  return v;
}

template <class Fn>
Clock::duration timed(Fn&& fn) {
  const auto t0 = Clock::now();
  fn();
  return Clock::now() - t0;
}

void kill_and_reap(coretest::Children& kids, pid_t pid) {
  ::kill(pid, SIGKILL);
  EXPECT_EQ(kids.wait(pid), 128 + SIGKILL);
}

}  // namespace

TEST(CoreFieldSeqlock, crash_writer_killed_before_commit_is_rolled_back) {
  coretest::SharedObject<Region> r;
  coretest::Children kids;
  const pid_t victim = kids.fork([&r] {
    auto w = r->cells.begin_write<0b1011>(kOwners);
    FieldValues v;
    w.read(fields(v));
    v.c[0] = 1000;
    v.c[1] = -1000;
    v.wide = coretest::Wide::filled(666);
    w.write(fields(v));  // written, not committed
    r->stage.store(1);
    ::pause();  // killed here
    return false;
  });
  ASSERT_TRUE(coretest::eventually([&] { return r->stage.load() == 1; }));
  EXPECT_EQ(r->cells.holder(0), static_cast<std::uint64_t>(victim));
  kill_and_reap(kids, victim);
  // Readers see the last committed values meanwhile (they never wait on locks).
  FieldValues v = snapshot(r->cells);
  EXPECT_EQ(v.c[0], 10);
  EXPECT_EQ(v.wide.w[0], 1u);
  // The next writer takes the dead holder's fields over and discards its writes.
  const auto took = timed([&] { coretest::transact(r->cells, 0, 2, kOwners); });
  EXPECT_LT(took, kRepairBound);
  v = snapshot(r->cells);
  EXPECT_EQ(v.c[0], 9);
  EXPECT_EQ(v.c[1], -9);
  EXPECT_EQ(v.wide.w[0], 1u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(r->cells.holder(i), 0u) << "field " << i;
}

TEST(CoreFieldSeqlock, crash_writer_killed_mid_publish_is_rolled_forward) {
  // The victim's transaction {0, 1, 2, wide} publishes 4 fields; kill it
  // after the commit point with 0..3 of them flipped.
  for (std::size_t kill_after = 0; kill_after < 4; ++kill_after) {
    coretest::SharedObject<Region> r;
    coretest::Children kids;
    const pid_t victim = kids.fork([&r, kill_after] {
      static std::size_t when;
      when = kill_after;
      sk::core::detail::field_publish_hook = [](std::size_t flipped) noexcept {
        if (flipped == when) ::raise(SIGKILL);
      };
      coretest::transact(r->cells, 3, 77, kOwners);  // c1 -= 1, c0 += 1, wide = 77
      return true;
    });
    EXPECT_EQ(kids.wait(victim), 128 + SIGKILL);
    const auto took = timed([&] { coretest::transact(r->cells, 0, 0, kOwners); });  // c0 -= 1, c1 += 1
    EXPECT_LT(took, kRepairBound);
    const FieldValues v = snapshot(r->cells);
    EXPECT_EQ(v.c[0], 10) << "killed after " << kill_after;  // +1 (rolled forward) -1 (ours)
    EXPECT_EQ(v.c[1], -10) << "killed after " << kill_after;
    EXPECT_EQ(v.wide.w[0], 77u) << "killed after " << kill_after;
    EXPECT_TRUE(v.wide.uniform());
    for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(r->cells.version(i), i == 2 ? 1u : (i == 3 ? 1u : 2u)) << i;
  }
}

TEST(CoreFieldSeqlock, crash_reader_repairs_a_publish_its_writer_died_in) {
  coretest::SharedObject<Region> r;
  coretest::Children kids;
  const pid_t victim = kids.fork([&r] {
    sk::core::detail::field_publish_hook = [](std::size_t flipped) noexcept {
      if (flipped == 1) ::raise(SIGKILL);  // every field odd but the first: readers must wait
    };
    coretest::transact(r->cells, 3, 55, kOwners);
    return true;
  });
  EXPECT_EQ(kids.wait(victim), 128 + SIGKILL);
  FieldValues v;
  const auto took = timed([&] { v = snapshot(r->cells); });  // waits on an odd seq, finds the writer dead
  EXPECT_LT(took, kRepairBound);
  EXPECT_EQ(v.c[0], 11);
  EXPECT_EQ(v.c[1], -11);
  EXPECT_EQ(v.wide.w[0], 55u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(r->cells.holder(i), 0u) << "field " << i;
}

TEST(CoreFieldSeqlock, crash_writers_killed_at_random_points) {
  coretest::SharedObject<Region> r;
  coretest::Children kids;
  std::mt19937 rng(5);
  for (int round = 0; round < 20; ++round) {
    r->stage.store(0);
    const pid_t victim = kids.fork([&r] {
      r->stage.store(1);
      for (std::uint64_t n = 1;; ++n) coretest::transact(r->cells, static_cast<int>(n % 4), n, kOwners);
      return true;
    });
    ASSERT_TRUE(coretest::eventually([&] { return r->stage.load() == 1; }));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    kill_and_reap(kids, victim);
    const auto took = timed([&] { coretest::transact(r->cells, round % 4, 1'000'000 + round, kOwners); });
    ASSERT_LT(took, kRepairBound) << "round " << round;
    const FieldValues v = snapshot(r->cells);
    ASSERT_EQ(v.c[0] + v.c[1] + v.c[2], 0) << "a transaction was applied in part (round " << round << ")";
    ASSERT_TRUE(v.wide.uniform()) << "round " << round;
    // Fields our transaction did not need may still name the dead writer
    // (repair is lazy); one over every field frees them all.
    coretest::transact(r->cells, 3, 2'000'000 + round, kOwners);
    for (std::size_t i = 0; i < 4; ++i) ASSERT_EQ(r->cells.holder(i), 0u) << "field " << i << ", round " << round;
  }
}
