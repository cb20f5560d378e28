#pragma once
// sk::List<T>: an append-only shared list of any Serializable T, appended to
// from every process at once without a global lock.
//
//   struct State { sk::List<std::string> names; };
//   share->names.append("ada");                  // any process
//   std::vector<std::string> all = share->names.snapshot();
//   std::string first = share->names.at(0);
//
// Index space and cells. append() takes the next index with one fetch_add on
// `reserved_`; an index is never reused (it is the sequence number append
// returns). Cell i lives in a chunk: chunks are installed in index order, one
// process at a time (it claims `installer_` with its OwnerId; others sleep on
// a WaitPoint in 2 ms slices and take the claim from a dead installer), and
// described by {offset, first index, cells} in a ring of 64 descriptors. A
// new chunk holds bit_ceil(live elements) cells (at least 64), so a growing
// list doubles and a list that is cleared starts small again. A cell is one
// state word plus the element: inline words when T is trivially copyable,
// else {offset, bytes} of an arena block holding the sk::ser payload.
//
// Append (fetch_add, holes resolved by liveness). Before its fetch_add an
// appender claims one of 32 append slots (CAS of the slot's owner word from 0
// to its OwnerId) and writes there a lower bound of the index it will get (the
// slot's previous index + 1: `reserved_` only grows); after the fetch_add it
// writes the exact index. It fills the cell and publishes it (release store of
// the state: empty -> published), then frees the slot. So every index below
// `reserved_` whose cell is still empty is either covered by a slot whose
// owner is the appender (alive: wait for it) or by no live slot (the appender
// died between its fetch_add and its publish, or threw): a reader that finds
// such a hole waits a bounded spin, scans the slots, asks
// sk::alloc::is_alive(owner) of each covering one, and only if none is alive
// marks the cell dead (CAS empty -> dead; the CAS is what decides against a
// late publish, so a live appender is never overruled). A thread that finds
// all 32 slots held waits for one (and frees those of dead holders). An
// appender that throws after its fetch_add (ArenaFull for a chunk, encode
// error in append_with) marks its cell dead if it exists; a hole without a
// chunk is resolved once a later appender installs that chunk. append()
// encodes and allocates a non-trivial element's block before reserving, so an
// ArenaFull there burns no index.
//
// Prefix and counts. Readers see the published prefix [base_, prefix_).
// Whoever reads moves `prefix_` over cells that are published or dead, and
// first stamps each such cell "passed" together with the number of dead cells
// at or below it (dead_below(x) = that number of cell x-1). So for any base b
// and prefix p that a reader sees, size() = (p - b) - (dead_below(p) -
// dead_below(b)); at(i) finds its cell by bisection over the same counts;
// snapshot() walks [b, p). All three count the same cells: size(), at() and
// snapshot() agree, also next to a slow live appender with dead cells above
// it (issue #14), and clear() is one word update (base_ := prefix), so a
// clear() killed at any instruction leaves them in agreement.
//
// Readers and reclamation (issue #15). Every read (size, at, snapshot,
// for_each, and clear's own advance) runs in a read section: it claims one of
// 32 reader slots, stores there the base it will use as its floor (seq_cst),
// then re-reads base_ (seq_cst) and retries until the two agree. A reader
// with floor f touches cells >= f - 1 (cell f - 1 for its dead count) and the
// blocks of cells >= f. clear() moves base_ (seq_cst CAS) and then reclaims:
// it reads base_ and then every reader floor (both seq_cst), and frees element
// blocks of cells below L = min(base, floors of live readers) and chunks that
// end below L. Either a reader's floor store precedes the reclaimer's scan in
// the single total order (the scan sees it), or the reader's validating base_
// load follows the reclaimer's base_ load (its floor is then >= that base >=
// L): no reader is ever inside freed memory, and no validated copy of freed
// bytes is needed. A reader whose process died inside its section is dropped
// from the scan (is_alive) and its slot freed; a live reader delays the free
// of what it might touch until a later clear(), or an append (every 256th
// index checks for pending work). One reclaimer at a time (`reclaimer_`,
// owner id, taken over from a dead holder); it advances `blocks_freed_` /
// `chunks_begin_` before each free, so a reclaimer killed at any instruction
// leaks at most the one block or chunk it was freeing, never frees twice.
// Appenders need no read section: a live appender's cell is never below the
// prefix, so never below base_ or in a freed chunk.
//
// SYNC POINTs (each is commented where it is):
//   reserve()       the fetch_add (acq_rel) heads a release sequence: a reader
//                   whose acquire load of reserved_ shows index q reserved sees
//                   q's slot claim and lower bound, so the hole check cannot
//                   miss a live appender;
//   publish()       release store of the state after the payload words;
//                   readers acquire the state (the passing CAS continues that
//                   release sequence);
//   end_append()    release of the slot after the publish: a reader that sees
//                   the slot free finds the cell published;
//   resolve_hole()  the CAS empty -> dead, the one arbiter against a late
//                   publish;
//   advance()       passing CAS of each cell, then the prefix CAS (release);
//                   dead_below() acquires the passed state;
//   ReadSection     seq_cst floor store and base_ re-read, against reclaim()'s
//                   seq_cst base_ load and floor scan (Dekker, above);
//   install_next()  release store of chunks_end_ after the descriptor and the
//                   zeroed cells, acquired by locate(); the claim word hands
//                   the ring from one installer to the next;
//   reclaim()       progress words stored (release) before each free; the claim
//                   word hands them to the next reclaimer.
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/header.hpp>
#include <sk/alloc/owner.hpp>
#include <sk/core/backoff.hpp>
#include <sk/core/cacheline.hpp>
#include <sk/core/futex.hpp>
#include <sk/ipc/serialize.hpp>
#include <sk/share_errors.hpp>
#include <sk/slots/arena_block.hpp>
#include <sk/slots/list_element.hpp>

