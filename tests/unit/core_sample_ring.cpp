// sk::core::SampleRing, one thread: order, the reader's cursor, and the count
// of samples lost when the writer laps a reader.
#include <cstdint>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include <sk/core/sample_ring.hpp>

namespace {

using sk::core::Sample;
using sk::core::SampleRingHead;
using sk::core::SampleRingReader;
using sk::core::SampleRingWriter;
using sk::core::SampleSlot;

// A ring of `cap` two-word samples in ordinary memory, zero-filled like a
// fresh mapping.
struct Ring {
  explicit Ring(std::uint64_t capacity) : cap(capacity), slots(new SampleSlot<2>[capacity]()) {}
  SampleRingWriter<2> writer() { return {head, slots.get(), cap}; }
  SampleRingReader<2> reader() const { return {head, slots.get(), cap}; }
  std::uint64_t cap;
  SampleRingHead head;
  std::unique_ptr<SampleSlot<2>[]> slots;
};

// Sample i is {i, ~i}.
void push_n(Ring& r, std::uint64_t from, std::uint64_t n) {
  for (std::uint64_t i = from; i < from + n; ++i) r.writer().push({i, ~i});
}

struct Seen {
  std::vector<std::uint64_t> index;
  bool consistent = true;
};
std::uint64_t read_all(const Ring& r, std::uint64_t& cursor, Seen& seen) {
  return r.reader().read(cursor, [&](std::uint64_t i, const Sample<2>& s) {
    seen.index.push_back(i);
    seen.consistent = seen.consistent && s[0] == i && s[1] == ~i;
  });
}

TEST(CoreSampleRing, unit_empty_ring_reads_nothing) {
  Ring r(8);
  std::uint64_t cursor = 0;
  Seen seen;
  EXPECT_EQ(read_all(r, cursor, seen), 0u);
  EXPECT_TRUE(seen.index.empty());
  EXPECT_EQ(cursor, 0u);
  EXPECT_EQ(r.writer().newest_word(0), 0u);
}

TEST(CoreSampleRing, unit_reader_gets_every_sample_in_order_and_keeps_its_cursor) {
  Ring r(8);
  push_n(r, 0, 5);
  std::uint64_t cursor = 0;
  Seen seen;
  EXPECT_EQ(read_all(r, cursor, seen), 0u);
  EXPECT_EQ(cursor, 5u);
  push_n(r, 5, 3);
  EXPECT_EQ(read_all(r, cursor, seen), 0u);
  EXPECT_EQ(cursor, 8u);
  ASSERT_EQ(seen.index.size(), 8u);
  for (std::uint64_t i = 0; i < 8; ++i) EXPECT_EQ(seen.index[i], i);
  EXPECT_TRUE(seen.consistent);
  EXPECT_EQ(r.writer().newest_word(0), 7u);
  EXPECT_EQ(r.writer().newest_word(1), ~std::uint64_t{7});
}

TEST(CoreSampleRing, unit_lapped_reader_counts_what_it_lost_and_gets_the_rest) {
  Ring r(8);
  push_n(r, 0, 21);  // indices 13..20 are still in the ring
  std::uint64_t cursor = 2;
  Seen seen;
  EXPECT_EQ(read_all(r, cursor, seen), 11u);
  EXPECT_EQ(cursor, 21u);
  ASSERT_EQ(seen.index.size(), 8u);
  EXPECT_EQ(seen.index.front(), 13u);
  EXPECT_EQ(seen.index.back(), 20u);
  EXPECT_TRUE(seen.consistent);
}

TEST(CoreSampleRing, unit_bounded_read_stops_at_end) {
  Ring r(64);
  push_n(r, 0, 50);
  std::uint64_t cursor = 10;
  Seen seen;
  EXPECT_EQ(r.reader().read(cursor, 45, [&](std::uint64_t i, const Sample<2>&) { seen.index.push_back(i); }), 0u);
  EXPECT_EQ(cursor, 45u);
  ASSERT_EQ(seen.index.size(), 35u);  // more than one validation chunk
  EXPECT_EQ(seen.index.front(), 10u);
  EXPECT_EQ(seen.index.back(), 44u);
  std::uint64_t ahead = 60;  // a cursor past what was committed reads nothing
  EXPECT_EQ(read_all(r, ahead, seen), 0u);
  EXPECT_EQ(ahead, 60u);
}

TEST(CoreSampleRing, unit_a_write_started_over_a_slot_makes_it_lost) {
  // A writer that announced sample 8 (slot 0) and died before committing it:
  // sample 0's slot may hold a mix, so a reader must not return sample 0.
  Ring r(8);
  push_n(r, 0, 8);
  r.head.begin.store(9);
  r.slots[0].word[0].store(8);  // half of sample 8's words
  std::uint64_t cursor = 0;
  Seen seen;
  EXPECT_EQ(read_all(r, cursor, seen), 1u);
  ASSERT_EQ(seen.index.size(), 7u);
  EXPECT_EQ(seen.index.front(), 1u);
  EXPECT_TRUE(seen.consistent);
  // The next writer rewrites index 8 and commits it.
  push_n(r, 8, 1);
  EXPECT_EQ(read_all(r, cursor, seen), 0u);
  EXPECT_EQ(seen.index.back(), 8u);
  EXPECT_TRUE(seen.consistent);
}

}  // namespace
