#pragma once
// The page heap: runs of whole pages inside an arena segment, a two-level
// segregated fit (TLSF, Masmano et al. 2004) over page counts, with
// coalescing of neighbours on free. It serves every large block (> 2048 B)
// and the pages that the small-block lists are carved from.
//
//   page map    one 64-bit word per page of the segment: the first page of
//               every run says FREE(n) or USED(n); the last page of a free
//               run of n > 1 pages says TAIL(n) (for coalescing backwards).
//               All other words are 0 or stale TAILs (harmless: a TAIL is
//               only believed when the FREE head it names matches exactly).
//   free lists  25 x 8 doubly linked lists, list (f, s) holds runs of n
//               pages with f = floor(log2 n) and s the next 3 bits of n;
//               two bitmaps find the first non-empty list that fits in O(1).
//               The links (next, prev page index) sit in the free run's
//               first 8 bytes and are checked against the map when followed.
//   bump        pages from the bump mark up to small_top are fresh.
//   small_top   pages for the small-block lists (which keep them for ever)
//               are taken from the top of the heap downwards, so they never
//               sit between large runs and cut the free space into pieces;
//               only when fresh space is gone does a small refill take a
//               page from a free run.
//
// Bounded time: allocate and free touch O(1) lists and map words; only the
// last resort before ArenaFull (searching the one list whose runs may or may
// not fit) and a repair walk the heap.
//
// Crash safety: the heap is guarded by one lock word holding the holder's
// OwnerId. A waiter that finds the holder dead (sk::alloc::is_alive, never
// from pids) takes the lock over and rebuilds the lists from the page map.
// The map is written so that at every instruction the chain of run heads
// from the first page to the bump mark describes every page exactly once:
// a split writes the remainder's head first and then switches the run's head
// to USED(n) in one store; a merge writes the merged head in one store, then
// clears the absorbed head. A process killed at any point therefore loses at
// most the run it was allocating (marked USED, never returned) and never
// makes a page appear in two runs. See docs/arena.md.
#include <cstddef>
#include <cstdint>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/header.hpp>

namespace sk::alloc::pages {

// Where the map lives and which pages the heap may hand out, from the
// capacity alone (never from header words, which a damaged segment could
// have changed).
struct Geometry {
  std::uint64_t map_offset = 0;   // byte offset of the page map
  std::uint64_t first_page = 1;   // first page the heap manages (the header is page 0)
  std::uint64_t limit_page = 0;   // one past the last page it manages
};
Geometry geometry(std::uint64_t capacity) noexcept;

// The first page of a fresh run of `pages` pages (offset), or 0 if no run
// fits. Throws OwnerRegistryError only if this process cannot get an owner id.
Offset allocate(SegmentHeader& h, std::byte* base, std::uint64_t pages);
// One page for the small-block lists (never freed): from the top of fresh
// space, else as allocate(h, base, 1).
Offset allocate_small_page(SegmentHeader& h, std::byte* base);

// Frees the run at `off` if it is a USED run of exactly `pages` pages;
// otherwise (a double free, a wrong size, a garbage offset) does nothing and
// returns false.
bool free(SegmentHeader& h, std::byte* base, Offset off, std::uint64_t pages) noexcept;

struct Stats {
  std::uint64_t free_pages = 0;     // in free runs and above the bump mark
  std::uint64_t largest_free = 0;   // pages in the largest run a request could get
  std::uint64_t free_runs = 0;
  std::uint64_t small_pages = 0;    // pages taken from the top for small blocks
  std::uint64_t used_pages = 0;     // in USED runs
  std::uint64_t used_runs = 0;
  std::uint64_t repairs = 0;        // rebuilds so far (dead holders, bad links)
};
// Walks the map under the lock (O(pages); for tests, benchmarks, describe()).
Stats stats(SegmentHeader& h, std::byte* base) noexcept;

// Sets up a fresh header's heap words (creator, before ready).
void init(SegmentHeader& h) noexcept;

// Crash-test injection point (process-local; nullptr in production): called
// while holding the lock at each step of allocate, split, free and coalesce.
enum class Step : int { alloc_unlinked = 1, alloc_split_written, alloc_switched, bump_head_written,
                        free_marked, merge_next_unlinked, merge_next_switched, merge_prev_unlinked,
                        merge_prev_switched };
inline void (*step_hook)(Step) noexcept = nullptr;

}  // namespace sk::alloc::pages