namespace sk {

namespace slots {
// A small per-thread number (0 for the first thread of a process) that
// spreads the threads of one process over a List's append and reader slots.
inline std::uint32_t list_thread_number() noexcept {
  static std::atomic<std::uint32_t> next{0};
  thread_local const std::uint32_t n = next.fetch_add(1, std::memory_order_relaxed);
  return n;
}

// Crash-test injection point (process-local; nullptr in production): called
// at each step below. Tests SIGKILL (or stop) themselves there.
enum class ListStep : int {
  reserved = 1,    // an append's fetch_add returned; nothing written yet but the slot's lower bound
  cleared,         // clear() moved base_, nothing reclaimed yet
  block_released,  // reclaim advanced blocks_freed_ past a cell, its block not yet freed
  chunk_released,  // reclaim advanced chunks_begin_ past a chunk, not yet freed
  reading,         // inside a read section, floor published
};
inline void (*list_step_hook)(ListStep) noexcept = nullptr;
}  // namespace slots

template <ser::Serializable T>
class List {
  static_assert(std::is_default_constructible_v<T>, "sk::List<T> copies elements out into a default-constructed T");

 public:
  static constexpr std::string_view kind = "List";
  // Folded into the Share layout hash: T's SK_FIELDS signature (see sk::Value).
  // The List's own layout is in the hash through its size (10 KiB since the
  // fetch_add reservation and the chunk ring).
  static constexpr std::uint64_t layout_hash() noexcept { return ser::detail::FieldsAccess::signature<T>(); }
  using value_type = T;
  static constexpr bool kInline = std::is_trivially_copyable_v<T>;
  static constexpr std::size_t kPayloadWords = kInline ? (sizeof(T) + 7) / 8 : 2;
  static constexpr std::size_t kCellBytes = 8 * (1 + kPayloadWords);
  static constexpr std::uint64_t kFirstChunk = 64;    // cells of the smallest chunk
  static constexpr std::uint64_t kMaxChunkCells = std::uint64_t{1} << 40;
  static constexpr std::size_t kChunkRing = 64;       // chunks installed and not yet returned, at most
  static constexpr std::size_t kAppendSlots = 32;     // appends in flight at once, at most
  static constexpr std::size_t kReaderSlots = 32;     // read sections at once, at most
  static constexpr std::uint64_t kReclaimEvery = 256;  // appends check for pending reclamation at these indices
  // Waiters for a chunk install sleep in slices this long between checks
  // that the installer is alive.
  static constexpr std::chrono::milliseconds kInstallSlice{2};
  // Cell states. Passed cells (below the prefix) also carry the number of
  // dead cells at or below them: (dead << 3) | kPassed | kPublished-or-kDead.
  static constexpr std::uint64_t kEmpty = 0;
  static constexpr std::uint64_t kPublished = 1;
  static constexpr std::uint64_t kDead = 2;
  static constexpr std::uint64_t kPassed = 4;

  List() : self_(slots::construction_offset(this, "List")) {}
  ~List() {
    // Runs only when the owning Share is destroyed (no users left).
    if constexpr (!kInline) {
      try {
        Cursor cur;
        // SYNC POINT: acquire pairs with reserve()'s fetch_add: every index
        // below is reserved (its block, if any, is freed here).
        const std::uint64_t end = std::min(reserved_.load(std::memory_order_acquire), cells_end());
        for (std::uint64_t i = blocks_freed_.load(std::memory_order_relaxed); i < end; ++i) {
          std::byte* cell = locate(i, cur);
          if (cell != nullptr) free_block_of(cell);
        }
      } catch (const SlotPoisoned&) {
        // overwritten descriptors: leave the blocks (the arena goes with the Share)
      }
    }
    const std::uint64_t e = chunks_end_.load(std::memory_order_relaxed);
    for (std::uint64_t c = chunks_begin_.load(std::memory_order_relaxed); c < e; ++c) {
      const ChunkDesc& d = ring_[c % kChunkRing];
      arena().deallocate(d.offset.load(std::memory_order_relaxed), chunk_bytes(d.cells.load(std::memory_order_relaxed)),
                         slots::kBlockAlign);
    }
  }
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  // Appends v (any process, concurrently). Returns its sequence number: the
  // position in the list's total order of appends (never reused, also across
  // clear()).
  std::uint64_t append(const T& v) {
    // The element (and its block) exists before the index does: an encode
    // error or ArenaFull here leaves no dead cell behind.
    std::uint64_t payload[kPayloadWords]{};
    encode_element(v, payload);
    try {
      return append_payload(payload);
    } catch (...) {
      release_element(payload);
      throw;
    }
  }
  std::uint64_t push_back(const T& v) { return append(v); }
  // Appends every element, each as by append() (elements of other processes
  // may interleave; this process's stay in order).
  template <class Range>
  void extend(const Range& values) {
    for (const auto& v : values) append(v);
  }
  // Low level: make(seq) builds the element once its sequence number is known
  // (for elements that carry their own sequence number). If make or the
  // encoding throws, the index stays a dead cell.
  template <class Make>
  std::uint64_t append_with(Make&& make) {
    AppendSlot& slot = begin_append();
    const std::uint64_t i = reserve(slot);
    std::byte* cell = nullptr;
    try {
      cell = cell_for_append(i);
      std::uint64_t payload[kPayloadWords]{};
      encode_element(make(i), payload);
      publish(cell, payload);
    } catch (...) {
      abandon(slot, cell);
      throw;
    }
    end_append(slot, i);
    return i;
  }

