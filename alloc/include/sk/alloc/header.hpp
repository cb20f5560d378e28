#pragma once
// The header at offset 0 of every arena segment (format version 2). Fixed
// layout, no pointers, no virtuals; static_asserted below. The allocatable
// space starts at kHeaderBytes.
//
//   offset  field                 written by / when
//   0       magic                 creator, LAST of the identity fields (release)
//   8       version, header_bytes creator, before magic
//   16      capacity              creator, before magic (total segment bytes)
//   24      layout_hash           creator, before magic (0 = unchecked)
//   32      creator (OwnerId)     creator, before magic
//   40      data_start            creator, before magic (== kHeaderBytes)
//   48      name[128]             creator, before magic ("" = anonymous)
//   176     layout_desc[512]      creator, before magic (NUL-terminated, truncated)
//   704     init_state            creator: initializing -> ready | failed (release)
//   768     bump, used, root      allocator (atomics)
//   1024    small_free[8]         Treiber heads, one cache line each
//   1536    heap                  page heap: lock, bitmaps, 25x8 free-run lists (page_heap.hpp)
//   2560    attach[64]            packed OwnerIds of processes that mapped it by name
//   3072    page map              one word per page (when it fits; else in the last pages)
//
// Readers that have not mapped the segment yet (open, sweep) read the header
// with pread(); the ones that have mapped it use the atomics.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include <sk/core/futex.hpp>

namespace sk::alloc {

inline constexpr std::uint64_t kSegmentMagic = 0x3141'4E45'5241'4B53ULL;  // bytes "SKARENA1" (little endian)
inline constexpr std::uint32_t kFormatVersion = 2;
inline constexpr std::size_t kPageBytes = 4096;
inline constexpr std::size_t kHeaderBytes = 4096;  // data starts here (page aligned)
inline constexpr std::size_t kMinBlock = 16;        // smallest block; offsets are in 16 B units
inline constexpr std::size_t kSmallClasses = 8;     // 16, 32, ..., 2048 bytes
inline constexpr std::size_t kPageLevels = 25;      // page heap first level: floor(log2 pages), 0..24
inline constexpr std::size_t kPageSubLevels = 8;    // page heap second level: 8 lists per power of two
inline constexpr std::size_t kMaxSmallBlock = kMinBlock << (kSmallClasses - 1);  // 2048
// Free-list heads pack the offset in 16 B units into 32 bits.
inline constexpr std::uint64_t kMaxCapacity = std::uint64_t{1} << 36;  // 64 GiB
inline constexpr std::size_t kMinCapacity = kHeaderBytes + kPageBytes;
inline constexpr std::size_t kNameBytes = 128;
inline constexpr std::size_t kLayoutDescBytes = 512;
inline constexpr std::size_t kAttachSlots = 64;

enum class InitState : std::uint32_t {
  initializing = 0,  // (a zero-filled segment reads as initializing)
  ready = 1,
  failed = 2,
};

// A Treiber free-list head on its own cache line: low 32 bits = block offset
// in 16 B units (0 = empty), high 32 bits = ABA tag bumped by every change.
struct alignas(64) FreeHead {
  std::atomic<std::uint64_t> word{0};
};

// The page heap's shared words (see page_heap.hpp). `lock` is the only
// word touched outside the lock; everything else is read and written only
// by the holder.
struct PageHeap {
  std::atomic<std::uint64_t> lock{0};     // OwnerId::pack() of the holder, 0 = free
  std::atomic<std::uint64_t> repairs{0};  // rebuilds after a dead holder or a bad link (statistic)
  std::uint32_t level_map = 0;            // bit f: some list of level f is not empty
  std::uint32_t small_top = 0;            // pages [small_top, limit) were given to the small lists
  std::uint8_t sub_map[32] = {};          // [f] bit s: list (f, s) is not empty
  std::uint32_t heads[kPageLevels][kPageSubLevels] = {};  // first free run (page index), 0 = empty
};

struct SegmentHeader {
  // ---- identity (immutable once magic is published) ----
  std::atomic<std::uint64_t> magic{0};
  std::uint32_t version = 0;
  std::uint32_t header_bytes = 0;
  std::uint64_t capacity = 0;
  std::uint64_t layout_hash = 0;
  std::uint64_t creator = 0;  // OwnerId::pack()
  std::uint64_t data_start = 0;
  char name[kNameBytes] = {};
  char layout_desc[kLayoutDescBytes] = {};

