// The page heap (issue #15): any freed run serves any later request it can
// hold, neighbouring free runs merge, double frees are ignored, and a long
// random mix that keeps half the arena live never runs out.
// Contention: 1 thread (threads: tests/stress/alloc_page_heap_threads.cpp,
// processes: tests/stress/alloc_page_heap_procs.cpp, kills:
// tests/crash/alloc_page_heap_crash.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/header.hpp>
#include <sk/alloc/page_heap.hpp>

using namespace sk::alloc;

namespace {
constexpr std::size_t P = kPageBytes;
}

TEST(PageHeap, unit_freed_run_of_any_length_serves_a_request_of_that_length) {
  Arena a = Arena::create_anonymous(1 << 20);
  // Runs of 3, 5, 6 and 7 pages with 1-page spacers that stay allocated, so
  // the freed runs cannot merge or go back to fresh space.
  std::vector<Offset> runs;
  for (std::size_t n : {3, 5, 6, 7}) {
    runs.push_back(a.allocate(n * P));
    (void)a.allocate(P);
  }
  const std::size_t sizes[] = {3, 5, 6, 7};
  for (std::size_t i = 0; i < runs.size(); ++i) a.deallocate(runs[i], sizes[i] * P);
  // Each request is served from the freed run of its length, not from fresh
  // space (before: a freed 3-page run sat on the [2,4) list and a 3-page
  // request searched only [4,8) and up).
  for (std::size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(a.allocate(sizes[i] * P), runs[i]) << sizes[i] << " pages";
}

TEST(PageHeap, unit_neighbours_coalesce_on_both_sides) {
  Arena a = Arena::create_anonymous(1 << 20);
  const Offset x = a.allocate(2 * P);
  const Offset y = a.allocate(3 * P);
  const Offset z = a.allocate(4 * P);
  (void)a.allocate(P);  // keeps z's run from reaching fresh space
  a.deallocate(x, 2 * P);
  a.deallocate(z, 4 * P);
  a.deallocate(y, 3 * P);  // merges with x below and z above
  EXPECT_EQ(a.allocate(9 * P), x) << "the three freed runs did not merge into one";
}

TEST(PageHeap, unit_double_free_and_wrong_size_free_are_ignored) {
  Arena a = Arena::create_anonymous(1 << 20);
  const Offset x = a.allocate(3 * P);
  (void)a.allocate(P);
  a.deallocate(x, 5 * P);  // wrong size: not a run of 5 pages
  EXPECT_EQ(a.used(), 4 * P);
  a.deallocate(x + P, 2 * P);  // inside a run
  EXPECT_EQ(a.used(), 4 * P);
  a.deallocate(x, 3 * P);
  a.deallocate(x, 3 * P);  // double free
  EXPECT_EQ(a.used(), P);
  const Offset first = a.allocate(3 * P);
  const Offset second = a.allocate(3 * P);
  EXPECT_NE(first, second) << "a double free handed one run out twice";
}

// Issue #15: same-size stores of 12,000 and 16,500 bytes (an Object store
// allocates the new block before it frees the old one) failed with ArenaFull
// at store #1,364 and #818 of a default 16 MiB arena.
TEST(PageHeap, unit_same_size_churn_100000_stores_of_12000_and_16500_bytes) {
  for (std::size_t bytes : {std::size_t{12000}, std::size_t{16500}}) {
    Arena a = Arena::create_anonymous(16 << 20);
    Offset cur = a.allocate(bytes);
    Offset small = a.allocate(64);
    for (int i = 0; i < 100'000; ++i) {
      Offset next = 0;
      ASSERT_NO_THROW(next = a.allocate(bytes)) << bytes << " bytes, store #" << i;
      a.deallocate(cur, bytes);
      cur = next;
      const Offset s2 = a.allocate(64 + i % 64);  // small blocks interleaved, as serialization does
      a.deallocate(small, 64 + (i + 63) % 64);
      small = s2;
    }
    EXPECT_LE(a.used(), 2 * bytes + 8192) << bytes;
  }
}

// A random mix of sizes from 16 B to 4 MiB (log-uniform) holding up to half
// the capacity live never fails; the largest free block is reported.
TEST(PageHeap, unit_fragmentation_random_mix_half_live_1e6_operations_never_fails) {
  const std::size_t cap = std::size_t{256} << 20;
  Arena a = Arena::create_anonymous(cap);
  const std::size_t empty_largest = a.largest_free();
  std::mt19937_64 rng(15);
  std::uniform_real_distribution<double> logsize(std::log(16.0), std::log(4.0 * 1024 * 1024));
  struct Live {
    Offset off;
    std::size_t bytes;
  };
  std::vector<Live> live;
  std::size_t live_bytes = 0, min_largest = cap, max_live = 0;
#if defined(__SANITIZE_ADDRESS__)
  const int ops = 300'000;
#else
  const int ops = 1'000'000;
#endif
  for (int i = 0; i < ops; ++i) {
    const auto bytes = static_cast<std::size_t>(std::exp(logsize(rng)));
    const bool must_free = live_bytes + bytes > cap / 2;
    if (!live.empty() && (must_free || rng() % 2 == 0)) {
      const std::size_t k = rng() % live.size();
      a.deallocate(live[k].off, live[k].bytes);
      live_bytes -= live[k].bytes;
      live[k] = live.back();
      live.pop_back();
      continue;
    }
    if (must_free) continue;
    Offset off = 0;
    ASSERT_NO_THROW(off = a.allocate(bytes)) << "operation " << i << ": " << bytes << " bytes with " << live_bytes
                                             << " live, largest free " << a.largest_free();
    live.push_back({off, bytes});
    live_bytes += bytes;
    max_live = std::max(max_live, live_bytes);
    if (i % 50'000 == 0) min_largest = std::min(min_largest, a.largest_free());
  }
  for (const Live& l : live) a.deallocate(l.off, l.bytes);
  EXPECT_EQ(a.used(), 0u);
  // Everything merged back into one run, except the pages the small lists
  // took from the top (they keep them).
  const pages::Stats st = pages::stats(*header_of(a.base()), a.base());
  // Pages still in USED runs after everything was freed are the few the
  // small lists took from free runs when fresh space had run out.
  EXPECT_LT(st.small_pages + st.used_pages, 128u);
  EXPECT_LE(st.free_runs, st.used_runs) << "neighbouring free runs (or a run and fresh space) did not merge";
  EXPECT_EQ(st.free_pages + st.small_pages + st.used_pages, empty_largest / kPageBytes) << "pages were lost";
  std::fprintf(stderr, "fragmentation: %d ops, peak live %zu MiB of %zu MiB, smallest largest-free-block seen %zu MiB, small-block pages %zu (+%zu in runs), free runs %zu\n",
               ops, max_live >> 20, cap >> 20, min_largest >> 20, static_cast<std::size_t>(st.small_pages), static_cast<std::size_t>(st.used_pages), static_cast<std::size_t>(st.free_runs));
}

// A damaged page-map word (fuzz: a FREE head of length 0 just above a run
// being freed) must not be followed: the free completes, nothing else is
// read from the bad word. Before: class_of(0) shifted by 2^32 - 1 (UBSan).
TEST(PageHeap, unit_free_beside_a_zero_length_free_word_is_safe) {
  Arena a = Arena::create_anonymous(64 * 1024);  // map in the header
  const Offset x = a.allocate(2 * P);
  const Offset y = a.allocate(P);
  (void)a.allocate(P);
  auto* map = reinterpret_cast<std::uint64_t*>(a.base() + kMapInHeader);
  map[y / P] = (std::uint64_t{0xA5} << 40) | (std::uint64_t{0x46} << 32);  // FREE, length 0
  a.deallocate(x, 2 * P);
  EXPECT_EQ(a.allocate(2 * P), x);
}