  // Elements in the published prefix (dead cells not counted).
  std::size_t size() const {
    ReadSection rs(*this);
    return static_cast<std::size_t>(count(rs.base(), advance()));
  }
  bool empty() const { return size() == 0; }

  // The i-th element of the published prefix (std::out_of_range past it).
  T at(std::size_t i) const {
    std::uint64_t n = 0;
    {
      ReadSection rs(*this);
      const std::uint64_t b = rs.base();
      const std::uint64_t p = advance();
      n = count(b, p);
      if (i < n) {
        T out{};
        read_published(find_element(b, p, i), out);
        return out;
      }
    }
    throw std::out_of_range("sk::List::at(" + std::to_string(i) + "): the list has " + std::to_string(n) +
                            " element(s)");
  }
  // A read-only copy: `list[i] = x` does not compile (it would change nothing).
  ListElement<T> operator[](std::size_t i) const { return ListElement<T>(at(i)); }

  // Copy of the published prefix, in order.
  std::vector<T> snapshot() const {
    std::vector<T> out;
    for_each([&](T v) { out.push_back(std::move(v)); });
    return out;
  }
  // fn(T) for every element of one published prefix, in order (the elements
  // are copied out first; fn runs outside the list and may use it).
  template <class Fn>
  void for_each(Fn&& fn) const {
    std::vector<T> items;
    {
      ReadSection rs(*this);
      const std::uint64_t b = rs.base();
      const std::uint64_t p = advance();
      items.reserve(static_cast<std::size_t>(count(b, p)));
      Cursor cur;
      for (std::uint64_t idx = b; idx < p; ++idx) {
        std::byte* cell = existing(idx, cur);
        // SYNC POINT: acquire pairs with the appender's release of the state
        // (passed states are CASes in its release sequence): the payload
        // words below are the appender's.
        if ((word(cell, 0).load(std::memory_order_acquire) & kPublished) == 0) continue;
        T v{};
        read_cell(cell, idx, v);
        items.push_back(std::move(v));
      }
    }
    for (auto& v : items) fn(std::move(v));
  }

  // Removes every published element (see the class comment): base_ moves to
  // the prefix, then what no reader can still touch goes back to the arena.
  void clear() {
    {
      ReadSection rs(*this);
      const std::uint64_t p = advance();
      // SYNC POINT: seq_cst load, the read half of the base_/floor protocol
      // below (see ReadSection): it orders against readers' floors.
      std::uint64_t b = base_.load(std::memory_order_seq_cst);
      // SYNC POINT: seq_cst CAS: the reclaimer's seq_cst load of base_ and
      // the readers' floor protocol (ReadSection) order against it; release
      // also publishes the passed states below p (dead counts) to readers
      // that take the new base.
      while (b < p && !base_.compare_exchange_weak(b, p, std::memory_order_seq_cst, std::memory_order_seq_cst)) {
      }
    }
    if (slots::list_step_hook != nullptr) [[unlikely]] slots::list_step_hook(slots::ListStep::cleared);
    reclaim();
  }

  // Total appends reserved so far (including unpublished and dead ones).
  // SYNC POINT: acquire, pairs with reserve()'s fetch_add (a count only).
  std::uint64_t reserved() const noexcept { return reserved_.load(std::memory_order_acquire); }

  std::string describe_value() const { return std::to_string(size()) + " item(s)"; }

 private:
  struct ChunkDesc {
    std::atomic<std::uint64_t> offset{0};
    std::atomic<std::uint64_t> start{0};  // index of its first cell
    std::atomic<std::uint64_t> cells{0};
  };
  // One cache-line pair each (the adjacent-line prefetcher pairs lines): an
  // appender / reader writes its own slot only.
  struct alignas(core::kFalseSharingRange) AppendSlot {
    std::atomic<std::uint64_t> owner{0};  // OwnerId of the appender in flight, 0 = free
    std::atomic<std::uint64_t> mark{0};   // (index << 1) | exact: exact index, or a lower bound of it
  };
  struct alignas(core::kFalseSharingRange) ReaderSlot {
    std::atomic<std::uint64_t> owner{0};       // OwnerId of the reader, 0 = free
    std::atomic<std::uint64_t> floor{kIdle};   // lowest base the reader may use; kIdle = none
  };
  static constexpr std::uint64_t kIdle = ~std::uint64_t{0};
  // The chunk a walk is in, so that consecutive cells cost no lookup.
  struct Cursor {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    std::byte* cells = nullptr;
  };

  alloc::ArenaView arena() const noexcept { return alloc::ArenaView::of(this, self_); }
  static std::size_t chunk_bytes(std::uint64_t cells) noexcept { return static_cast<std::size_t>(cells) * kCellBytes; }
  static std::atomic_ref<std::uint64_t> word(std::byte* cell, std::size_t w) noexcept {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(cell + 8 * w));
  }
  static std::uint64_t passed(std::uint64_t s, std::uint64_t dead_below) noexcept {
    const std::uint64_t dead = dead_below + ((s & kDead) != 0 ? 1 : 0);
    return (dead << 3) | kPassed | (s & (kPublished | kDead));
  }
  static std::uint64_t dead_upto(std::uint64_t passed_state) noexcept { return passed_state >> 3; }


  // ---- cells and chunks ----------------------------------------------------------