  // ---- init state ----
  alignas(64) std::atomic<std::uint32_t> init_state{0};  // InitState
  core::WaitPoint init_wait;                              // notified on ready/failed

  // ---- allocator ----
  alignas(64) std::atomic<std::uint64_t> bump{0};  // next fresh byte (offset)
  alignas(64) std::atomic<std::uint64_t> used{0};  // bytes in blocks handed out
  alignas(64) std::atomic<std::uint64_t> root{0};  // the arena's well-known object
  alignas(256) FreeHead small_free[kSmallClasses];
  alignas(64) PageHeap heap;

  // ---- attach table (named segments): 0 = free slot ----
  alignas(256) std::atomic<std::uint64_t> attach[kAttachSlots] = {};
};

static_assert(std::is_standard_layout_v<SegmentHeader>);
static_assert(sizeof(SegmentHeader) <= kHeaderBytes);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8);
static_assert(offsetof(SegmentHeader, magic) == 0);
static_assert(offsetof(SegmentHeader, version) == 8);
static_assert(offsetof(SegmentHeader, capacity) == 16);
static_assert(offsetof(SegmentHeader, layout_hash) == 24);
static_assert(offsetof(SegmentHeader, creator) == 32);
static_assert(offsetof(SegmentHeader, data_start) == 40);
static_assert(offsetof(SegmentHeader, name) == 48);
static_assert(offsetof(SegmentHeader, layout_desc) == 176);
static_assert(offsetof(SegmentHeader, init_state) == 704);
static_assert(offsetof(SegmentHeader, bump) == 768);
static_assert(offsetof(SegmentHeader, small_free) == 1024);
static_assert(offsetof(SegmentHeader, heap) == 1536);
static_assert(offsetof(SegmentHeader, attach) == 2560);
// The page map sits right after the header when it fits (small arenas).
inline constexpr std::size_t kMapInHeader = 3072;
static_assert(sizeof(SegmentHeader) <= kMapInHeader);

inline SegmentHeader* header_of(std::byte* base) noexcept { return reinterpret_cast<SegmentHeader*>(base); }

// A plain copy of a header's fields, decoded from bytes read with pread()
// (by processes that have not mapped the segment: open, sweep). Fields the
// read did not reach stay zero; `bytes` says how many were read.
struct HeaderSnapshot {
  std::size_t bytes = 0;
  std::uint64_t magic = 0;
  std::uint32_t version = 0;
  std::uint32_t header_bytes = 0;
  std::uint64_t capacity = 0;
  std::uint64_t layout_hash = 0;
  std::uint64_t creator = 0;
  std::uint32_t init_state = 0;
  char name[kNameBytes] = {};
  char layout_desc[kLayoutDescBytes] = {};
  std::uint64_t attach[kAttachSlots] = {};

  bool complete() const noexcept { return bytes >= sizeof(SegmentHeader); }
};

inline HeaderSnapshot decode_header(const unsigned char* raw, std::size_t n) noexcept {
  HeaderSnapshot s;
  s.bytes = n;
  auto get = [&](std::size_t off, void* dst, std::size_t len) {
    if (off + len <= n) std::memcpy(dst, raw + off, len);
  };
  get(offsetof(SegmentHeader, magic), &s.magic, 8);
  get(offsetof(SegmentHeader, version), &s.version, 4);
  get(offsetof(SegmentHeader, header_bytes), &s.header_bytes, 4);
  get(offsetof(SegmentHeader, capacity), &s.capacity, 8);
  get(offsetof(SegmentHeader, layout_hash), &s.layout_hash, 8);
  get(offsetof(SegmentHeader, creator), &s.creator, 8);
  get(offsetof(SegmentHeader, init_state), &s.init_state, 4);
  get(offsetof(SegmentHeader, name), s.name, kNameBytes);
  get(offsetof(SegmentHeader, layout_desc), s.layout_desc, kLayoutDescBytes);
  get(offsetof(SegmentHeader, attach), s.attach, sizeof s.attach);
  s.name[kNameBytes - 1] = '\0';
  s.layout_desc[kLayoutDescBytes - 1] = '\0';
  return s;
}

}  // namespace sk::alloc
