// Thread stress for the reference SpscRing (bench/baselines/spsc_ring.hpp;
// run under TSan): one producer thread, one consumer thread, a million
// messages, order and content checked. Its benchmark figures are the
// yardstick the Pipe is measured against, so it must be right.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include "baselines/spsc_ring.hpp"
#include "mix64.hpp"

using namespace std::chrono_literals;

namespace {

using sk::test::mix64;
constexpr auto mix = mix64;

struct Item {
  std::uint64_t seq;
  std::uint64_t check;
};

}  // namespace

TEST(Ring, threads_1producer_1consumer_1M) {
  constexpr std::uint64_t kN = 1'000'000;
  auto ring = std::make_unique<bench::SpscRing<Item, 1024>>();
  std::uint64_t sent_sum = 0;
  std::thread producer([&] {
    Item batch[16];
    std::uint64_t seq = 0;
    while (seq < kN) {
      // Alternate single pushes and batches so both paths are exercised.
      const std::size_t n = (seq / 1000) % 2 == 0 ? 1 : 16;
      std::size_t k = 0;
      for (; k < n && seq + k < kN; ++k) batch[k] = Item{seq + k, mix(seq + k)};
      std::size_t done = 0;
      while (done < k) {
        const std::size_t pushed = ring->try_push_n(batch + done, k - done);
        if (pushed == 0) {
          ASSERT_TRUE(ring->push_wait(batch[done], 10s));
          sent_sum += batch[done].check;
          ++done;
          continue;
        }
        for (std::size_t i = done; i < done + pushed; ++i) sent_sum += batch[i].check;
        done += pushed;
      }
      seq += k;
    }
  });
  std::uint64_t expect = 0, got_sum = 0;
  Item out[32];
  while (expect < kN) {
    std::size_t k = ring->try_pop_n(out, 32);
    if (k == 0) {
      auto v = ring->pop_wait(10s);
      ASSERT_TRUE(v.has_value()) << "stalled at " << expect;
      out[0] = *v;
      k = 1;
    }
    for (std::size_t i = 0; i < k; ++i) {
      ASSERT_EQ(out[i].seq, expect);
      ASSERT_EQ(out[i].check, mix(expect));
      got_sum += out[i].check;
      ++expect;
    }
  }
  producer.join();
  EXPECT_EQ(got_sum, sent_sum);
  EXPECT_TRUE(ring->empty_approx());
}