  // Index one past the newest installed chunk.
  std::uint64_t cells_end() const noexcept {
    // SYNC POINT: acquire pairs with the installer's release of chunks_end_:
    // the descriptor (and the zeroed cells) of every chunk below it.
    const std::uint64_t e = chunks_end_.load(std::memory_order_acquire);
    if (e == 0) return 0;
    const ChunkDesc& d = ring_[(e - 1) % kChunkRing];
    return d.start.load(std::memory_order_relaxed) + d.cells.load(std::memory_order_relaxed);
  }

  // Cell j, or nullptr if no installed chunk holds it. Callers only ask for
  // cells that no reclaimer can free under them (see the class comment); the
  // walk goes from the newest chunk down and stops at j's, so it never reads
  // the descriptor of a returned chunk. A descriptor that does not describe
  // a chunk inside the arena (the shared memory was overwritten) throws
  // SlotPoisoned rather than being followed.
  std::byte* locate(std::uint64_t j, Cursor& cur) const {
    if (cur.cells != nullptr && j >= cur.start && j < cur.end) return cur.cells + (j - cur.start) * kCellBytes;
    // SYNC POINT: acquire, as in cells_end().
    const std::uint64_t e = chunks_end_.load(std::memory_order_acquire);
    for (std::uint64_t k = e, steps = 0; k > 0 && steps < kChunkRing; --k, ++steps) {
      const ChunkDesc& d = ring_[(k - 1) % kChunkRing];
      const std::uint64_t start = d.start.load(std::memory_order_relaxed);
      if (j < start) continue;
      const std::uint64_t cells = d.cells.load(std::memory_order_relaxed);
      const std::uint64_t off = d.offset.load(std::memory_order_relaxed);
      if (cells == 0 || cells > kMaxChunkCells || !in_mapping(off, chunk_bytes(cells)))
        throw SlotPoisoned("sk::List: the descriptor of chunk " + std::to_string(k - 1) + " ({offset " +
                           std::to_string(off) + ", " + std::to_string(cells) +
                           " cells}) does not lie in the arena; the shared memory was overwritten by something else");
      if (j - start >= cells) return nullptr;  // past the newest chunk
      cur = Cursor{start, start + cells, arena().base() + off};
      return cur.cells + (j - start) * kCellBytes;
    }
    return nullptr;
  }
  // [off, off + bytes) is 16-aligned and lies in the data part of the
  // mapping (the capacity Arena::open checked against the file). Inline: it
  // runs on every append.
  bool in_mapping(std::uint64_t off, std::uint64_t bytes) const noexcept {
    const std::uint64_t capacity = alloc::header_of(arena().base())->capacity;
    return off % slots::kBlockAlign == 0 && off >= alloc::kHeaderBytes && bytes <= capacity && off <= capacity - bytes;
  }
  // Cell j, which must exist (it lies below the prefix, or is being reclaimed).
  std::byte* existing(std::uint64_t j, Cursor& cur) const {
    if (std::byte* cell = locate(j, cur)) return cell;
    throw SlotPoisoned("sk::List: cell " + std::to_string(j) +
                       " lies in no chunk although the list's counters say it exists; the shared memory was "
                       "overwritten by something else");
  }

  std::byte* cell_for_append(std::uint64_t i) {
    Cursor cur;
    for (int rounds = 0;; ++rounds) {
      if (std::byte* cell = locate(i, cur)) return cell;
      if (rounds > static_cast<int>(kChunkRing) + 64)
        throw SlotPoisoned("sk::List: no chunk covers index " + std::to_string(i) +
                           "; the list's chunk table was overwritten by something else");
      install_next();
    }
  }

