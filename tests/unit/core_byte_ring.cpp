#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <sk/core/byte_ring.hpp>

using namespace std::chrono_literals;
using sk::core::ByteRing;
using sk::core::RingCorrupt;
using sk::core::RingError;

namespace {

// Aligned buffer holding one ring; keeps the raw bytes reachable so that the
// tests can play the hostile producer.
struct RingMem {
  explicit RingMem(std::size_t capacity)
      : bytes(ByteRing::bytes_needed(capacity)),
        mem(static_cast<std::byte*>(::operator new(bytes, std::align_val_t{128}))),
        ring(ByteRing::create(mem, capacity)) {}
  ~RingMem() { ::operator delete(mem, std::align_val_t{128}); }
  RingMem(const RingMem&) = delete;
  RingMem& operator=(const RingMem&) = delete;
  std::byte* data() const { return mem + sizeof(ByteRing); }
  std::size_t bytes;
  std::byte* mem;
  ByteRing* ring;
};

std::string as_string(std::span<const std::byte> s) {
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

bool write_string(ByteRing& r, const std::string& s, std::uint32_t flags = 0) {
  return r.try_write(std::as_bytes(std::span(s.data(), s.size())), flags);
}

void put_header(std::byte* at, std::uint32_t len, std::uint32_t flags) {
  const std::uint32_t h[2] = {len, flags};
  std::memcpy(at, h, sizeof h);
}

}  // namespace

TEST(ByteRing, rejects_bad_capacity_and_misaligned_memory) {
  EXPECT_THROW((void)ByteRing::bytes_needed(100), RingError);
  EXPECT_THROW((void)ByteRing::bytes_needed(32), RingError);
  EXPECT_EQ(ByteRing::bytes_needed(1024), sizeof(ByteRing) + 1024);
  alignas(128) std::byte buf[1024];
  EXPECT_THROW((void)ByteRing::create(buf + 8, 256), RingError);
}

TEST(ByteRing, attach_checks_magic_and_size) {
  RingMem m(1024);
  EXPECT_EQ(ByteRing::attach(m.mem, m.bytes), m.ring);
  EXPECT_THROW((void)ByteRing::attach(m.mem, m.bytes - 1), RingCorrupt);
  alignas(128) std::byte zero[1024] = {};
  EXPECT_THROW((void)ByteRing::attach(zero, sizeof zero), RingCorrupt);
}

TEST(ByteRing, fifo_of_variable_sizes_with_flags) {
  RingMem m(1024);
  ByteRing& r = *m.ring;
  EXPECT_EQ(r.try_peek().data(), nullptr);
  ASSERT_TRUE(write_string(r, "hello", 7));
  ASSERT_TRUE(write_string(r, "", 1));  // zero-length message is a real message
  ASSERT_TRUE(write_string(r, std::string(100, 'x')));
  std::uint32_t flags = 0;
  auto s = r.try_peek(&flags);
  EXPECT_EQ(as_string(s), "hello");
  EXPECT_EQ(flags, 7u);
  EXPECT_EQ(as_string(r.try_peek()), "hello");  // peek is idempotent
  r.release();
  s = r.try_peek(&flags);
  EXPECT_NE(s.data(), nullptr);
  EXPECT_EQ(s.size(), 0u);
  EXPECT_EQ(flags, 1u);
  r.release();
  EXPECT_EQ(as_string(r.try_peek()), std::string(100, 'x'));
  r.release();
  EXPECT_EQ(r.try_peek().data(), nullptr);
}

TEST(ByteRing, full_ring_refuses_then_accepts_after_release) {
  RingMem m(256);
  ByteRing& r = *m.ring;
  EXPECT_EQ(r.max_message(), 120u);
  EXPECT_THROW((void)r.try_reserve(121), RingError);
  int n = 0;
  while (write_string(r, std::string(24, 'a'))) ++n;  // 32-byte records
  EXPECT_EQ(n, 8);
  EXPECT_FALSE(r.writable(24));
  EXPECT_FALSE(r.wait_writable(24, 10ms));
  ASSERT_NE(r.try_peek().data(), nullptr);
  r.release();
  EXPECT_TRUE(r.writable(24));
  EXPECT_TRUE(write_string(r, std::string(24, 'b')));
}

TEST(ByteRing, records_never_wrap_pad_is_skipped) {
  RingMem m(256);
  ByteRing& r = *m.ring;
  // 3 x 64-byte records, consume them, then a 100-byte message cannot fit in
  // the 64 bytes left before the end: it goes to offset 0 behind a pad.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(write_string(r, std::string(56, char('a' + i))));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(as_string(r.try_peek()), std::string(56, char('a' + i)));
    r.release();
  }
  ASSERT_TRUE(write_string(r, std::string(100, 'z')));
  auto s = r.try_peek();
  EXPECT_EQ(as_string(s), std::string(100, 'z'));
  EXPECT_EQ(s.data(), m.data() + ByteRing::kRecordHeader);  // starts at offset 0
  r.release();
  // Thousands of mixed sizes keep order and content.
  std::uint32_t next_in = 0, next_out = 0;
  for (int round = 0; round < 2000; ++round) {
    const std::string msg(static_cast<std::size_t>((next_in * 37) % 120), char('A' + next_in % 26));
    if (write_string(r, msg, next_in & 0xFFFF)) ++next_in;
    if (round % 3 != 0) {
      std::uint32_t f;
      auto got = r.try_peek(&f);
      if (got.data()) {
        EXPECT_EQ(as_string(got),
                  std::string(static_cast<std::size_t>((next_out * 37) % 120), char('A' + next_out % 26)));
        EXPECT_EQ(f, next_out & 0xFFFF);
        r.release();
        ++next_out;
      }
    }
  }
  EXPECT_GT(next_out, 1000u);
}

