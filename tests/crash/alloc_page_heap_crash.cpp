// The page heap under SIGKILL (issue #15): a process killed at each step of
// allocate, split, free and coalesce (while it holds the heap lock) never
// hangs the next allocator, never makes two blocks overlap, and loses at
// most the run it was working on; the next allocator takes the lock over
// and rebuilds the lists from the page map.
// Contention: 1 child killed inside the heap, then the parent allocating.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>

#include <cstring>
#include <random>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/header.hpp>
#include <sk/alloc/page_heap.hpp>

#include "alloc_fork.hpp"

using namespace sk::alloc;

namespace {

struct Ctl {
  std::atomic<std::uint64_t> live_pages{0};  // pages the child holds (before its current operation)
};

pages::Step g_target{};
int g_countdown = 0;
void kill_at_step(pages::Step s) noexcept {
  if (s == g_target && --g_countdown == 0) ::raise(SIGKILL);
}

struct Held {
  Offset off;
  std::size_t bytes;
  std::uint64_t tag;
};
void fill(Arena& a, const Held& h) {
  for (std::size_t i = 0; i + 8 <= h.bytes; i += 4096) std::memcpy(a.ptr<std::byte>(h.off) + i, &h.tag, 8);
}
bool intact(Arena& a, const Held& h) {
  for (std::size_t i = 0; i + 8 <= h.bytes; i += 4096) {
    std::uint64_t v = 0;
    std::memcpy(&v, a.ptr<std::byte>(h.off) + i, 8);
    if (v != h.tag) return false;
  }
  return true;
}
std::size_t pages_of(std::size_t bytes) { return (bytes + kPageBytes - 1) / kPageBytes; }

// Random page runs of 1..40 pages, at most `hold` at a time: splits and
// merges on both sides happen all the time.
void churn(Arena& a, std::mt19937_64& rng, int ops, std::size_t hold, Ctl* ctl, std::uint64_t tag0, int* bad) {
  std::vector<Held> held;
  std::uint64_t live = 0;
  for (int i = 0; i < ops; ++i) {
    if (!held.empty() && (held.size() >= hold || rng() % 2 == 0)) {
      const std::size_t k = rng() % held.size();
      const Held h = held[k];
      held[k] = held.back();
      held.pop_back();
      if (!intact(a, h)) ++*bad;
      a.deallocate(h.off, h.bytes);
      live -= pages_of(h.bytes);
    } else {
      const std::size_t bytes = 2049 + rng() % (40 * kPageBytes - 2049);
      const Held h{a.allocate(bytes), bytes, tag0 + static_cast<std::uint64_t>(i)};
      fill(a, h);
      held.push_back(h);
      live += pages_of(bytes);
    }
    if (ctl != nullptr) ctl->live_pages.store(live);
  }
  for (const Held& h : held) {
    if (!intact(a, h)) ++*bad;
    a.deallocate(h.off, h.bytes);
  }
}

}  // namespace

TEST(PageHeapCrash, procs_killed_at_every_step_next_allocator_repairs_and_loses_at_most_one_run) {
  using pages::Step;
  const Step steps[] = {Step::alloc_unlinked,      Step::alloc_split_written, Step::alloc_switched,
                        Step::bump_head_written,   Step::free_marked,         Step::merge_next_unlinked,
                        Step::merge_next_switched, Step::merge_prev_unlinked, Step::merge_prev_switched};
  auto* ctl = static_cast<Ctl*>(::mmap(nullptr, sizeof(Ctl), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(ctl, MAP_FAILED);
  for (const Step step : steps) {
    for (int round = 0; round < 3; ++round) {
      const std::string what = "step " + std::to_string(static_cast<int>(step)) + " round " + std::to_string(round);
      Arena a = Arena::create_anonymous(16 << 20);
      const std::uint64_t total = a.largest_free() / kPageBytes;
      new (ctl) Ctl{};
      const pid_t child = alloctest::spawn([&] {
        g_target = step;
        g_countdown = 1 + round * 37;
        pages::step_hook = kill_at_step;
        std::mt19937_64 rng(100 + round);
        int bad = 0;
        churn(a, rng, 50'000, 16, ctl, 1ULL << 40, &bad);
        std::fprintf(stderr, "%s: the child never reached the step\n", what.c_str());
        return false;
      });
      ASSERT_EQ(alloctest::reap(child), 128 + SIGKILL) << what << ": the child was not killed at the step";
      const std::uint64_t child_live = ctl->live_pages.load();
      // The next allocator: must not hang (the lock holder is dead), must
      // never hand out overlapping blocks, and repairs the heap.
      std::mt19937_64 rng(7 + round);
      int bad = 0;
      churn(a, rng, 5'000, 32, nullptr, 2ULL << 40, &bad);
      EXPECT_EQ(bad, 0) << what << ": a block was overwritten (two blocks overlapped)";
      SegmentHeader& h = *header_of(a.base());
      EXPECT_GE(h.heap.repairs.load(), 1u) << what << ": the dead holder's lock was not taken over";
      const pages::Stats st = pages::stats(h, a.base());
      // What is not free: the child's runs (it died holding them), at most
      // the one run it was working on (<= 40 pages), the small-block pages.
      EXPECT_EQ(st.free_pages + st.used_pages + st.small_pages, total) << what << ": pages vanished from the map";
      EXPECT_LE(st.used_pages, child_live + 40) << what << ": more than the in-flight run was lost";
      EXPECT_NO_THROW((void)a.allocate(a.largest_free())) << what;
    }
  }
  ::munmap(ctl, sizeof(Ctl));
}
