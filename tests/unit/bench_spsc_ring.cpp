// The reference SpscRing (bench/baselines/spsc_ring.hpp): layout, FIFO order,
// wrap-around, batches, timeouts, parking and waking.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <thread>

#include "baselines/spsc_ring.hpp"

using namespace std::chrono_literals;
using bench::SpscRing;

namespace {
struct Msg {
  std::uint64_t seq;
  std::uint64_t payload[7];
};
}  // namespace

TEST(SpscRing, layout_is_cache_line_separated_and_inline) {
  using R = SpscRing<Msg, 8>;
  static_assert(std::is_standard_layout_v<R>);
  static_assert(alignof(R) == sk::core::kFalseSharingRange);
  static_assert(sizeof(R) == 3 * sk::core::kFalseSharingRange + 8 * sizeof(Msg));
  EXPECT_EQ(R::capacity(), 8u);
}

TEST(SpscRing, single_thread_fifo_and_full_empty) {
  SpscRing<int, 4> r;
  int v = 0;
  EXPECT_FALSE(r.try_pop(v));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(r.try_push(i));
  EXPECT_FALSE(r.try_push(99));  // full
  EXPECT_EQ(r.size_approx(), 4u);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(r.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(r.try_pop().has_value());
  EXPECT_TRUE(r.empty_approx());
}

TEST(SpscRing, wraps_around_many_times) {
  SpscRing<std::uint32_t, 8> r;
  std::uint32_t next_in = 0, next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    while (r.try_push(next_in)) ++next_in;
    std::uint32_t v;
    for (int k = 0; k < 5 && r.try_pop(v); ++k) EXPECT_EQ(v, next_out++);
  }
  std::uint32_t v;
  while (r.try_pop(v)) EXPECT_EQ(v, next_out++);
  EXPECT_EQ(next_in, next_out);
}

TEST(SpscRing, batch_push_and_pop_take_what_fits) {
  SpscRing<int, 8> r;
  std::array<int, 12> in{};
  for (int i = 0; i < 12; ++i) in[i] = i * 3;
  EXPECT_EQ(r.try_push_n(in.data(), in.size()), 8u);
  EXPECT_EQ(r.try_push_n(in.data(), 1), 0u);
  std::array<int, 12> out{};
  EXPECT_EQ(r.try_pop_n(out.data(), 5), 5u);
  EXPECT_EQ(r.try_pop_n(out.data() + 5, 12), 3u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], i * 3);
  EXPECT_EQ(r.try_pop_n(out.data(), 12), 0u);
}

TEST(SpscRing, pop_wait_times_out_on_empty_and_push_wait_on_full) {
  SpscRing<int, 2> r;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(r.pop_wait(20ms).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
  EXPECT_TRUE(r.push_wait(1, 1ms));
  EXPECT_TRUE(r.push_wait(2, 1ms));
  EXPECT_FALSE(r.push_wait(3, 20ms));
}

TEST(SpscRing, threads_parked_consumer_is_woken_by_push) {
  SpscRing<int, 4> r;
  std::thread consumer([&] {
    auto v = r.pop_wait(10s);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, 42);
  });
  std::this_thread::sleep_for(30ms);  // let it park (correct either way)
  ASSERT_TRUE(r.try_push(42));
  consumer.join();
}

TEST(SpscRing, threads_parked_producer_is_woken_by_pop) {
  SpscRing<int, 2> r;
  ASSERT_TRUE(r.try_push(1));
  ASSERT_TRUE(r.try_push(2));
  std::thread producer([&] { EXPECT_TRUE(r.push_wait(3, 10s)); });
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(r.try_pop().value(), 1);
  producer.join();
  EXPECT_EQ(r.try_pop().value(), 2);
  EXPECT_EQ(r.try_pop().value(), 3);
}

TEST(SpscRing, threads_wait_readable_and_writable_without_moving_data) {
  SpscRing<int, 2> r;
  EXPECT_FALSE(r.wait_readable(10ms));
  EXPECT_TRUE(r.wait_writable(1ms));
  std::thread producer([&] {
    std::this_thread::sleep_for(20ms);
    EXPECT_TRUE(r.try_push(1));
    EXPECT_TRUE(r.try_push(2));
  });
  ASSERT_TRUE(r.wait_readable(10s));
  producer.join();
  EXPECT_FALSE(r.wait_writable(10ms));  // full
  int out[2];
  EXPECT_EQ(r.try_pop_n(out, 2), 2u);
  EXPECT_EQ(out[0] + out[1], 3);
}
