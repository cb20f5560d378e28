#pragma once
// sk::List<T>: an append-only shared list of any Serializable T, appended to
// from every process at once without a global lock.
//
//   struct State { sk::List<std::string> names; };
//   share->names.append("ada");                  // any process
//   std::vector<std::string> all = share->names.snapshot();
//   std::string first = share->names.at(0);
//
// Storage: cells in chunked segments. Chunk k holds 64 << k cells and is
// allocated on demand, so no element ever moves. One process at a time
// installs chunks: it claims `installer_` with its OwnerId, allocates, zeroes
// and publishes the chunk's offset in a table of 40; processes that need the
// same chunk meanwhile wait for it (bounded spin, then yield, checking the
// installer is alive). Letting every racer allocate its own copy and free
// the losers' instead made 16 processes that reach a 4 MiB chunk together
// ask for 64 MiB at once (ArenaFull in an arena that was 94% free).
// A cell is one state word plus the element: inline (its bytes in words) when
// T is trivially copyable, else {offset, bytes} of an arena block holding the
// sk::ser payload.
//
// Append: claim the cell at `reserved` with a CAS of its state word from
// empty to the writer's OwnerId (pid + start time), then move `reserved` on
// (anyone who sees a claimed cell helps move it). Claiming by CAS on the cell
// (instead of fetch_add on the counter) records who reserved the index in the
// same atomic step, so a reservation is never anonymous. The writer then
// writes the element and publishes it with a release store of the state
// (published). No lock: appenders only contend on the counter's cache line.
//
// Readers see the published prefix: `prefix` is advanced by whoever looks,
// over cells that are published or dead. A cell still claimed by a writer
// stops the prefix; after a short bounded spin the reader asks
// sk::alloc::is_alive(owner) and, if the writer died between reserving and
// publishing, marks the cell dead (CAS): dead cells are skipped by size(),
// at(), snapshot() and never block anyone again. The dead writer's block (if
// any) leaks. A writer that throws after claiming (encode error, ArenaFull)
// marks its own cell dead and rethrows.
//
// clear() moves `base` to the current prefix with a CAS; the winner frees the
// element blocks below it. Readers copying a block re-check `base` after the
// copy (atomic word loads; freed blocks stay mapped) and discard what was
// cleared under them. Cells are never reused: chunk memory is returned only
// when the Share is destroyed (the list's index space keeps growing).
// Appends that race with clear() may land on either side of it.
#include <atomic>
#include <bit>
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
#include <sk/alloc/owner.hpp>
#include <sk/core/backoff.hpp>
#include <sk/core/fence.hpp>
#include <sk/core/cacheline.hpp>
#include <sk/ipc/serialize.hpp>
#include <sk/share_errors.hpp>
#include <sk/slots/arena_block.hpp>
#include <sk/slots/list_element.hpp>

namespace sk {

template <ser::Serializable T>
class List {
  static_assert(std::is_default_constructible_v<T>, "sk::List<T> copies elements out into a default-constructed T");

 public:
  static constexpr std::string_view kind = "List";
  // Folded into the Share layout hash: T's SK_FIELDS signature (see sk::Value).
  static constexpr std::uint64_t layout_hash() noexcept { return ser::detail::FieldsAccess::signature<T>(); }
  using value_type = T;
  static constexpr bool kInline = std::is_trivially_copyable_v<T>;
  static constexpr std::size_t kPayloadWords = kInline ? (sizeof(T) + 7) / 8 : 2;
  static constexpr std::size_t kCellBytes = 8 * (1 + kPayloadWords);
  static constexpr std::size_t kFirstChunk = 64;  // cells in chunk 0 (power of two)
  static constexpr std::size_t kMaxChunks = 40;
  // Cell states; any other value is the OwnerId of the writer filling it.
  static constexpr std::uint64_t kEmpty = 0;
  static constexpr std::uint64_t kPublished = ~std::uint64_t{0};
  static constexpr std::uint64_t kDead = ~std::uint64_t{0} - 1;

  List() : self_(slots::construction_offset(this, "List")) {}
  ~List() {
    // Runs only when the owning Share is destroyed (no users left).
    const std::uint64_t end = reserved_.load(std::memory_order_acquire);
    if constexpr (!kInline) {
      for (std::uint64_t i = base_.load(std::memory_order_relaxed); i < end; ++i) free_cell_block(i);
    }
    for (std::size_t k = 0; k < kMaxChunks; ++k) {
      const std::uint64_t off = chunks_[k].load(std::memory_order_relaxed);
      if (off != 0) arena().deallocate(off, chunk_bytes(k), slots::kBlockAlign);
    }
  }
  List(const List&) = delete;
  List& operator=(const List&) = delete;