  // Installs the next chunk above the newest one, unless another process
  // does it first (then returns so the caller looks again). Throws ArenaFull
  // when even the smallest chunk does not fit.
  void install_next() {
    // SYNC POINT: acquire, as in cells_end().
    const std::uint64_t seen = chunks_end_.load(std::memory_order_acquire);
    const std::uint64_t me = alloc::self_owner().pack();
    for (;;) {
      std::uint64_t holder = 0;
      // SYNC POINT: acq_rel CAS: one installer at a time; acquire also makes
      // the previous installer's chunk visible to the re-check below.
      if (installer_.compare_exchange_strong(holder, me, std::memory_order_acq_rel, std::memory_order_acquire)) break;
      if (chunks_end_.load(std::memory_order_acquire) != seen) return;
      // Sleep (futex, after a short spin) until the installer publishes or
      // lets go: zeroing a large chunk takes milliseconds, and waiters that
      // spun or yielded would take the core from the installer.
      install_wait_.wait_for(
          [&] {
            // SYNC POINT: acquire loads, pair with the installer's release of
            // chunks_end_ (the new chunk) and of the claim word (it left).
            return chunks_end_.load(std::memory_order_acquire) != seen ||
                   installer_.load(std::memory_order_acquire) != holder;
          },
          kInstallSlice, 16);
      // SYNC POINT: acquire, as in cells_end().
      if (chunks_end_.load(std::memory_order_acquire) != seen) return;
      // A dead installer never releases the claim: take it back from it.
      // SYNC POINT: acquire load and acq_rel CAS of the claim, as above.
      if (installer_.load(std::memory_order_acquire) == holder && !alloc::is_alive(alloc::OwnerId::unpack(holder)))
        installer_.compare_exchange_strong(holder, 0, std::memory_order_acq_rel, std::memory_order_relaxed);
    }
    struct Release {
      std::atomic<std::uint64_t>& word;
      core::WaitPoint& wait;
      ~Release() {
        // SYNC POINT: release orders our chunk before the next installer's
        // acquire of the claim; notify_all's fence then wakes the waiters
        // (they re-check chunks_end_ and the claim).
        word.store(0, std::memory_order_release);
        wait.notify_all();
      }
    } release{installer_, install_wait_};
    // SYNC POINT: acquire loads, pair with the previous installer's release
    // of chunks_end_ and the reclaimer's release of chunks_begin_.
    const std::uint64_t e = chunks_end_.load(std::memory_order_acquire);
    if (e != seen) return;  // installed while we waited for the claim
    const std::uint64_t begin = chunks_begin_.load(std::memory_order_acquire);
    if (e - begin >= kChunkRing)
      throw ShareError("sk::List: " + std::to_string(kChunkRing) +
                       " chunks of this list are still in use by its readers; a reader that stays inside the list "
                       "(a stopped process) keeps cleared chunks from being returned; let it continue");
    std::uint64_t start = 0;
    std::uint64_t span = 0;
    if (e > 0) {
      const ChunkDesc& last = ring_[(e - 1) % kChunkRing];
      start = last.start.load(std::memory_order_relaxed) + last.cells.load(std::memory_order_relaxed);
      span = start - ring_[begin % kChunkRing].start.load(std::memory_order_relaxed);
    }
    const std::uint64_t r = reserved_.load(std::memory_order_relaxed);
    const std::uint64_t b = base_.load(std::memory_order_relaxed);
    std::uint64_t cells = std::bit_ceil(std::clamp<std::uint64_t>(r > b ? r - b : 0, kFirstChunk, kMaxChunkCells));
    // Chunks that readers keep from being returned still take ring entries:
    // past half the ring, grow with everything held so it never fills.
    if (e - begin >= kChunkRing / 2) cells = std::max(cells, std::bit_ceil(std::min(span, kMaxChunkCells)));
    alloc::ArenaView a = arena();
    alloc::Offset off = 0;
    for (;;) {
      try {
        off = a.allocate(chunk_bytes(cells), slots::kBlockAlign);
        break;
      } catch (const alloc::ArenaFull&) {
        if (cells <= kFirstChunk) throw;
        cells /= 2;  // a smaller chunk may still fit
      }
    }
    slots::zero_words(a.base() + off, chunk_bytes(cells));
    ChunkDesc& d = ring_[e % kChunkRing];
    d.offset.store(off, std::memory_order_relaxed);
    d.start.store(start, std::memory_order_relaxed);
    d.cells.store(cells, std::memory_order_relaxed);
    // SYNC POINT: release publishes the descriptor and the zeroed cells (see
    // cells_end()); without it a reader could read garbage states.
    chunks_end_.store(e + 1, std::memory_order_release);
  }

  // ---- append ------------------------------------------------------------------

  // The cell's payload words for v: its bytes, or {offset, bytes} of a new
  // arena block holding its sk::ser payload.
  void encode_element(const T& v, std::uint64_t (&payload)[kPayloadWords]) {
    if constexpr (kInline) {
      std::memcpy(payload, &v, sizeof(T));
    } else {
      std::vector<std::byte> bytes;
      ser::encode_payload(v, bytes);
      alloc::ArenaView a = arena();
      payload[0] = a.allocate(slots::block_bytes(bytes.size()), slots::kBlockAlign);
      payload[1] = bytes.size();
      slots::store_words(a.base() + payload[0], bytes);
    }
  }
  void release_element(const std::uint64_t (&payload)[kPayloadWords]) noexcept {
    if constexpr (!kInline) arena().deallocate(payload[0], slots::block_bytes(payload[1]), slots::kBlockAlign);
  }

  std::uint64_t append_payload(const std::uint64_t (&payload)[kPayloadWords]) {
    AppendSlot& slot = begin_append();
    const std::uint64_t i = reserve(slot);
    std::byte* cell = nullptr;
    try {
      cell = cell_for_append(i);
    } catch (...) {
      abandon(slot, cell);
      throw;
    }
    publish(cell, payload);
    end_append(slot, i);
    return i;
  }

  // Claims a free append slot and marks it "in flight, index >= lower".
  AppendSlot& begin_append() {
    AppendSlot& s = claim_slot(appenders_);
    // The previous holder's exact index (mark) is below reserved_ now, so
    // mark + 1 is a lower bound of ours. (A stale mark is smaller: still a
    // lower bound.)
    const std::uint64_t m = s.mark.load(std::memory_order_relaxed);
    s.mark.store(((m >> 1) + (m & 1)) << 1, std::memory_order_relaxed);
    return s;
  }

  std::uint64_t reserve(AppendSlot& slot) {
    // SYNC POINT: release (the fetch_add heads a release sequence that every
    // later fetch_add continues): a reader whose acquire load of reserved_
    // shows index i reserved also sees the slot claim and lower bound written
    // above, so it can tell a live appender's hole from a dead one's.
    const std::uint64_t i = reserved_.fetch_add(1, std::memory_order_acq_rel);
    if (slots::list_step_hook != nullptr) [[unlikely]] slots::list_step_hook(slots::ListStep::reserved);
    slot.mark.store((i << 1) | 1, std::memory_order_relaxed);
    return i;
  }

  void publish(std::byte* cell, const std::uint64_t (&payload)[kPayloadWords]) noexcept {
    for (std::size_t w = 0; w < kPayloadWords; ++w) word(cell, 1 + w).store(payload[w], std::memory_order_relaxed);
    // SYNC POINT: release publishes the payload words (and the block they
    // point to) to readers' acquire load of the state; without it a reader
    // could see "published" and read an unwritten element.
    word(cell, 0).store(kPublished, std::memory_order_release);
  }

