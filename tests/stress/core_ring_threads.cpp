// Thread stress for ByteRing (run under TSan): one producer thread, one
// consumer thread, order and content checked. (The reference SpscRing's:
// tests/stress/bench_spsc_ring_threads.cpp.)
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "mix64.hpp"
#include <sk/core/byte_ring.hpp>

using namespace std::chrono_literals;

namespace {

using sk::test::mix64;
constexpr auto mix = mix64;

}  // namespace

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