  // Appends v (any process, concurrently). Returns its sequence number: the
  // position in the list's total order of appends (never reused, also across
  // clear()).
  std::uint64_t append(const T& v) {
    return append_with([&](std::uint64_t) -> const T& { return v; });
  }
  std::uint64_t push_back(const T& v) { return append(v); }
  // Appends every element, each as by append() (elements of other processes
  // may interleave; this process's stay in order).
  template <class Range>
  void extend(const Range& values) {
    for (const auto& v : values) append(v);
  }
  // Low level: make(seq) builds the element once its sequence number is known
  // (Log uses it to store the number inside the record).
  template <class Make>
  std::uint64_t append_with(Make&& make) {
    const std::uint64_t me = alloc::self_owner().pack();
    const std::uint64_t i = claim(me);
    std::atomic_ref<std::uint64_t> state = state_at(i);
    try {
      std::uint64_t payload[kPayloadWords]{};
      const T& v = make(i);
      if constexpr (kInline) {
        std::memcpy(payload, &v, sizeof(T));
      } else {
        std::vector<std::byte> bytes;
        ser::encode_payload(v, bytes);
        alloc::ArenaView a = arena();
        const alloc::Offset off = a.allocate(slots::block_bytes(bytes.size()), slots::kBlockAlign);
        slots::store_words(a.base() + off, bytes);
        payload[0] = off;
        payload[1] = bytes.size();
      }
      std::byte* cell = cell_at(i);
      for (std::size_t w = 0; w < kPayloadWords; ++w) word(cell, 1 + w).store(payload[w], std::memory_order_relaxed);
      // SYNC POINT: release publishes the payload words (and the block they
      // point to) to readers' acquire load of the state; without it a reader
      // could see "published" and read an unwritten element.
      state.store(kPublished, std::memory_order_release);
    } catch (...) {
      // SYNC POINT: release (nothing to publish; readers skip dead cells).
      state.store(kDead, std::memory_order_release);
      dead_.fetch_add(1, std::memory_order_relaxed);
      throw;
    }
    return i;
  }

  // Elements in the published prefix (dead cells not counted).
  std::size_t size() const {
    const std::uint64_t p = advance();
    const std::uint64_t b = base_.load(std::memory_order_acquire);
    const std::uint64_t dead = dead_.load(std::memory_order_relaxed) - dead_at_base_.load(std::memory_order_relaxed);
    return p > b + dead ? static_cast<std::size_t>(p - b - dead) : 0;
  }
  bool empty() const { return size() == 0; }

  // The i-th element of the published prefix (std::out_of_range past it).
  T at(std::size_t i) const {
    for (;;) {
      const std::uint64_t p = advance();
      const std::uint64_t b = base_.load(std::memory_order_acquire);
      std::size_t seen = 0;
      const bool no_dead = dead_.load(std::memory_order_relaxed) == dead_at_base_.load(std::memory_order_relaxed);
      for (std::uint64_t idx = no_dead ? b + i : b; idx < p; ++idx) {
        T out{};
        const Read r = read_cell(idx, out);
        if (r == Read::cleared) break;
        if (r == Read::dead) continue;
        if (no_dead || seen++ == i) return out;
      }
      if (base_.load(std::memory_order_acquire) == b)
        throw std::out_of_range("sk::List::at(" + std::to_string(i) + "): the list has " + std::to_string(size()) +
                                " element(s)");
    }
  }
  // A read-only copy: `list[i] = x` does not compile (it would change nothing).
  ListElement<T> operator[](std::size_t i) const { return ListElement<T>(at(i)); }

  // Copy of the published prefix, in order.
  std::vector<T> snapshot() const {
    std::vector<T> out;
    for_each([&](T v) { out.push_back(std::move(v)); });
    return out;
  }
  // fn(T) for every element of one published prefix, in order.
  template <class Fn>
  void for_each(Fn&& fn) const {
    for (;;) {
      const std::uint64_t p = advance();
      const std::uint64_t b = base_.load(std::memory_order_acquire);
      if (b >= p) return;  // empty, or a clear() moved base past the prefix we read
      std::vector<T> items;
      items.reserve(static_cast<std::size_t>(p - b));
      bool cleared = false;
      for (std::uint64_t idx = b; idx < p && !cleared; ++idx) {
        T v{};
        const Read r = read_cell(idx, v);
        if (r == Read::ok) items.push_back(std::move(v));
        cleared = r == Read::cleared;
      }
      if (cleared) continue;  // a clear() ran under us: take the new prefix
      for (auto& v : items) fn(std::move(v));
      return;
    }
  }

