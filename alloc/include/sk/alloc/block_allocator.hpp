#pragma once
// The process-safe block allocator that runs inside an arena segment
// (state in SegmentHeader; see header.hpp and docs/arena.md).
//
//   small requests (<= 2048 B after max(bytes, align)): power-of-two blocks
//     16 .. 2048 B, naturally aligned (a block of size s sits at a multiple
//     of s), one lock-free Treiber free list per size; an empty list is
//     refilled by splitting a bigger small block or one page;
//   large requests: a run of whole pages (bytes rounded up to a page), page
//     aligned, from the page heap (page_heap.hpp): any freed run serves any
//     request it can hold, neighbouring free runs merge, bounded time.
#include <cstddef>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/header.hpp>

namespace sk::alloc::blocks {

// Bytes of the block that allocate(bytes, align) hands out (what used() counts).
std::size_t block_size(std::size_t bytes, std::size_t align) noexcept;

// Throws ArenaFull (names the arena, capacity, used, request and what to do)
// or ArenaError (align not a power of two or above 4096).
Offset allocate(std::byte* base, std::size_t bytes, std::size_t align);

// Ignores 0 and offsets that cannot be a block of that size in this arena.
void deallocate(std::byte* base, Offset off, std::size_t bytes, std::size_t align) noexcept;

// Sets up the allocator words of a fresh header (creator, before ready).
void init_allocator(SegmentHeader& h) noexcept;

}  // namespace sk::alloc::blocks
