// Arena allocator under thread contention (runs under TSan): no block is ever
// handed out twice, blocks stay intact while held, `used` balances.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/block_allocator.hpp>
#include <sk/alloc/header.hpp>

using namespace sk::alloc;

namespace {

// One bit per 16-byte unit of the arena: set while some thread holds the unit.
class Ownership {
 public:
  explicit Ownership(std::size_t capacity) : bits_((capacity / kMinBlock + 63) / 64) {}
  // Marks [off, off+bytes); false if any unit was already held (double hand-out).
  bool claim(Offset off, std::size_t bytes) {
    bool ok = true;
    for (std::size_t u = off / kMinBlock; u < (off + bytes) / kMinBlock; ++u) {
      const std::uint64_t bit = std::uint64_t{1} << (u % 64);
      if (bits_[u / 64].fetch_or(bit, std::memory_order_relaxed) & bit) ok = false;
    }
    return ok;
  }
  void release(Offset off, std::size_t bytes) {
    for (std::size_t u = off / kMinBlock; u < (off + bytes) / kMinBlock; ++u)
      bits_[u / 64].fetch_and(~(std::uint64_t{1} << (u % 64)), std::memory_order_relaxed);
  }

 private:
  std::vector<std::atomic<std::uint64_t>> bits_;
};

struct Held {
  Offset off;
  std::size_t bytes;
  std::uint64_t tag;
};

void fill(Arena& a, const Held& h) {
  auto* p = a.ptr<std::uint64_t>(h.off);
  for (std::size_t i = 0; i < h.bytes / 8; ++i) p[i] = h.tag;  // plain writes by the block's owner
}
bool intact(Arena& a, const Held& h) {
  auto* p = a.ptr<std::uint64_t>(h.off);
  for (std::size_t i = 0; i < h.bytes / 8; ++i)
    if (p[i] != h.tag) return false;
  return true;
}

}  // namespace

TEST(Arena, threads_4_alloc_free) {
  constexpr int kThreads = 4;
#if defined(__SANITIZE_THREAD__)
  constexpr int kOps = 20'000;
#else
  constexpr int kOps = 200'000;
#endif
  // Small enough that threads regularly hit ArenaFull and the split paths.
  Arena a = Arena::create_anonymous(2 << 20);
  Ownership own(a.capacity());
  std::atomic<int> double_handouts{0}, corrupted{0}, fulls{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(1234 + t);
      std::vector<Held> held;
      std::uint64_t seq = 0;
      for (int i = 0; i < kOps; ++i) {
        if (!held.empty() && (held.size() > 64 || rng() % 2 == 0)) {
          const std::size_t k = rng() % held.size();
          const Held h = held[k];
          held[k] = held.back();
          held.pop_back();
          if (!intact(a, h)) corrupted.fetch_add(1);
          own.release(h.off, blocks::block_size(h.bytes, 16));
          a.deallocate(h.off, h.bytes);
          continue;
        }
        const std::size_t r = rng() % 100;
        const std::size_t bytes = r < 80 ? 8 * (1 + rng() % 32) : r < 97 ? 8 * (1 + rng() % 256) : 4096 * (1 + rng() % 6);
        try {
          const Offset off = a.allocate(bytes);
          if (!own.claim(off, blocks::block_size(bytes, 16))) double_handouts.fetch_add(1);
          Held h{off, bytes, (std::uint64_t(t) << 56) | ++seq};
          fill(a, h);
          held.push_back(h);
        } catch (const ArenaFull&) {
          fulls.fetch_add(1);
        }
      }
      for (const Held& h : held) {
        if (!intact(a, h)) corrupted.fetch_add(1);
        own.release(h.off, blocks::block_size(h.bytes, 16));
        a.deallocate(h.off, h.bytes);
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(double_handouts.load(), 0);
  EXPECT_EQ(corrupted.load(), 0);
  EXPECT_EQ(a.used(), 0u);
  // Still usable after the storm, and every free list is consistent: drain
  // the arena with 16-byte blocks and check that none repeats.
  Ownership after(a.capacity());
  std::size_t n = 0;
  try {
    for (;; ++n) ASSERT_TRUE(after.claim(a.allocate(16), 16));
  } catch (const ArenaFull&) {
  }
  EXPECT_GT(n, 1000u);
}

TEST(Arena, threads_2_same_size_ping_pong) {
  // Two threads hammering one size class: the ABA-prone pattern (pop, push
  // back, pop) on a single Treiber list.
#if defined(__SANITIZE_THREAD__)
  constexpr int kOps = 50'000;
#else
  constexpr int kOps = 500'000;
#endif
  Arena a = Arena::create_anonymous(1 << 20);
  Ownership own(a.capacity());
  std::atomic<int> bad{0};
  auto body = [&] {
    Offset mine[4] = {};
    for (int i = 0; i < kOps; ++i) {
      Offset& slot = mine[i % 4];
      if (slot) {
        own.release(slot, 32);
        a.deallocate(slot, 32);
        slot = 0;
      } else {
        slot = a.allocate(32);
        if (!own.claim(slot, 32)) bad.fetch_add(1);
      }
    }
    for (Offset o : mine)
      if (o) {
        own.release(o, 32);
        a.deallocate(o, 32);
      }
  };
  std::thread t1(body), t2(body);
  t1.join();
  t2.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(a.used(), 0u);
}