  // Removes every published element (see the class comment).
  void clear() {
    for (;;) {
      const std::uint64_t p = advance();
      std::uint64_t b = base_.load(std::memory_order_acquire);
      if (b >= p) return;
      // SYNC POINT: acq_rel: readers that see the new base (acquire) are
      // ordered before our block frees below; the winner alone frees [b, p).
      if (base_.compare_exchange_strong(b, p, std::memory_order_acq_rel, std::memory_order_acquire)) {
        dead_at_base_.store(dead_.load(std::memory_order_relaxed), std::memory_order_relaxed);
        if constexpr (!kInline) {
          for (std::uint64_t i = b; i < p; ++i) free_cell_block(i);
        }
        return;
      }
    }
  }

  // Total appends reserved so far (including unpublished and dead ones).
  std::uint64_t reserved() const noexcept { return reserved_.load(std::memory_order_acquire); }

  std::string describe_value() const { return std::to_string(size()) + " item(s)"; }

 private:
  enum class Read { ok, dead, cleared };

  alloc::ArenaView arena() const noexcept { return alloc::ArenaView::of(this, self_); }
  static std::size_t chunk_bytes(std::size_t k) noexcept { return (kFirstChunk << k) * kCellBytes; }
  static std::atomic_ref<std::uint64_t> word(std::byte* cell, std::size_t w) noexcept {
    return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(cell + 8 * w));
  }

  // Chunk k and position in it of cell i: chunk k starts at 64 * (2^k - 1).
  static std::pair<std::size_t, std::size_t> locate(std::uint64_t i) noexcept {
    const std::uint64_t q = i / kFirstChunk + 1;
    const auto k = static_cast<std::size_t>(std::bit_width(q) - 1);
    return {k, static_cast<std::size_t>(i - kFirstChunk * ((std::uint64_t{1} << k) - 1))};
  }

  std::byte* chunk(std::size_t k, bool create) const {
    if (k >= kMaxChunks)
      throw ShareError("sk::List: more than 2^45 elements were appended to one list; use clear() less and "
                       "another list, or keep fewer elements");
    auto& slot = chunks_[k];
    // SYNC POINT: acquire pairs with the installer's release store of the
    // slot; without it a reader could see the chunk's cells before they
    // were zeroed (garbage states).
    std::uint64_t off = slot.load(std::memory_order_acquire);
    if (off == 0 && create) off = install_chunk(k);
    return off == 0 ? nullptr : arena().base() + off;
  }

  // Allocates, zeroes and publishes chunk k unless another process does it
  // first; returns its offset. Throws ArenaFull if the arena has no room for
  // it (the append that needed it has claimed no cell yet: claim() asks for
  // the cell's chunk before its CAS).
  std::uint64_t install_chunk(std::size_t k) const {
    auto& slot = chunks_[k];
    const std::uint64_t me = alloc::self_owner().pack();
    core::Backoff backoff;
    for (;;) {
      std::uint64_t holder = 0;
      // SYNC POINT: acq_rel CAS: one installer at a time; acquire also makes
      // the previous installer's slot store visible to the re-check below.
      if (installer_.compare_exchange_strong(holder, me, std::memory_order_acq_rel, std::memory_order_acquire))
        break;
      if (const std::uint64_t off = slot.load(std::memory_order_acquire); off != 0) return off;
      backoff.pause();
      // A dead installer never releases the claim: take it back from it.
      if (!backoff.spinning() && backoff.steps() % 64 == 0 && !alloc::is_alive(alloc::OwnerId::unpack(holder)))
        installer_.compare_exchange_strong(holder, 0, std::memory_order_acq_rel, std::memory_order_relaxed);
    }
    struct Release {
      std::atomic<std::uint64_t>& word;
      // SYNC POINT: release orders our slot store before the next installer's
      // acquire of the claim.
      ~Release() { word.store(0, std::memory_order_release); }
    } release{installer_};
    std::uint64_t off = slot.load(std::memory_order_acquire);
    if (off != 0) return off;  // installed while we waited for the claim
    alloc::ArenaView a = arena();
    const alloc::Offset fresh = a.allocate(chunk_bytes(k), slots::kBlockAlign);
    slots::zero_words(a.base() + fresh, chunk_bytes(k));
    // SYNC POINT: release publishes the zeroed cells (see chunk()).
    slot.store(fresh, std::memory_order_release);
    return fresh;
  }
  std::byte* cell_at(std::uint64_t i, bool create = false) const {
    const auto [k, pos] = locate(i);
    std::byte* c = chunk(k, create);
    return c == nullptr ? nullptr : c + pos * kCellBytes;
  }
  std::atomic_ref<std::uint64_t> state_at(std::uint64_t i) const { return word(cell_at(i), 0); }

