// A ByteRing producer SIGKILLed at arbitrary points (including in the middle
// of writing and publishing a message): the consumer receives every message
// that was committed, never a partial one, and can tell through the
// producer's owner tag that the producer is dead.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

#include "mix64.hpp"
#include <sk/alloc/owner.hpp>
#include <sk/core/byte_ring.hpp>

#include "test_fork.hpp"

using namespace std::chrono_literals;

namespace {

using sk::test::mix64;
constexpr auto mix = mix64;
std::size_t size_of(std::uint64_t seq) noexcept { return static_cast<std::size_t>(8 + mix(seq) % 2000); }

struct Control {
  std::atomic<std::uint64_t> committed{0};  // messages the producer has committed
  std::atomic<std::uint32_t> mid_write{0};  // producer is parked inside a reservation
};

struct Mapping {
  static constexpr std::size_t kCap = 1 << 16;
  Mapping() {
    ring_bytes = sk::core::ByteRing::bytes_needed(kCap);
    total = ring_bytes + 4096;
    mem = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ring = sk::core::ByteRing::create(mem, kCap);
    ctl = new (static_cast<std::byte*>(mem) + ring_bytes) Control;
  }
  ~Mapping() { munmap(mem, total); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  std::size_t ring_bytes = 0, total = 0;
  void* mem = nullptr;
  sk::core::ByteRing* ring = nullptr;
  Control* ctl = nullptr;
};

// Producer body: claims the producer end, then writes messages forever,
// committing them one at a time with the payload written in two halves.
// `stop_mid_write` parks it forever after reserving and half-writing one
// message (so the kill lands inside a publish for certain).
[[noreturn]] void produce(Mapping& m, std::uint64_t stop_mid_write_at) {
  m.ring->producer_tag().store(sk::alloc::self_owner().pack(), std::memory_order_release);
  for (std::uint64_t seq = 0;; ++seq) {
    const std::size_t n = size_of(seq);
    std::span<std::byte> s;
    while ((s = m.ring->try_reserve(n)).data() == nullptr) (void)m.ring->wait_writable(n, 1s);
    std::memcpy(s.data(), &seq, 8);
    std::memset(s.data() + 8, static_cast<int>(mix(seq) >> 56), (n - 8) / 2);
    if (seq == stop_mid_write_at) {
      m.ctl->mid_write.store(1, std::memory_order_release);
      for (;;) pause();
    }
    std::memset(s.data() + 8 + (n - 8) / 2, static_cast<int>(mix(seq) >> 56), n - 8 - (n - 8) / 2);
    m.ring->commit(n);
    m.ctl->committed.store(seq + 1, std::memory_order_release);
  }
}

// Consumes everything available, checking each message; returns the next
// expected sequence number.
std::uint64_t drain(sk::core::ByteRing& ring, std::uint64_t expect) {
  for (;;) {
    auto s = ring.try_peek();
    if (s.data() == nullptr) return expect;
    std::uint64_t seq;
    EXPECT_GE(s.size(), 8u);
    std::memcpy(&seq, s.data(), 8);
    EXPECT_EQ(seq, expect);
    EXPECT_EQ(s.size(), size_of(expect));
    const auto pattern = static_cast<std::byte>(mix(expect) >> 56);
    for (std::size_t i = 8; i < s.size(); ++i) {
      if (s[i] != pattern) {
        ADD_FAILURE() << "message " << expect << " is partial/torn at byte " << i;
        break;
      }
    }
    ring.release();
    ++expect;
  }
}

void check_dead_producer(Mapping& m, pid_t child, std::uint64_t received) {
  const auto tag = sk::alloc::OwnerId::unpack(m.ring->producer_tag().load());
  EXPECT_EQ(sk::alloc::owner_pid(tag), static_cast<std::uint32_t>(child));
  // Killed but not yet reaped (a zombie) already counts as dead.
  const auto t0 = std::chrono::steady_clock::now();
  while (sk::alloc::is_alive(tag) && std::chrono::steady_clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(sk::alloc::is_alive(tag));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_GE(received, m.ctl->committed.load());
  EXPECT_EQ(m.ring->try_peek().data(), nullptr);  // the half-written message never shows up
}

}  // namespace

TEST(RingCrash, producer_killed_inside_a_reservation_loses_nothing_committed) {
  Mapping m;
  constexpr std::uint64_t kStopAt = 100;
  const pid_t child = sktest::fork();
  ASSERT_GE(child, 0);
  if (child == 0) produce(m, kStopAt);
  std::uint64_t next = 0;
  const auto t0 = std::chrono::steady_clock::now();
  while (m.ctl->mid_write.load(std::memory_order_acquire) == 0 && std::chrono::steady_clock::now() - t0 < 10s) {
    next = drain(*m.ring, next);
    (void)m.ring->wait_readable(1ms);
  }
  ASSERT_EQ(m.ctl->mid_write.load(), 1u);
  kill(child, SIGKILL);
  next = drain(*m.ring, next);
  EXPECT_EQ(next, kStopAt);
  check_dead_producer(m, child, next);
}

TEST(RingCrash, producer_killed_at_random_points_20_rounds) {
  for (int round = 0; round < 20; ++round) {
    Mapping m;
    const pid_t child = sktest::fork();
    ASSERT_GE(child, 0);
    if (child == 0) produce(m, ~std::uint64_t{0});
    std::uint64_t next = 0;
    while (m.ring->producer_tag().load(std::memory_order_acquire) == 0) std::this_thread::sleep_for(50us);
    const auto run_for = std::chrono::microseconds(500 + 997 * (round * 7 % 20));
    const auto t0 = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - t0 < run_for) {
      next = drain(*m.ring, next);
      if (round % 2) (void)m.ring->wait_readable(100us);  // odd rounds: consumer also parks
    }
    kill(child, SIGKILL);
    // Wait until it is gone, then take what is left.
    while (sk::alloc::is_alive(sk::alloc::OwnerId::unpack(m.ring->producer_tag().load())))
      std::this_thread::sleep_for(100us);
    next = drain(*m.ring, next);
    check_dead_producer(m, child, next);
    if (HasFailure()) break;
  }
}
