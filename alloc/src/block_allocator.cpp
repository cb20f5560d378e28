// Lock-free block allocator inside an arena segment (see block_allocator.hpp).
//
// Why a process SIGKILLed at any instruction never corrupts the lists:
// every change to shared allocator state is ONE successful CAS on one word
// (a free-list head or the bump pointer). Before that CAS the dying process
// has only written into a block it exclusively owns (the `next` link of a
// block it is freeing) or read shared words; after it, the shared state is
// complete and consistent. So death can only lose the block the process held
// at that moment (popped but not yet returned to its caller, or being freed,
// or the rest of a run it was splitting): a leak, never a broken list, never
// a block on two lists, never a waiter (nothing here waits).
// `used` is a separate counter updated after the CAS: a death in between
// leaves it off by one block (it is a statistic, not allocator state).
#include <bit>
#include <cstring>
#include <string>

#include <sk/alloc/block_allocator.hpp>

namespace sk::alloc::blocks {
namespace {

constexpr std::uint64_t unit_of(Offset off) noexcept { return off / kMinBlock; }
constexpr std::uint64_t pack(std::uint64_t units, std::uint32_t tag) noexcept {
  return (std::uint64_t{tag} << 32) | units;
}
constexpr Offset offset_in(std::uint64_t head) noexcept { return (head & 0xffff'ffffULL) * kMinBlock; }
constexpr std::uint32_t tag_of(std::uint64_t head) noexcept { return static_cast<std::uint32_t>(head >> 32); }

// Free block layout: [0..8) offset of the next free block (0 = end),
// [8..16) run length in pages (large lists only). Written only by the process
// that owns the block (while freeing it), before the CAS that publishes it.
void write_link(std::byte* node, Offset next, std::uint64_t pages) noexcept {
  std::memcpy(node, &next, sizeof next);
  if (pages) std::memcpy(node + 8, &pages, sizeof pages);
}
std::uint64_t read_pages(const std::byte* node) noexcept {
  std::uint64_t pages = 0;
  std::memcpy(&pages, node + 8, sizeof pages);
  return pages;
}

// Reads the `next` link of a block that was on top of a free list when we
// loaded the head. Another thread/process may have popped that block since
// and be writing user data into it right now: then the value read here is
// garbage, but our CAS on the head fails (the tag changed with that pop) and
// the value is dropped. This is the one intentional data race of a Treiber
// stack; it is hidden from TSan here so that the block's next owner is not
// reported for its (correctly synchronized) plain writes.
__attribute__((noinline, no_sanitize("thread"))) Offset read_next_racy(const std::byte* node) noexcept {
  Offset next = 0;
  std::memcpy(&next, node, sizeof next);
  return next;
}

void push(FreeHead& head, std::byte* base, Offset off, std::uint64_t pages = 0) noexcept {
  std::byte* node = base + off;
  std::uint64_t old = head.word.load(std::memory_order_relaxed);
  for (;;) {
    write_link(node, offset_in(old), pages);
    const std::uint64_t desired = pack(unit_of(off), tag_of(old) + 1);
    // SYNC POINT: release publishes the block's link (and every write the
    // freeing owner made to the block) to the process that pops it; without
    // it a popper could read a stale `next` and hand out a block twice.
    if (head.word.compare_exchange_weak(old, desired, std::memory_order_release, std::memory_order_relaxed))
      return;
  }
}

// Returns the popped block's offset (0 if the list is empty). Blocks on the
// list are `block` bytes (large lists: at least one page), aligned to it.
Offset pop(FreeHead& head, std::byte* base, Offset capacity, std::size_t block) noexcept {
  // SYNC POINT: acquire pairs with push()'s release: the link we follow and
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
    if (off < kHeaderBytes || off % block != 0 || off > capacity - block) return 0;
    const Offset next = read_next_racy(base + off);
    const std::uint64_t desired = pack(unit_of(next), tag_of(old) + 1);
    // SYNC POINT: acquire on success (as above); on failure we re-read the
    // new head with acquire before following its link.
    if (head.word.compare_exchange_weak(old, desired, std::memory_order_acquire, std::memory_order_acquire))
      return off;
  }
}

constexpr std::size_t small_class(std::size_t block) noexcept {  // block: power of two in [16, 2048]
  return static_cast<std::size_t>(std::countr_zero(block) - std::countr_zero(kMinBlock));
}
constexpr std::size_t large_class(std::uint64_t pages) noexcept {  // floor(log2(pages))
  const auto c = static_cast<std::size_t>(std::bit_width(pages) - 1);
  return c < kLargeClasses ? c : kLargeClasses - 1;
}

void push_small(SegmentHeader& h, std::byte* base, Offset off, std::size_t block) noexcept {
  push(h.small_free[small_class(block)], base, off);
}
void push_large(SegmentHeader& h, std::byte* base, Offset off, std::uint64_t pages) noexcept {
  push(h.large_free[large_class(pages)], base, off, pages);
}

// Hands [a, b) (multiples of 16, b - a < one page) to the small lists as
// naturally aligned power-of-two blocks.
void push_gap(SegmentHeader& h, std::byte* base, Offset a, Offset b) noexcept {
  while (a < b) {
    std::size_t piece = std::size_t{1} << std::countr_zero(a);
    while (piece > b - a || piece > kMaxSmallBlock) piece >>= 1;
    push_small(h, base, a, piece);
    a += piece;
  }
}

// Keeps the first `want` bytes of the naturally aligned block [off, off+have)
// and returns the halves above it to the small lists.
void split_small(SegmentHeader& h, std::byte* base, Offset off, std::size_t have, std::size_t want) noexcept {
  for (std::size_t piece = want; piece < have; piece <<= 1) push_small(h, base, off + piece, piece);
}

Offset bump(SegmentHeader& h, std::byte* base, std::size_t bytes, std::size_t align) noexcept {
  // Relaxed is enough: the bump word only hands out fresh (never used,
  // zero-filled) space, and the CAS makes each range unique.
  std::uint64_t old = h.bump.load(std::memory_order_relaxed);
  Offset start = 0;
  for (;;) {
    start = (old + align - 1) & ~static_cast<std::uint64_t>(align - 1);
    const std::uint64_t end = start + bytes;
    // A corrupt bump word (tampered file; fuzz findings, see pop()) below
    // the data start would hand out the header, and one off the 16-byte
    // grid would make push_gap() index a small list out of bounds: refuse
    // both like a full arena.
    if (end > h.capacity || end < start || old < kHeaderBytes || old % kMinBlock != 0) return 0;
    if (h.bump.compare_exchange_weak(old, end, std::memory_order_relaxed, std::memory_order_relaxed)) break;
  }
  if (start > old) push_gap(h, base, old, start);
  return start;
}

Offset pop_large(SegmentHeader& h, std::byte* base, std::uint64_t pages) noexcept {
  const std::size_t first = static_cast<std::size_t>(std::bit_width(pages - 1));  // ceil(log2(pages))
  for (std::size_t c = first; c < kLargeClasses; ++c) {
    const Offset off = pop(h.large_free[c], base, h.capacity, kPageBytes);
    if (off == 0) continue;
    const std::uint64_t have = read_pages(base + off);
    // The run length is read from the free block itself: a corrupt one must
    // not make us split past the end of the mapping (the rest would be
    // pushed, i.e. written, outside it) or hand out a short run. Drop the
    // block (a leak) instead. (Same fault class as in pop(); fuzz finding.)
    if (have < pages || have > (h.capacity - off) / kPageBytes) continue;
    if (have > pages) push_large(h, base, off + pages * kPageBytes, have - pages);
    return off;
  }
  return 0;
}

Offset allocate_small(SegmentHeader& h, std::byte* base, std::size_t block) noexcept {
  if (Offset off = pop(h.small_free[small_class(block)], base, h.capacity, block)) return off;
  if (Offset off = bump(h, base, block, block)) return off;
  for (std::size_t bigger = block << 1; bigger <= kMaxSmallBlock; bigger <<= 1) {
    if (Offset off = pop(h.small_free[small_class(bigger)], base, h.capacity, bigger)) {
      split_small(h, base, off, bigger, block);
      return off;
    }
  }
  if (Offset off = pop_large(h, base, 1)) {
    split_small(h, base, off, kPageBytes, block);
    return off;
  }
  return 0;
}

Offset allocate_large(SegmentHeader& h, std::byte* base, std::uint64_t pages) noexcept {
  if (Offset off = pop_large(h, base, pages)) return off;
  return bump(h, base, pages * kPageBytes, kPageBytes);
}

std::string human(std::uint64_t bytes) {
  if (bytes >= (1ULL << 30)) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (1ULL << 20)) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " B";
}

[[noreturn]] void throw_full(const SegmentHeader& h, std::size_t bytes, std::size_t align, std::size_t block) {
  const std::uint64_t used = h.used.load(std::memory_order_relaxed);
  std::string who = h.name[0] ? "arena '" + std::string(h.name) + "'" : std::string("anonymous arena");
  std::string msg = who + " is full: capacity " + std::to_string(h.capacity) + " bytes (" + human(h.capacity) +
                    "), used " + std::to_string(used) + " bytes, request " + std::to_string(bytes) +
                    " bytes (align " + std::to_string(align) + ", block " + std::to_string(block) +
                    " bytes) does not fit.";
  if (used + block + kHeaderBytes <= h.capacity)
    msg += " (Freed blocks of other sizes are not merged, so space can be fragmented.)";
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
                                             : allocate_large(h, base, block / kPageBytes);
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
  if (off < h.data_start || off % natural != 0 || off + block > h.capacity || off + block < off) return;
  h.used.fetch_sub(block, std::memory_order_relaxed);
  if (block <= kMaxSmallBlock)
    push_small(h, base, off, block);
  else
    push_large(h, base, off, block / kPageBytes);
}

void init_allocator(SegmentHeader& h) noexcept {
  h.bump.store(h.data_start, std::memory_order_relaxed);
  h.used.store(0, std::memory_order_relaxed);
  h.root.store(0, std::memory_order_relaxed);
  for (auto& f : h.small_free) f.word.store(0, std::memory_order_relaxed);
  for (auto& f : h.large_free) f.word.store(0, std::memory_order_relaxed);
}

}  // namespace sk::alloc::blocks