TEST(ByteRing, staged_messages_are_invisible_until_publish) {
  RingMem m(1024);
  ByteRing& r = *m.ring;
  for (int i = 0; i < 3; ++i) {
    auto s = r.try_reserve(16);
    ASSERT_NE(s.data(), nullptr);
    std::memset(s.data(), 'a' + i, 16);
    r.stage(i + 1);  // shrink to i+1 bytes
  }
  EXPECT_EQ(r.try_peek().data(), nullptr);
  EXPECT_FALSE(r.readable());
  r.publish();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(as_string(r.try_peek()), std::string(static_cast<std::size_t>(i + 1), char('a' + i)));
    r.release_staged();
  }
  r.publish_released();
  EXPECT_EQ(r.try_peek().data(), nullptr);
}

TEST(ByteRing, commit_without_reserve_or_beyond_reservation_throws) {
  RingMem m(1024);
  EXPECT_THROW(m.ring->commit(1), RingError);
  (void)m.ring->try_reserve(8);
  EXPECT_THROW(m.ring->commit(9), RingError);
  EXPECT_NO_THROW(m.ring->commit(8));
  EXPECT_THROW(m.ring->commit(8), RingError);  // the reservation is used up
}

TEST(ByteRing, abandoned_reservation_publishes_nothing) {
  RingMem m(256);
  ByteRing& r = *m.ring;
  (void)r.try_reserve(50);
  auto s = r.try_reserve(3);  // replaces the first reservation
  std::memcpy(s.data(), "abc", 3);
  r.commit(3);
  EXPECT_EQ(as_string(r.try_peek()), "abc");
  r.release();
  EXPECT_EQ(r.try_peek().data(), nullptr);
}

TEST(ByteRing, hostile_header_length_out_of_range_throws_ring_corrupt) {
  RingMem m(256);
  ByteRing& r = *m.ring;
  ASSERT_TRUE(write_string(r, "ok"));
  put_header(m.data(), 0x7FFFFFFF, 0x5A000000u);  // length far beyond the ring
  EXPECT_THROW((void)r.try_peek(), RingCorrupt);
}

TEST(ByteRing, hostile_header_bad_tag_or_length_past_tail_throws) {
  {
    RingMem m(256);
    ASSERT_TRUE(write_string(*m.ring, "ok"));
    put_header(m.data(), 2, 0);  // tag missing
    EXPECT_THROW((void)m.ring->try_peek(), RingCorrupt);
  }
  {
    RingMem m(256);
    ASSERT_TRUE(write_string(*m.ring, "ok"));
    put_header(m.data(), 100, 0x5A000000u);  // longer than what was published
    EXPECT_THROW((void)m.ring->try_peek(), RingCorrupt);
  }
  {
    RingMem m(256);
    ASSERT_TRUE(write_string(*m.ring, "ok"));
    put_header(m.data(), 8, 0x5A800000u);  // a pad that does not reach the end
    EXPECT_THROW((void)m.ring->try_peek(), RingCorrupt);
  }
}

TEST(ByteRing, hostile_tail_beyond_capacity_throws) {
  RingMem m(256);
  ByteRing& r = *m.ring;
  // The published tail is the first word of the producer's cache-line pair.
  auto* tail = reinterpret_cast<std::atomic<std::uint64_t>*>(m.mem + 128);
  tail->store(4096);
  EXPECT_THROW((void)r.try_peek(), RingCorrupt);
}

TEST(ByteRing, random_garbage_never_reads_out_of_bounds) {
  // Fill the data area with random bytes and publish random tails: every
  // peek either returns a span inside the data area or throws RingCorrupt.
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  auto rnd = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int trial = 0; trial < 2000; ++trial) {
    RingMem m(256);
    for (std::size_t i = 0; i < 256; i += 8) {
      const std::uint64_t w = rnd();
      std::memcpy(m.data() + i, &w, 8);
    }
    if (trial % 2) put_header(m.data(), static_cast<std::uint32_t>(rnd() % 300), 0x5A000000u | (rnd() & 0x00800000u));
    auto* tail = reinterpret_cast<std::atomic<std::uint64_t>*>(m.mem + 128);
    tail->store(rnd() % 512);
    try {
      for (int k = 0; k < 4; ++k) {
        auto s = m.ring->try_peek();
        if (!s.data()) break;
        ASSERT_GE(s.data(), m.data());
        ASSERT_LE(s.data() + s.size(), m.data() + 256);
        m.ring->release();
      }
    } catch (const RingCorrupt&) {
    }
  }
}

TEST(ByteRing, close_flags_wake_waiters) {
  RingMem m(256);
  ByteRing& r = *m.ring;
  EXPECT_FALSE(r.producer_closed());
  std::thread t([&] { EXPECT_TRUE(r.wait_readable(10s)); });
  std::this_thread::sleep_for(20ms);
  r.close_producer();
  t.join();
  EXPECT_TRUE(r.producer_closed());
  EXPECT_EQ(r.try_peek().data(), nullptr);
  r.close_consumer();
  EXPECT_TRUE(r.wait_writable(8, 1ms));
  r.producer_tag().store(1234);
  EXPECT_EQ(r.producer_tag().load(), 1234u);
  EXPECT_EQ(r.consumer_tag().load(), 0u);
}

TEST(ByteRing, threads_parked_consumer_wakes_on_commit) {
  RingMem m(1024);
  ByteRing& r = *m.ring;
  std::thread consumer([&] {
    ASSERT_TRUE(r.wait_readable(10s));
    EXPECT_EQ(as_string(r.try_peek()), "wake");
    r.release();
  });
  std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(write_string(r, "wake"));
  consumer.join();
}
