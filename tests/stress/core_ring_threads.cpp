// Thread stress for the rings (run under TSan): one producer thread, one
// consumer thread, a million messages, order and content checked.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "mix64.hpp"
#include <sk/core/byte_ring.hpp>
#include <sk/core/spsc_ring.hpp>

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
  auto ring = std::make_unique<sk::core::SpscRing<Item, 1024>>();
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

TEST(ByteRing, threads_1producer_1consumer_random_sizes_500k) {
#if defined(__SANITIZE_THREAD__)
  constexpr std::uint64_t kN = 100'000;  // TSan makes every byte check ~20x slower
#else
  constexpr std::uint64_t kN = 500'000;
#endif
  constexpr std::size_t kCap = 1 << 14;
  const std::size_t bytes = sk::core::ByteRing::bytes_needed(kCap);
  auto* mem = static_cast<std::byte*>(::operator new(bytes, std::align_val_t{128}));
  auto* ring = sk::core::ByteRing::create(mem, kCap);
  auto size_of = [](std::uint64_t seq) { return static_cast<std::size_t>(8 + mix(seq) % 300); };
  std::thread producer([&] {
    for (std::uint64_t seq = 0; seq < kN; ++seq) {
      const std::size_t n = size_of(seq);
      std::span<std::byte> s;
      while ((s = ring->try_reserve(n)).data() == nullptr) ASSERT_TRUE(ring->wait_writable(n, 10s));
      std::memcpy(s.data(), &seq, 8);
      std::memset(s.data() + 8, static_cast<int>(seq & 0xFF), n - 8);
      // Batch: publish every 4th message (and the last).
      if (seq % 4 == 3 || seq + 1 == kN) {
        ring->commit(n);
      } else {
        ring->stage(n);
      }
    }
  });
  for (std::uint64_t expect = 0; expect < kN; ++expect) {
    std::span<const std::byte> s;
    while ((s = ring->try_peek()).data() == nullptr) ASSERT_TRUE(ring->wait_readable(10s));
    ASSERT_EQ(s.size(), size_of(expect));
    std::uint64_t seq;
    std::memcpy(&seq, s.data(), 8);
    ASSERT_EQ(seq, expect);
    for (std::size_t i = 8; i < s.size(); ++i)
      ASSERT_EQ(static_cast<unsigned>(s[i]), static_cast<unsigned>(expect & 0xFF)) << "seq " << expect;
    ring->release();
  }
  producer.join();
  EXPECT_EQ(ring->try_peek().data(), nullptr);
  ::operator delete(mem, std::align_val_t{128});
}
