// sk::core::FieldSeqlock, one thread: transactions over field subsets, an
// abandoned transaction publishes nothing, layout, versions and holders, and
// repair of a writer that died holding locks (before its commit point: its
// writes are discarded). Roll-forward after the commit point needs a process
// killed mid-publish: tests/crash/core_field_seqlock_crash.cpp.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <new>
#include <optional>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include <sk/core/field_seqlock.hpp>

#include "core_field_seqlock_workload.hpp"

namespace {

using coretest::Cells;
using coretest::FieldValues;
using coretest::fields;
using sk::core::FieldOwners;

std::uint64_t tag_7() { return 7; }
std::uint64_t tag_9() { return 9; }
std::uint64_t tag_0() { return 0; }
bool seven_is_dead(std::uint64_t owner) { return owner == 7; }

constexpr FieldOwners kSeven{&tag_7, &seven_is_dead};
constexpr FieldOwners kNine{&tag_9, &seven_is_dead};

FieldValues snapshot(const Cells& c) {
  FieldValues v;
  c.read<Cells::kAll>(fields(v), kNine);
  return v;
}

TEST(CoreFieldSeqlock, unit_layout_one_cache_line_per_header) {
  static_assert(Cells::kCount == 4 && Cells::kAll == 0b1111);
  static_assert(Cells::kOffsets[0] == 0);
  for (std::size_t i = 0; i < Cells::kCount; ++i) EXPECT_EQ(Cells::kOffsets[i] % sk::core::kCacheLine, 0u) << i;
  static_assert(std::is_standard_layout_v<Cells> && alignof(Cells) == sk::core::kCacheLine);
  static_assert(sizeof(sk::core::FieldHeader) == sk::core::kCacheLine);
}

TEST(CoreFieldSeqlock, unit_initial_values_then_a_transaction_over_a_subset) {
  Cells c(1, 2, 3, coretest::Wide::filled(4));
  FieldValues none;
  c.read<0>(fields(none), kNine);  // an empty field set reads nothing (and does not wait)
  EXPECT_EQ(none.c[0], 0);
  FieldValues v = snapshot(c);
  EXPECT_EQ(v.c[0], 1);
  EXPECT_EQ(v.c[2], 3);
  EXPECT_EQ(v.wide.w[15], 4u);
  {
    auto w = c.begin_write<0b0101>(kNine);
    EXPECT_EQ(c.holder(0), 9u);
    EXPECT_EQ(c.holder(1), 0u);
    EXPECT_EQ(c.holder(2), 9u);
    FieldValues in;
    w.read(fields(in));
    EXPECT_EQ(in.c[0], 1);
    EXPECT_EQ(in.c[2], 3);
    in.c[0] = 10;
    in.c[2] = 30;
    in.c[1] = 99;  // not in the mask: not written
    w.write(fields(in));
    EXPECT_EQ(snapshot(c).c[0], 1);  // written but not yet published
    w.commit();
  }
  v = snapshot(c);
  EXPECT_EQ(v.c[0], 10);
  EXPECT_EQ(v.c[1], 2);
  EXPECT_EQ(v.c[2], 30);
  EXPECT_EQ(c.version(0), 1u);
  EXPECT_EQ(c.version(1), 0u);
  EXPECT_EQ(c.version(2), 1u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(c.holder(i), 0u);
}

TEST(CoreFieldSeqlock, unit_abandoned_transaction_publishes_nothing) {
  Cells c(1, 2, 3, coretest::Wide::filled(4));
  try {
    auto w = c.begin_write<0b0011>(kNine);
    FieldValues in;
    in.c[0] = 100;
    in.c[1] = 200;
    w.write(fields(in));
    throw std::runtime_error("the method threw");
  } catch (const std::runtime_error&) {
  }
  const FieldValues v = snapshot(c);
  EXPECT_EQ(v.c[0], 1);
  EXPECT_EQ(v.c[1], 2);
  EXPECT_EQ(c.version(0), 0u);
  EXPECT_EQ(c.holder(0), 0u);
  EXPECT_EQ(c.holder(1), 0u);
  coretest::transact(c, 0, 1, kNine);  // the locks are free again
  EXPECT_EQ(snapshot(c).c[1], 3);
}

TEST(CoreFieldSeqlock, unit_writer_without_an_owner_id_is_refused) {
  Cells c(0, 0, 0, coretest::Wide::filled(0));
  EXPECT_THROW((void)c.begin_write<1>(FieldOwners{&tag_0, nullptr}), sk::core::SeqlockError);
  EXPECT_THROW((void)c.begin_write<1>(FieldOwners{}), sk::core::SeqlockError);
  EXPECT_EQ(c.holder(0), 0u);
}

// A writer that died holding its locks before the commit point (here: a
// transaction by owner 7 that is never committed nor destroyed): the next
// writer finds 7 dead after a parked slice, discards its writes and proceeds.
TEST(CoreFieldSeqlock, unit_dead_writer_before_commit_is_rolled_back) {
  Cells c(1, 2, 3, coretest::Wide::filled(4));
  alignas(Cells::Writer<0b1011>) std::byte grave[sizeof(Cells::Writer<0b1011>)];
  auto* dead = ::new (grave) Cells::Writer<0b1011>(c.begin_write<0b1011>(kSeven));
  FieldValues in;
  in.c[0] = -1;
  in.c[1] = -1;
  in.wide = coretest::Wide::filled(666);
  dead->write(fields(in));
  (void)dead;  // never committed, never destroyed: its owner "died"
  EXPECT_EQ(c.holder(0), 7u);
  EXPECT_EQ(c.holder(3), 7u);
  coretest::transact(c, 1, 5, kNine);  // needs field 1, held by the dead owner
  const FieldValues v = snapshot(c);
  EXPECT_EQ(v.c[0], 1);
  EXPECT_EQ(v.c[1], 1);
  EXPECT_EQ(v.c[2], 4);
  EXPECT_EQ(v.wide.w[0], 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(c.holder(i), 0u) << "field " << i;
}

// A live holder is never taken over: the waiter parks in slices, asks
// owner_dead (false for 9) after each, and proceeds once the holder commits.
TEST(CoreFieldSeqlock, unit_live_holder_is_waited_for_not_taken_over) {
  Cells c(0, 0, 0, coretest::Wide::filled(0));
  std::atomic<bool> holding{false};
  std::thread holder([&] {
    auto w = c.begin_write<0b0001>(kNine);
    holding.store(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    FieldValues in;
    in.c[0] = 5;
    w.write(fields(in));
    w.commit();
  });
  while (!holding.load()) std::this_thread::yield();
  const auto t0 = std::chrono::steady_clock::now();
  coretest::transact(c, 0, 1, kSeven);  // field 0 -= 1, field 1 += 1: after the holder's 5
  const auto waited = std::chrono::steady_clock::now() - t0;
  holder.join();
  EXPECT_GE(waited, std::chrono::milliseconds(20));
  const FieldValues v = snapshot(c);
  EXPECT_EQ(v.c[0], 4);
  EXPECT_EQ(v.c[1], 1);
  EXPECT_EQ(c.version(0), 2u);
}

}  // namespace