  void end_append(AppendSlot& slot, std::uint64_t i) {
    // SYNC POINT: release orders our publish before the slot looks free: a
    // reader that sees the slot free (acquire) and then CASes our cell finds
    // it published, never empty.
    slot.owner.store(0, std::memory_order_release);
    if (i % kReclaimEvery == 0 && base_.load(std::memory_order_relaxed) > reclaimed_.load(std::memory_order_relaxed))
      reclaim();
  }

  // The append failed after its fetch_add: its cell (if its chunk exists) is
  // dead; else the hole is resolved once the chunk is installed.
  void abandon(AppendSlot& slot, std::byte* cell) noexcept {
    // SYNC POINT: release (nothing to publish; readers skip dead cells).
    if (cell != nullptr) word(cell, 0).store(kDead, std::memory_order_release);
    slot.owner.store(0, std::memory_order_release);
  }

  // ---- the prefix ----------------------------------------------------------------

  // Dead cells below index x (x <= prefix; cell x - 1 is passed).
  std::uint64_t dead_below(std::uint64_t x, Cursor& cur) const {
    if (x == 0) return 0;
    // SYNC POINT: acquire pairs with the passing CAS of cell x - 1, which
    // precedes the prefix (or base) move that let us see x.
    return dead_upto(word(existing(x - 1, cur), 0).load(std::memory_order_acquire));
  }
  std::uint64_t count(std::uint64_t b, std::uint64_t p) const {
    if (p <= b) return 0;
    Cursor cur;
    const std::uint64_t dead = dead_below(p, cur) - dead_below(b, cur);
    if (dead > p - b)
      throw SlotPoisoned("sk::List: the dead-cell counts of cells " + std::to_string(b) + ".." + std::to_string(p) +
                         " are inconsistent; the shared memory was overwritten by something else");
    return p - b - dead;
  }

  // The index of the i-th published cell of [b, p) (i < count(b, p)).
  std::uint64_t find_element(std::uint64_t b, std::uint64_t p, std::uint64_t i) const {
    Cursor cur;
    const std::uint64_t db = dead_below(b, cur);
    if (dead_below(p, cur) == db) return b + i;  // no dead cells in between
    // Smallest y in (b, p] with more than i published cells in [b, y).
    std::uint64_t lo = b + i + 1, hi = p;
    while (lo < hi) {
      const std::uint64_t mid = lo + (hi - lo) / 2;
      if (mid - b - (dead_below(mid, cur) - db) > i) hi = mid;
      else lo = mid + 1;
    }
    return lo - 1;
  }

  // Moves the prefix over published and dead cells, stamping each passed
  // cell with its dead count first; returns the prefix. Inside a read section.
  std::uint64_t advance() const {
    // SYNC POINT: acquire pairs with the CAS that moved the prefix: the
    // passed states below it.
    std::uint64_t p = prefix_.load(std::memory_order_acquire);
    // SYNC POINT: acquire on reserved_: see reserve() (hole resolution).
    std::uint64_t r = reserved_.load(std::memory_order_acquire);
    Cursor cur;
    for (;;) {
      if (p >= r) {
        r = reserved_.load(std::memory_order_acquire);
        if (p >= r) return p;
      }
      std::uint64_t q = p;
      std::uint64_t dead = dead_below(p, cur);
      while (q < r) {
        std::byte* cell = locate(q, cur);
        if (cell == nullptr) break;  // its chunk is not installed yet
        std::atomic_ref<std::uint64_t> st = word(cell, 0);
        // SYNC POINT: acquire pairs with publish()'s release store of the
        // state: a published cell's payload is complete when we pass it.
        std::uint64_t s = st.load(std::memory_order_acquire);
        if (s == kEmpty) {
          if (!resolve_hole(st, q)) break;
          s = st.load(std::memory_order_acquire);
        }
        if ((s & kPassed) == 0) {
          const std::uint64_t want = passed(s, dead);
          // SYNC POINT: acq_rel CAS (part of the appender's release sequence,
          // so an acquire of the passed state still sees its payload); every
          // racer computes the same value, one of them stores it.
          if (st.compare_exchange_strong(s, want, std::memory_order_acq_rel, std::memory_order_acquire)) s = want;
        }
        dead = dead_upto(s);
        ++q;
      }
      if (q == p) return p;
      // SYNC POINT: acq_rel: release publishes the passed states below q to
      // whoever acquires the new prefix.
      if (prefix_.compare_exchange_strong(p, q, std::memory_order_acq_rel, std::memory_order_acquire)) p = q;
    }
  }

  // Cell q < reserved_ is empty. True once it is published or dead: after a
  // bounded spin, it is marked dead unless a live appender's slot covers q.
  bool resolve_hole(std::atomic_ref<std::uint64_t> st, std::uint64_t q) const {
    core::Backoff backoff;
    while (backoff.steps() < 10) {
      backoff.pause();
      // SYNC POINT: acquire, as in advance(): the late publish is visible.
      if (st.load(std::memory_order_acquire) != kEmpty) return true;
    }
    for (AppendSlot& s : appenders_) {
      // SYNC POINT: acquire pairs with end_append()'s release (see there);
      // the claim itself is visible through reserved_ (see reserve()).
      std::uint64_t owner = s.owner.load(std::memory_order_acquire);
      if (owner == 0) continue;
      const std::uint64_t m = s.mark.load(std::memory_order_relaxed);
      const bool covers = (m & 1) != 0 ? (m >> 1) == q : (m >> 1) <= q;
      if (!covers) continue;
      if (alloc::is_alive(alloc::OwnerId::unpack(owner))) return false;  // its appender may still publish it
      // SYNC POINT: acq_rel CAS frees a dead appender's slot once (acquire:
      // its mark is read above; release: the next claimer sees it free).
      s.owner.compare_exchange_strong(owner, 0, std::memory_order_acq_rel, std::memory_order_relaxed);
    }
    std::uint64_t expected = kEmpty;
    // SYNC POINT: acq_rel CAS decides between a late publish and "dead";
    // readers that lose see the state the winner stored.
    st.compare_exchange_strong(expected, kDead, std::memory_order_acq_rel, std::memory_order_acquire);
    return true;
  }