  std::uint64_t claim(std::uint64_t me) {
    for (;;) {
      const std::uint64_t i = reserved_.load(std::memory_order_acquire);
      std::uint64_t expected = kEmpty;
      // SYNC POINT: acq_rel on the cell claim: only one writer gets the cell.
      const bool won = word(cell_at(i, true), 0).compare_exchange_strong(expected, me, std::memory_order_acq_rel,
                                                                         std::memory_order_acquire);
      // Move the counter past the claimed cell (ours or someone else's).
      std::uint64_t seen = i;
      reserved_.compare_exchange_strong(seen, i + 1, std::memory_order_acq_rel, std::memory_order_relaxed);
      if (won) return i;
    }
  }

  // Moves the prefix over published / dead cells; returns it.
  std::uint64_t advance() const {
    auto& prefix = prefix_;
    std::uint64_t p = prefix.load(std::memory_order_acquire);
    for (;;) {
      if (p >= reserved_.load(std::memory_order_acquire)) return p;
      std::atomic_ref<std::uint64_t> st = state_at(p);
      // SYNC POINT: acquire pairs with the writer's release of the state.
      std::uint64_t s = st.load(std::memory_order_acquire);
      if (s == kEmpty) return p;
      if (s != kPublished && s != kDead && !resolve_claimed(st, s)) return p;
      prefix.compare_exchange_strong(p, p + 1, std::memory_order_acq_rel, std::memory_order_acquire);
      p = prefix.load(std::memory_order_acquire);
    }
  }

  // A cell claimed by writer `owner`: spin briefly for it, then check the
  // writer is alive. True once the cell is published or dead.
  bool resolve_claimed(std::atomic_ref<std::uint64_t> st, std::uint64_t owner) const {
    core::Backoff backoff;
    while (backoff.steps() < 10) {
      backoff.pause();
      if (st.load(std::memory_order_acquire) != owner) return true;
    }
    if (alloc::is_alive(alloc::OwnerId::unpack(owner))) return st.load(std::memory_order_acquire) != owner;
    std::uint64_t expected = owner;
    // SYNC POINT: acq_rel CAS: exactly one reader marks the cell dead (and
    // counts it); a reader that loses sees the state another one stored.
    if (st.compare_exchange_strong(expected, kDead, std::memory_order_acq_rel, std::memory_order_acquire))
      dead_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  Read read_cell(std::uint64_t idx, T& out) const {
    std::byte* cell = cell_at(idx);
    // SYNC POINT: acquire pairs with the writer's release of the state.
    const std::uint64_t s = word(cell, 0).load(std::memory_order_acquire);
    if (s != kPublished) return Read::dead;  // below the prefix: published or dead
    std::uint64_t payload[kPayloadWords];
    for (std::size_t w = 0; w < kPayloadWords; ++w) payload[w] = word(cell, 1 + w).load(std::memory_order_relaxed);
    if constexpr (kInline) {
      std::memcpy(&out, payload, sizeof(T));
      return Read::ok;
    } else {
      alloc::ArenaView a = arena();
      if (!a.contains(payload[0], slots::block_bytes(payload[1])))
        throw SlotPoisoned("sk::List: element " + std::to_string(idx) +
                           " points outside the arena; the shared memory was overwritten by something else");
      std::vector<std::byte> buf(static_cast<std::size_t>(payload[1]));
      slots::load_words(a.base() + payload[0], buf.size(), buf.data());
      // SYNC POINT: acquire fence orders the block loads before the base
      // re-read; clear() frees blocks only after moving base past them.
      core::fence(std::memory_order_acquire);
      if (base_.load(std::memory_order_relaxed) > idx) return Read::cleared;
      out = ser::decode_payload<T>(buf);
      return Read::ok;
    }
  }

  void free_cell_block(std::uint64_t i) noexcept {
    std::byte* cell = cell_at(i);
    if (cell == nullptr || word(cell, 0).load(std::memory_order_acquire) != kPublished) return;
    const std::uint64_t off = word(cell, 1).load(std::memory_order_relaxed);
    const std::uint64_t bytes = word(cell, 2).load(std::memory_order_relaxed);
    arena().deallocate(off, slots::block_bytes(bytes), slots::kBlockAlign);
  }

  alloc::Offset self_;
  alignas(core::kFalseSharingRange) std::atomic<std::uint64_t> reserved_{0};  // next cell to claim
  // mutable: readers advance the prefix, mark dead cells and add chunks.
  alignas(core::kFalseSharingRange) mutable std::atomic<std::uint64_t> prefix_{0};  // below: published or dead
  std::atomic<std::uint64_t> base_{0};                // first cell after the last clear()
  mutable std::atomic<std::uint64_t> dead_{0};        // dead cells ever
  std::atomic<std::uint64_t> dead_at_base_{0};        // dead_ when base_ last moved
  mutable std::atomic<std::uint64_t> chunks_[kMaxChunks]{};
  mutable std::atomic<std::uint64_t> installer_{0};   // OwnerId of the process installing a chunk, 0 = none
};

}  // namespace sk
