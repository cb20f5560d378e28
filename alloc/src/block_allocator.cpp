// Block allocator inside an arena segment (see block_allocator.hpp).
//
// Small blocks (<= 2048 B): lock-free. Every change to a small free list is
// ONE successful CAS on its head. Before that CAS the dying process has only
// written into a block it exclusively owns (the `next` link of a block it is
// freeing) or read shared words; after it, the list is complete and
// consistent. So death can only lose the block the process held at that
// moment: a leak, never a broken list, never a block on two lists.
// Large blocks and the pages small lists are carved from come from the page
// heap (page_heap.hpp: TLSF with coalescing under an owner-checked lock).
// `used` is a separate counter updated after the block changes hands: a
// death in between leaves it off by one block (a statistic, not state).
#include <bit>
#include <cstring>
#include <string>

#include <sk/alloc/block_allocator.hpp>
#include <sk/alloc/page_heap.hpp>

namespace sk::alloc::blocks {
namespace {

constexpr std::uint64_t unit_of(Offset off) noexcept { return off / kMinBlock; }
constexpr std::uint64_t pack(std::uint64_t units, std::uint32_t tag) noexcept {
  return (std::uint64_t{tag} << 32) | units;
}
constexpr Offset offset_in(std::uint64_t head) noexcept { return (head & 0xffff'ffffULL) * kMinBlock; }
constexpr std::uint32_t tag_of(std::uint64_t head) noexcept { return static_cast<std::uint32_t>(head >> 32); }

// Free small block layout: [0..8) offset of the next free block (0 = end),
// [8..16) a seal computed from the block's own offset and that link.
// Written only by the process that owns the block (while freeing it),
// before the CAS that publishes it. pop() refuses a head whose block does
// not carry its seal: a damaged or hostile head word (segment file patched,
// a peer writing garbage) that names live data (found by
// tests/fuzz/fuzz_segment_attach: a head patched to a Pipe's ring handed the
// ring's own header out as a message block, and the message overwrote the
// ring's capacity). A seal matches by chance with probability 2^-64.
constexpr std::uint64_t kFreeSeal = 0x21'4B'4C'42'45'45'52'46ULL;  // "FREEBLK!"
constexpr std::uint64_t seal_of(Offset off, Offset next) noexcept {
  return kFreeSeal ^ (off * 0x9E37'79B9'7F4A'7C15ULL) ^ next;
}
struct FreeNode {
  Offset next;
  std::uint64_t seal;
};
void write_node(std::byte* node, Offset off, Offset next) noexcept {
  const FreeNode n{next, seal_of(off, next)};
  std::memcpy(node, &n, sizeof n);
}

// Reads the node of a block that was on top of a free list when we loaded
// the head. Another thread/process may have popped that block since and be
// writing user data into it right now: then the value read here is garbage,
// but our CAS on the head fails (the tag changed with that pop) and the
// value is dropped. This is the one intentional data race of a Treiber
// stack; it is hidden from TSan here so that the block's next owner is not
// reported for its (correctly synchronized) plain writes.
__attribute__((noinline, no_sanitize("thread"))) FreeNode read_node_racy(const std::byte* node) noexcept {
  FreeNode n{};
  std::memcpy(&n, node, sizeof n);
  return n;
}

void push(FreeHead& head, std::byte* base, Offset off) noexcept {
  std::byte* node = base + off;
  std::uint64_t old = head.word.load(std::memory_order_relaxed);
  for (;;) {
    write_node(node, off, offset_in(old));
    const std::uint64_t desired = pack(unit_of(off), tag_of(old) + 1);
    // SYNC POINT: release publishes the block's link and seal (and every
    // write the freeing owner made to the block) to the process that pops
    // it; without it a popper could read a stale `next` and hand out a
    // block twice, or read a stale seal and refuse a good block.
    if (head.word.compare_exchange_weak(old, desired, std::memory_order_release, std::memory_order_relaxed))
      return;
  }
}

// Returns the popped block's offset (0 if the list is empty or its head is
// damaged). Blocks on the list are `block` bytes, aligned to it. `limit` is
// the end of the heap's data pages (past it lie the page map or nothing).
Offset pop(FreeHead& head, std::byte* base, Offset limit, std::size_t block) noexcept {
  // SYNC POINT: acquire pairs with push()'s release: the node we read and
  // the previous owner's writes to the block happen-before our use of it.
  std::uint64_t old = head.word.load(std::memory_order_acquire);
  for (;;) {
    const Offset off = offset_in(old);
    if (off == 0) return 0;
    // Corrupt head: refuse rather than crash or hand out the header. Never
    // happens by construction, but a link is read from a free block, which
    // a broken peer (e.g. a double free through a garbage Pipe block
    // reference) or a tampered segment file can overwrite. Found by
    // tests/fuzz/fuzz_segment_attach: a head pointing into the header made
    // allocate() return an offset below data_start; one near the end would
    // hand out a block that runs past the mapping.
    if (off < kHeaderBytes || off % block != 0 || off > limit - block) return 0;
    const FreeNode node = read_node_racy(base + off);
    if (node.seal != seal_of(off, node.next)) {
      // Either another popper took the block and is writing into it (then
      // the head has moved on: retry from the new one), or the head names
      // something that is not a free block (damage: refuse).
      // SYNC POINT: acquire as above, for the new head's node.
      const std::uint64_t now = head.word.load(std::memory_order_acquire);
      if (now == old) return 0;
      old = now;
      continue;
    }
    const std::uint64_t desired = pack(unit_of(node.next), tag_of(old) + 1);
    // SYNC POINT: acquire on success (as above); on failure we re-read the
    // new head with acquire before following its link.
    if (head.word.compare_exchange_weak(old, desired, std::memory_order_acquire, std::memory_order_acquire)) {
      // The block is ours: wipe its seal, so that a stale head naming it
      // later (damage) cannot pass for a free block while it holds data.
      const std::uint64_t zero = 0;
      std::memcpy(base + off + sizeof(Offset), &zero, sizeof zero);
      return off;
    }
  }
}

constexpr std::size_t small_class(std::size_t block) noexcept {  // block: power of two in [16, 2048]
  return static_cast<std::size_t>(std::countr_zero(block) - std::countr_zero(kMinBlock));
}
void push_small(SegmentHeader& h, std::byte* base, Offset off, std::size_t block) noexcept {
  push(h.small_free[small_class(block)], base, off);
}
// Keeps the first `want` bytes of the naturally aligned block [off, off+have)
// and returns the halves above it to the small lists.
void split_small(SegmentHeader& h, std::byte* base, Offset off, std::size_t have, std::size_t want) noexcept {
  for (std::size_t piece = want; piece < have; piece <<= 1) push_small(h, base, off + piece, piece);
}

Offset allocate_small(SegmentHeader& h, std::byte* base, std::size_t block) {
  const Offset limit = pages::geometry(h.capacity).limit_page * kPageBytes;
  if (Offset off = pop(h.small_free[small_class(block)], base, limit, block)) return off;
  for (std::size_t bigger = block << 1; bigger <= kMaxSmallBlock; bigger <<= 1) {
    if (Offset off = pop(h.small_free[small_class(bigger)], base, limit, bigger)) {
      split_small(h, base, off, bigger, block);
      return off;
    }
  }
  // One page from the page heap, split into power-of-two halves: one lock
  // per page, i.e. per 2 .. 256 small blocks.
  if (Offset off = pages::allocate_small_page(h, base)) {
    split_small(h, base, off, kPageBytes, block);
    return off;
  }
  return 0;
}

std::string human(std::uint64_t bytes) {
  if (bytes >= (1ULL << 30)) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1ULL << 20)) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

[[noreturn]] void throw_full(SegmentHeader& h, std::size_t bytes, std::size_t align, std::size_t block) {
  const std::uint64_t used = h.used.load(std::memory_order_relaxed);
  std::string who = h.name[0] ? "arena '" + std::string(h.name) + "'" : std::string("anonymous arena");
  std::string msg = who + " is full: capacity " + std::to_string(h.capacity) + " bytes (" + human(h.capacity) +
                    "), used " + std::to_string(used) + " bytes, request " + std::to_string(bytes) +
                    " bytes (align " + std::to_string(align) + ", block " + std::to_string(block) +
                    " bytes) does not fit.";
  const pages::Stats st = pages::stats(h, reinterpret_cast<std::byte*>(&h));
  msg += " The largest free run is " + std::to_string(st.largest_free * kPageBytes) + " bytes in " +
         std::to_string(st.free_runs) + " free run(s).";
  msg += " Create the Share/arena with a larger capacity (e.g. " + human(2 * h.capacity + block) + ").";
  throw ArenaFull(msg);
}

}  // namespace

std::size_t block_size(std::size_t bytes, std::size_t align) noexcept {
  std::size_t need = bytes > align ? bytes : align;
  if (need < kMinBlock) need = kMinBlock;
  if (need <= kMaxSmallBlock) return std::bit_ceil(need);
  return (need + kPageBytes - 1) / kPageBytes * kPageBytes;
}

Offset allocate(std::byte* base, std::size_t bytes, std::size_t align) {
  SegmentHeader& h = *header_of(base);
  if (align == 0 || !std::has_single_bit(align) || align > kPageBytes)
    throw ArenaError("Arena::allocate: align " + std::to_string(align) +
                     " is not supported; use a power of two from 1 to 4096");
  if (bytes > h.capacity) throw_full(h, bytes, align, bytes);
  const std::size_t block = block_size(bytes, align);
  const Offset off = block <= kMaxSmallBlock ? allocate_small(h, base, block)
                                             : pages::allocate(h, base, block / kPageBytes);
  if (off == 0) throw_full(h, bytes, align, block);
  h.used.fetch_add(block, std::memory_order_relaxed);
  return off;
}

void deallocate(std::byte* base, Offset off, std::size_t bytes, std::size_t align) noexcept {
  if (off == 0 || base == nullptr) return;
  SegmentHeader& h = *header_of(base);
  if (align == 0 || !std::has_single_bit(align) || align > kPageBytes) return;
  const std::size_t block = block_size(bytes, align);
  const std::size_t natural = block <= kMaxSmallBlock ? block : kPageBytes;
  const std::uint64_t limit = pages::geometry(h.capacity).limit_page * kPageBytes;
  if (off < h.data_start || off % natural != 0 || off + block > limit || off + block < off) return;
  if (block <= kMaxSmallBlock) {
    h.used.fetch_sub(block, std::memory_order_relaxed);
    push_small(h, base, off, block);
  } else if (pages::free(h, base, off, block / kPageBytes)) {  // false: not a live run of that size
    h.used.fetch_sub(block, std::memory_order_relaxed);
  }
}

void init_allocator(SegmentHeader& h) noexcept {
  h.used.store(0, std::memory_order_relaxed);
  h.root.store(0, std::memory_order_relaxed);
  for (auto& f : h.small_free) f.word.store(0, std::memory_order_relaxed);
  pages::init(h);  // sets the bump mark past the page map
}

}  // namespace sk::alloc::blocks