  // ---- readers -----------------------------------------------------------------

  class ReadSection {
   public:
    explicit ReadSection(const List& l) : slot_(l.enter()) {
      // SYNC POINT: seq_cst load after our floor's seq_cst store (enter):
      // either clear()'s seq_cst CAS of base_ sees our floor, or we see its
      // new base_ (Dekker); without it a reclaimer could free under us.
      std::uint64_t b = l.base_.load(std::memory_order_seq_cst);
      for (;;) {
        // SYNC POINT: seq_cst store, then seq_cst re-read of base_ (Dekker
        // with reclaim(), which reads base_ then the floors): either the
        // reclaimer sees this floor, or this floor is at least the base it
        // read. Without it a reader could use a base whose cells were freed.
        slot_.floor.store(b, std::memory_order_seq_cst);
        const std::uint64_t again = l.base_.load(std::memory_order_seq_cst);
        if (again == b) break;
        b = again;
      }
      base_ = b;
      if (slots::list_step_hook != nullptr) [[unlikely]] slots::list_step_hook(slots::ListStep::reading);
    }
    ~ReadSection() {
      // SYNC POINT: release: our reads are done before the slot looks free.
      slot_.floor.store(kIdle, std::memory_order_release);
      slot_.owner.store(0, std::memory_order_release);
    }
    ReadSection(const ReadSection&) = delete;
    ReadSection& operator=(const ReadSection&) = delete;
    std::uint64_t base() const noexcept { return base_; }

   private:
    ReaderSlot& slot_;
    std::uint64_t base_ = 0;
  };

  ReaderSlot& enter() const { return claim_slot(readers_); }

  // Claims a free slot of `slots` for this process (waiting while all are
  // held, and freeing those whose holders died).
  template <class Slot, std::size_t N>
  static Slot& claim_slot(Slot (&slots)[N]) {
    const alloc::OwnerId self = alloc::self_owner();
    const std::uint64_t me = self.pack();
    // Processes (registry slots) and the threads of one process start at
    // different slots, so that an uncontended claim finds its own line free.
    std::size_t k = (self.slot + 7 * slots::list_thread_number()) % N;
    core::Backoff backoff;
    for (;;) {
      for (std::size_t n = 0; n < N; ++n, k = (k + 1) % N) {
        Slot& s = slots[k];
        std::uint64_t expected = 0;
        // SYNC POINT: seq_cst CAS (acquire pairs with the previous holder's
        // release of the slot: its words are final; seq_cst also orders a
        // reader's claim before its floor store, see ReadSection).
        if (s.owner.load(std::memory_order_relaxed) == 0 &&
            s.owner.compare_exchange_strong(expected, me, std::memory_order_seq_cst, std::memory_order_relaxed))
          return s;
      }
      backoff.pause();
      if (!backoff.spinning() && backoff.steps() % 16 == 0) free_dead_slots(slots);
    }
  }

  // Frees the slots whose holders died (appenders or readers killed inside).
  template <class Slot, std::size_t N>
  static void free_dead_slots(Slot (&slots)[N]) noexcept {
    for (Slot& s : slots) {
      // SYNC POINT: acquire load and acq_rel CAS of a slot's owner word, as
      // in resolve_hole(): a dead holder's slot is freed once.
      std::uint64_t owner = s.owner.load(std::memory_order_acquire);
      if (owner != 0 && !alloc::is_alive(alloc::OwnerId::unpack(owner)))
        s.owner.compare_exchange_strong(owner, 0, std::memory_order_acq_rel, std::memory_order_relaxed);
    }
  }

  // ---- reclamation ----------------------------------------------------------------

