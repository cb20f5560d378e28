#include <gtest/gtest.h>

#include <cstdint>
#include <type_traits>

#include <sk/core/ws_deque.hpp>

using sk::core::StealState;
using sk::core::WsDeque;

TEST(WsDeque, layout_is_inline_and_standard) {
  using D = WsDeque<std::uint64_t, 4>;
  static_assert(std::is_standard_layout_v<D>);
  static_assert(D::capacity() == 16);
  static_assert(sizeof(D) == 2 * sk::core::kFalseSharingRange + 128);  // top, bottom, 16 slots of 8 bytes
  SUCCEED();
}

TEST(WsDeque, empty_deque_pops_and_steals_nothing) {
  WsDeque<std::uint64_t, 3> d;
  EXPECT_FALSE(d.pop().has_value());
  const auto s = d.steal();
  EXPECT_EQ(s.state, StealState::empty);
  EXPECT_FALSE(s);
  EXPECT_EQ(d.size_approx(), 0u);
  EXPECT_FALSE(d.pop().has_value());  // a failed pop leaves it consistent
  EXPECT_TRUE(d.push(1));
  EXPECT_EQ(d.size_approx(), 1u);
}

TEST(WsDeque, owner_pops_newest_first) {
  WsDeque<std::uint64_t, 3> d;
  for (std::uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(d.push(i));
  for (std::uint64_t i = 5; i >= 1; --i) EXPECT_EQ(d.pop().value(), i);
  EXPECT_FALSE(d.pop().has_value());
}

TEST(WsDeque, thieves_steal_oldest_first) {
  WsDeque<std::uint64_t, 3> d;
  for (std::uint64_t i = 1; i <= 5; ++i) ASSERT_TRUE(d.push(i));
  for (std::uint64_t i = 1; i <= 5; ++i) {
    const auto s = d.steal();
    ASSERT_EQ(s.state, StealState::item);
    EXPECT_EQ(s.value, i);
  }
  EXPECT_EQ(d.steal().state, StealState::empty);
}

TEST(WsDeque, push_fails_when_full_and_succeeds_after_a_steal) {
  WsDeque<std::uint64_t, 3> d;
  for (std::uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(d.push(i));
  EXPECT_FALSE(d.push(8));
  EXPECT_EQ(d.size_approx(), 8u);
  EXPECT_EQ(d.steal().value, 0u);
  EXPECT_TRUE(d.push(8));
  EXPECT_FALSE(d.push(9));
  EXPECT_EQ(d.pop().value(), 8u);
}

TEST(WsDeque, wraps_around_the_ring_many_times) {
  WsDeque<std::uint64_t, 2> d;
  std::uint64_t next = 0;
  std::uint64_t expect_steal = 0;
  for (int round = 0; round < 1000; ++round) {
    ASSERT_TRUE(d.push(next++));
    ASSERT_TRUE(d.push(next++));
    ASSERT_TRUE(d.push(next++));
    EXPECT_EQ(d.pop().value(), next - 1);                  // newest
    EXPECT_EQ(d.steal().value, expect_steal);             // oldest
    EXPECT_EQ(d.steal().value, next - 2);                 // the middle one
    expect_steal = next;
  }
  EXPECT_EQ(d.size_approx(), 0u);
}

TEST(WsDeque, last_item_goes_to_exactly_one_of_pop_and_steal) {
  WsDeque<std::uint64_t, 2> d;
  ASSERT_TRUE(d.push(42));
  EXPECT_EQ(d.pop().value(), 42u);
  EXPECT_EQ(d.steal().state, StealState::empty);
  ASSERT_TRUE(d.push(43));
  EXPECT_EQ(d.steal().value, 43u);
  EXPECT_FALSE(d.pop().has_value());
}

TEST(WsDeque, packs_ranges_in_a_word) {
  struct Range {
    std::uint32_t begin;
    std::uint32_t end;
  };
  WsDeque<Range, 4> d;
  ASSERT_TRUE(d.push(Range{10, 20}));
  const auto s = d.steal();
  ASSERT_TRUE(s);
  EXPECT_EQ(s.value.begin, 10u);
  EXPECT_EQ(s.value.end, 20u);
}
