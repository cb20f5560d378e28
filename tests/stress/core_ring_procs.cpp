// Process stress for ByteRing: a forked producer and the parent as consumer
// share one MAP_SHARED|MAP_ANONYMOUS mapping. Ten million messages of random
// sizes; order, sizes and content are checked, and both sides' checksums
// must agree.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "mix64.hpp"
#include <sk/core/byte_ring.hpp>

using namespace std::chrono_literals;

namespace {

using sk::test::mix64;
constexpr auto mix = mix64;

// Message seq: size 8..135 bytes; bytes = seq (8) then a byte pattern.
std::size_t size_of(std::uint64_t seq) noexcept { return static_cast<std::size_t>(8 + mix(seq) % 128); }

struct Shared {
  std::atomic<std::uint64_t> producer_sum{0};
};

void* map_shared(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

TEST(ByteRing, procs_1producer_1consumer_10M) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::uint64_t kN = 2'000'000;  // ASan slows the byte loops down ~5x
#else
  constexpr std::uint64_t kN = 10'000'000;
#endif
  constexpr std::size_t kCap = 1 << 20;
  const std::size_t ring_bytes = sk::core::ByteRing::bytes_needed(kCap);
  void* mem = map_shared(ring_bytes + 4096);
  ASSERT_NE(mem, nullptr);
  auto* ring = sk::core::ByteRing::create(mem, kCap);
  auto* shared = new (static_cast<std::byte*>(mem) + ring_bytes) Shared;

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto* r = sk::core::ByteRing::attach(mem, ring_bytes);
    std::uint64_t sum = 0;
    for (std::uint64_t seq = 0; seq < kN; ++seq) {
      const std::size_t n = size_of(seq);
      std::span<std::byte> s;
      while ((s = r->try_reserve(n)).data() == nullptr)
        if (!r->wait_writable(n, 10s)) _exit(3);
      std::memcpy(s.data(), &seq, 8);
      std::memset(s.data() + 8, static_cast<int>(mix(seq) >> 56), n - 8);
      sum += seq * 31 + n + (mix(seq) >> 56) * (n - 8);
      if (seq % 8 == 7 || seq + 1 == kN) r->commit(n); else r->stage(n);
    }
    shared->producer_sum.store(sum, std::memory_order_release);
    _exit(0);
  }

  std::uint64_t sum = 0;
  bool ok = true;
  for (std::uint64_t expect = 0; expect < kN && ok; ++expect) {
    std::span<const std::byte> s;
    while ((s = ring->try_peek()).data() == nullptr) {
      if (!ring->wait_readable(10s)) { ok = false; break; }
    }
    if (!ok) break;
    std::uint64_t seq;
    std::memcpy(&seq, s.data(), 8);
    if (seq != expect || s.size() != size_of(expect)) {
      ADD_FAILURE() << "message " << expect << ": got seq " << seq << " size " << s.size();
      ok = false;
      break;
    }
    const auto pattern = static_cast<std::byte>(mix(seq) >> 56);
    std::uint64_t pattern_bytes = 0;
    for (std::size_t i = 8; i < s.size(); ++i) pattern_bytes += (s[i] == pattern);
    if (pattern_bytes != s.size() - 8) {
      ADD_FAILURE() << "message " << expect << " has a torn payload";
      ok = false;
      break;
    }
    sum += seq * 31 + s.size() + (mix(seq) >> 56) * (s.size() - 8);
    if (expect % 8 == 7) ring->release(); else { ring->release_staged(); }
  }
  ring->publish_released();
  int status = 0;
  if (!ok) kill(child, SIGKILL);
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(ok);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "producer status " << status;
  EXPECT_EQ(shared->producer_sum.load(std::memory_order_acquire), sum);
  EXPECT_EQ(ring->try_peek().data(), nullptr);
  munmap(mem, ring_bytes + 4096);
}
