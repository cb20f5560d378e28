// sk::Pool stress: 1,000,000 items in both modes, 8 workers, skewed item
// costs (work stealing), exactly-once execution counted in shared memory.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

#include <sk/pool.hpp>

using namespace std::chrono_literals;

namespace {

std::vector<std::uint32_t> iota_u32(std::uint32_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

// Per-item execution counters in MAP_SHARED memory, inherited by the
// workers (they are forked after it exists).
class SharedCounters {
 public:
  explicit SharedCounters(std::size_t n) : n_(n) {
    void* p = ::mmap(nullptr, n * sizeof(std::atomic<std::uint32_t>), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    c_ = static_cast<std::atomic<std::uint32_t>*>(p);
  }
  ~SharedCounters() { ::munmap(c_, n_ * sizeof(std::atomic<std::uint32_t>)); }
  std::atomic<std::uint32_t>& operator[](std::size_t i) const { return c_[i]; }

 private:
  std::size_t n_;
  std::atomic<std::uint32_t>* c_;
};

}  // namespace

TEST(PoolStress, procs_4workers_map_1M_items) {
  sk::Pool pool(4);
  const auto items = iota_u32(1'000'000);
  const auto out = pool.map([](std::uint32_t x) { return std::uint64_t{x} * 3; }, items);
  ASSERT_EQ(out.size(), items.size());
  for (std::uint32_t i = 0; i < items.size(); ++i) ASSERT_EQ(out[i], std::uint64_t{i} * 3) << i;
}

TEST(PoolStress, procs_8workers_unordered_map_1M_items_each_once) {
  sk::Pool pool(8);
  auto out = pool.unordered_map([](std::uint32_t x) { return x; }, iota_u32(1'000'000));
  ASSERT_EQ(out.size(), 1'000'000u);
  std::vector<std::uint8_t> seen(out.size(), 0);
  for (auto v : out) {
    ASSERT_LT(v, seen.size());
    ASSERT_EQ(seen[v]++, 0) << "result " << v << " delivered twice";
  }
}

TEST(PoolStress, procs_4workers_persistent_map_1M_items_twice) {
  sk::Pool pool(4, sk::persistent);
  const auto items = iota_u32(1'000'000);
  for (int round = 0; round < 2; ++round) {
    const auto out = pool.map([](std::uint32_t x) { return x ^ 0x5555u; }, items);
    ASSERT_EQ(out.size(), items.size());
    for (std::uint32_t i = 0; i < items.size(); ++i) ASSERT_EQ(out[i], i ^ 0x5555u) << i;
  }
}

TEST(PoolStress, procs_1worker_imap_100k_in_order) {
  sk::Pool pool(1);
  std::uint32_t expect = 0;
  for (auto v : pool.imap([](std::uint32_t x) { return x + 1; }, iota_u32(100'000))) ASSERT_EQ(v, ++expect);
  EXPECT_EQ(expect, 100'000u);
}

TEST(PoolStress, procs_8workers_every_item_runs_exactly_once) {
  constexpr std::uint32_t n = 200'000;
  SharedCounters runs(n);
  sk::Pool pool(8);
  const auto out = pool.map(
      [&runs](std::uint32_t x) {
        runs[x].fetch_add(1, std::memory_order_relaxed);
        if (x % 1000 == 0) std::this_thread::sleep_for(1ms);  // uneven: forces splits and steals
        return x;
      },
      iota_u32(n));
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(runs[i].load(), 1u) << "item " << i;
  EXPECT_EQ(out.back(), n - 1);
}

TEST(PoolStress, procs_4workers_skewed_block_is_stolen) {
  // Items 0..39 (all in worker 0's initial block of 100) are slow; the other
  // workers finish their blocks at once and must steal from worker 0.
  sk::Pool pool(4);
  const auto pids = pool.map(
      [](std::uint32_t x) {
        if (x < 40) std::this_thread::sleep_for(10ms);
        return static_cast<int>(::getpid());
      },
      iota_u32(400));
  std::set<int> block0(pids.begin(), pids.begin() + 40);
  EXPECT_GE(block0.size(), 2u) << "nobody stole from the worker holding the slow items";
}

TEST(PoolStress, procs_2workers_many_calls_in_a_row) {
  sk::Pool pool(2);
  sk::Pool persistent(2, sk::persistent);
  for (std::uint32_t round = 0; round < 40; ++round) {
    const auto items = iota_u32(round % 7 + 1);
    const auto a = pool.map([round](std::uint32_t x) { return x + round; }, items);
    const auto b = persistent.map([round](std::uint32_t x) { return x + round; }, items);
    ASSERT_EQ(a, b);
    ASSERT_EQ(a.back(), items.back() + round);
  }
}