  // Returns to the arena the element blocks below L and the chunks whose
  // cells all lie below L - 1, L = min(base_, floors of live readers).
  void reclaim() noexcept {
    const std::uint64_t me = alloc::registered_owner();
    if (me == 0) return;
    std::uint64_t holder = 0;
    // SYNC POINT: acq_rel CAS: one reclaimer at a time; acquire makes the
    // previous one's progress words visible.
    if (!reclaimer_.compare_exchange_strong(holder, me, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if (alloc::is_alive(alloc::OwnerId::unpack(holder))) return;  // it will do the work
      if (!reclaimer_.compare_exchange_strong(holder, me, std::memory_order_acq_rel, std::memory_order_acquire)) return;
    }
    try {
      reclaim_held();
    } catch (const SlotPoisoned&) {
      // overwritten shared memory: the readers and appenders report it
    }
    // SYNC POINT: release hands our progress words to the next reclaimer.
    reclaimer_.store(0, std::memory_order_release);
  }

  void reclaim_held() {
    // SYNC POINT: seq_cst: base_ first, then the floors (see ReadSection).
    std::uint64_t limit = base_.load(std::memory_order_seq_cst);
    for (ReaderSlot& r : readers_) {
      const std::uint64_t f = r.floor.load(std::memory_order_seq_cst);
      if (f >= limit) continue;  // idle, or no lower than what we have
      std::uint64_t owner = r.owner.load(std::memory_order_seq_cst);
      if (owner == 0) continue;  // it left (its floor is stale)
      if (alloc::is_alive(alloc::OwnerId::unpack(owner))) {
        limit = f;
      } else {  // killed inside a read: it reads nothing any more
        // SYNC POINT: acq_rel CAS frees the dead reader's slot once.
        r.owner.compare_exchange_strong(owner, 0, std::memory_order_acq_rel, std::memory_order_relaxed);
      }
    }
    if constexpr (!kInline) {
      Cursor cur;
      // SYNC POINT: acquire loads of blocks_freed_ and the cell states pair
      // with the previous reclaimer's release (progress) and the appenders'
      // release (publish): a block is freed once, and only a published one.
      for (std::uint64_t j = blocks_freed_.load(std::memory_order_acquire); j < limit; ++j) {
        std::byte* cell = existing(j, cur);
        const std::uint64_t s = word(cell, 0).load(std::memory_order_acquire);
        const std::uint64_t off = word(cell, 1).load(std::memory_order_relaxed);
        const std::uint64_t bytes = word(cell, 2).load(std::memory_order_relaxed);
        // SYNC POINT: release, progress first (the next reclaimer acquires
        // it): killed before the free, one block leaks; never freed twice.
        blocks_freed_.store(j + 1, std::memory_order_release);
        if (slots::list_step_hook != nullptr) [[unlikely]] slots::list_step_hook(slots::ListStep::block_released);
        if ((s & kPublished) != 0) arena().deallocate(off, slots::block_bytes(bytes), slots::kBlockAlign);
      }
    }
    // SYNC POINT: acquire loads, pair with the reclaimer's release of
    // chunks_begin_ and the installer's release of chunks_end_.
    for (std::uint64_t c = chunks_begin_.load(std::memory_order_acquire);
         c < chunks_end_.load(std::memory_order_acquire); ++c) {
      const ChunkDesc& d = ring_[c % kChunkRing];
      const std::uint64_t cells = d.cells.load(std::memory_order_relaxed);
      if (d.start.load(std::memory_order_relaxed) + cells >= limit) break;
      const std::uint64_t off = d.offset.load(std::memory_order_relaxed);
      // SYNC POINT: release: the installer reuses this descriptor only
      // after it sees chunks_begin_ past it (acquire).
      chunks_begin_.store(c + 1, std::memory_order_release);
      if (slots::list_step_hook != nullptr) [[unlikely]] slots::list_step_hook(slots::ListStep::chunk_released);
      arena().deallocate(off, chunk_bytes(cells), slots::kBlockAlign);
    }
    if (limit > reclaimed_.load(std::memory_order_relaxed)) reclaimed_.store(limit, std::memory_order_relaxed);
  }

  // ---- reading elements ---------------------------------------------------------

  void read_published(std::uint64_t idx, T& out) const {
    Cursor cur;
    std::byte* cell = existing(idx, cur);
    // SYNC POINT: acquire, as in for_each().
    (void)word(cell, 0).load(std::memory_order_acquire);
    read_cell(cell, idx, out);
  }

  void read_cell(std::byte* cell, std::uint64_t idx, T& out) const {
    std::uint64_t payload[kPayloadWords];
    for (std::size_t w = 0; w < kPayloadWords; ++w) payload[w] = word(cell, 1 + w).load(std::memory_order_relaxed);
    if constexpr (kInline) {
      std::memcpy(&out, payload, sizeof(T));
    } else {
      alloc::ArenaView a = arena();
      if (!a.contains(payload[0], slots::block_bytes(payload[1])))
        throw SlotPoisoned("sk::List: element " + std::to_string(idx) +
                           " points outside the arena; the shared memory was overwritten by something else");
      std::vector<std::byte> buf(static_cast<std::size_t>(payload[1]));
      slots::load_words(a.base() + payload[0], buf.size(), buf.data());
      out = ser::decode_payload<T>(buf);
    }
  }

  void free_block_of(std::byte* cell) noexcept {
    // SYNC POINT: acquire pairs with publish()'s release: the block offset
    // read below is the published one.
    if ((word(cell, 0).load(std::memory_order_acquire) & kPublished) == 0) return;
    const std::uint64_t off = word(cell, 1).load(std::memory_order_relaxed);
    const std::uint64_t bytes = word(cell, 2).load(std::memory_order_relaxed);
    arena().deallocate(off, slots::block_bytes(bytes), slots::kBlockAlign);
  }

  alloc::Offset self_;
  // Written by every appender (fetch_add): alone on its lines.
  alignas(core::kFalseSharingRange) std::atomic<std::uint64_t> reserved_{0};
  // Written by readers as they advance: alone on its lines.
  alignas(core::kFalseSharingRange) mutable std::atomic<std::uint64_t> prefix_{0};
  // Read-mostly: written by clear(), installers and reclaimers.
  alignas(core::kFalseSharingRange) std::atomic<std::uint64_t> base_{0};  // first cell after the last clear()
  std::atomic<std::uint64_t> reclaimed_{0};     // reclamation done below this index
  std::atomic<std::uint64_t> blocks_freed_{0};  // element blocks of cells below it returned
  std::atomic<std::uint64_t> chunks_begin_{0};  // chunks below this number returned
  std::atomic<std::uint64_t> chunks_end_{0};    // chunks installed
  std::atomic<std::uint64_t> installer_{0};     // OwnerId of the process installing a chunk, 0 = none
  core::WaitPoint install_wait_;                // appenders waiting for an install park here
  std::atomic<std::uint64_t> reclaimer_{0};     // OwnerId of the process reclaiming, 0 = none
  ChunkDesc ring_[kChunkRing];                  // chunk c at ring_[c % kChunkRing]
  mutable AppendSlot appenders_[kAppendSlots];
  mutable ReaderSlot readers_[kReaderSlots];
};

}  // namespace sk
