#pragma once
// FieldSeqlock<F...>: a set of fields, each a two-copy seqlock cell with its
// own write lock, updated by transactions over any subset of them: readers
// see every transaction entirely or not at all, writers lock only the fields
// they write. Placeable in shared memory (atomics only, no pointers, no
// vtable). Behind sk::Shared<U> (one field per member of U that
// SK_SHARED_FIELDS lists). Readers never block writers.
//
//   core::FieldSeqlock<long, long, int> cells(0, 0, 0);
//   auto w = cells.begin_write<0b011>(owners);     // locks fields 0 and 1
//   w.read(into);  ...  w.write(from);  w.commit(); // publishes both at one instant
//   cells.read<0b111>(into, owners);                // one consistent snapshot
//
// Field cell: header (lock, seq, target, leader, mask, commit, WaitPoint) on
// its own cache line, then two copies of the field as relaxed atomic words.
//   seq     even: the readable copy is (seq >> 1) & 1; +2 per publish
//           odd:  a publish is in progress (phase 1 below)
//   lock    owner id of the writer holding the field (0 = free)
//   leader  lowest field index of the holder's transaction; the leader's
//           `mask` and `commit` describe the whole transaction
//
// Writer (fields M, leader l = lowest bit of M):
//   lock each field of M in ascending index order (CAS 0 -> self, acquire;
//     bounded spin, then park in slices, repairing a holder found dead);
//   record leader/mask; fence(release)
//   write the unpublished copy of each field ((seq >> 1) + 1) & 1
//   target = seq + 2 for each; commit flag of l = 1 (release)   <- commit point
//   phase 1: seq = target - 1 (odd) for each (release)
//   phase 2: seq = target for each (release: the new copy is readable)
//   commit flag = 0 (release); unlock in descending order, the leader last
// Reader (fields M): seq_i (acquire) and the copy it names for each field;
//   if any is odd (a publish in progress) wait (bounded spin, then yield,
//   asking about the holder now and then) and retry; else fence(acquire) and
//   re-read every seq_i: valid iff none moved.
//
// Ordering argument
//  * Torn copy: a copy a reader reads is rewritten only by a writer that
//    locked the field after the publish that made the copy readable, i.e.
//    two publishes later. The writer issues a release fence between taking
//    its locks and storing words; the reader an acquire fence between its
//    copies and the re-read. If a copy read a word such a writer stored, the
//    fences synchronize, and the re-read sees at least that writer's phase-1
//    seq (it comes after the stores in its thread): the read is rejected.
//    (As in Seqlock; Boehm, MSPC 2012.)
//  * One instant across fields: a transaction sets every field odd (phase 1)
//    before it makes any of them readable (phase 2). If a reader read field
//    x's seq before the transaction and field y's seq (acquire) after it,
//    the y load read a phase-2 release store, which follows every phase-1
//    store of the same thread: the re-read of x then sees x odd or moved,
//    and the snapshot is rejected.
//  * Hand-over between writers: unlock stores 0 with release, the next
//    lock CAS acquires it: the next writer reads the published seq and the
//    committed copy the previous one left.
//
// Death: a writer killed at any instruction is repaired all-or-nothing by
// the next writer (or a reader waiting on a publish in progress) that finds
// it dead with the caller's owner_dead callback (after a bounded spin and a
// parked slice without progress, core::kParkSlice): without the leader's
// commit flag its writes are discarded (they went to unpublished copies);
// with it, every field of its transaction is flipped to its new copy. Core
// knows nothing of processes: owner ids are opaque non-zero 64-bit tags and
// liveness is the callback (the same OwnerDeadFn as Seqlock's).
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <tuple>
#include <type_traits>
#include <utility>

#include <sk/core/backoff.hpp>
#include <sk/core/cacheline.hpp>
#include <sk/core/fence.hpp>
#include <sk/core/futex.hpp>
#include <sk/core/seqlock.hpp>

namespace sk::core {

// Who acts, and how to tell that the owner of a lock is gone: supplied by
// the caller (core knows nothing of processes).
struct FieldOwners {
  std::uint64_t (*self)() = nullptr;  // the caller's owner id (non-zero); asked when it takes a lock
  OwnerDeadFn owner_dead = nullptr;   // nullptr: never take a lock over
};

inline constexpr std::uint32_t kNoFieldLeader = 0xffffffffu;

// Transaction state of one field; the field's two data copies follow it.
struct alignas(kCacheLine) FieldHeader {
  std::atomic<std::uint64_t> lock{0};                 // owner id of the writer holding it; 0 = free
  std::atomic<std::uint64_t> mask{0};                 // leader only: the holder's written-field mask
  std::atomic<std::uint32_t> seq{0};                  // odd: being published; readable copy = (seq >> 1) & 1
  std::atomic<std::uint32_t> target{0};               // seq this field gets when the holder's call publishes
  std::atomic<std::uint32_t> leader{kNoFieldLeader};  // lowest field index of the holder's call
  std::atomic<std::uint32_t> commit{0};               // leader only: 1 from the commit point until all flipped
  WaitPoint wait;                                     // writers waiting for `lock` park here
};
static_assert(std::is_standard_layout_v<FieldHeader>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);

namespace detail {
// Crash-test injection point (process-local; nullptr in production): called
// in publish after the commit point and after each field flip, with the
// number of fields flipped so far. Tests SIGKILL themselves there.
inline void (*field_publish_hook)(std::size_t flipped) noexcept = nullptr;
}  // namespace detail

// A field of type F: header + two copies as relaxed atomic words (so that a
// reader racing a writer is a data-race-free read that validation rejects).
template <class F>
struct FieldCell {
  static_assert(std::is_trivially_copyable_v<F>, "FieldSeqlock copies fields word by word");
  static constexpr std::size_t kWords = (sizeof(F) + 7) / 8;

  explicit FieldCell(const F& initial) noexcept {
    store_words(initial, data[0]);
    store_words(initial, data[1]);
  }

  static void store_words(const F& v, std::atomic<std::uint64_t>* dst) noexcept {
    const auto* src = reinterpret_cast<const std::byte*>(&v);
    for (std::size_t i = 0; i < kWords; ++i) {
      std::uint64_t w = 0;
      std::memcpy(&w, src + i * 8, sizeof(F) - i * 8 < 8 ? sizeof(F) - i * 8 : 8);
      dst[i].store(w, std::memory_order_relaxed);
    }
  }
  static void load_words(const std::atomic<std::uint64_t>* src, F& out) noexcept {
    auto* dst = reinterpret_cast<std::byte*>(&out);
    for (std::size_t i = 0; i < kWords; ++i) {
      const std::uint64_t w = src[i].load(std::memory_order_relaxed);
      std::memcpy(dst + i * 8, &w, sizeof(F) - i * 8 < 8 ? sizeof(F) - i * 8 : 8);
    }
  }

  FieldHeader header;
  std::atomic<std::uint64_t> data[2][kWords];
};

// Process-local, type-independent view of the headers of one FieldSeqlock
// (base + offsets): the locking, publishing and recovery code
// (core/src/field_seqlock.cpp).
class FieldTable {
 public:
  FieldTable(std::byte* base, const std::size_t* offsets, std::size_t count, FieldOwners owners) noexcept
      : base_(base), offsets_(offsets), count_(count), owners_(owners) {}

  FieldHeader& at(std::size_t i) const noexcept {
    return *std::launder(reinterpret_cast<FieldHeader*>(base_ + offsets_[i]));
  }

  // Locks every field in `mask` in ascending index order (blocking: bounded
  // spin, then park; repairs fields whose holder is dead), records the
  // transaction's leader and field set, then issues the release fence that
  // must precede the data stores into the unpublished copies. Throws
  // SeqlockError if owners.self is missing or returns 0.
  void lock(std::uint64_t mask) const;
  // Commit point, flips every field in `mask` to its new copy, unlocks.
  void publish_and_unlock(std::uint64_t mask) const noexcept;
  // Unlocks without publishing (the transaction was abandoned).
  void unlock(std::uint64_t mask) const noexcept;
  // For readers that found field i mid-publish for a while: if its holder is
  // dead, completes (rolls forward) its transaction; otherwise does nothing.
  void repair_if_dead(std::size_t i) const;

 private:
  void lock_one(std::size_t i, std::uint32_t leader, std::uint64_t mask, std::uint64_t self) const;
  bool dead(std::uint64_t owner) const { return owners_.owner_dead != nullptr && owners_.owner_dead(owner); }
  void recover(std::size_t i, std::uint64_t dead, std::uint64_t self) const;
  void recover_call(std::uint32_t leader, std::uint64_t dead, std::uint64_t self) const;
  void release(std::size_t i) const noexcept;

  std::byte* base_;
  const std::size_t* offsets_;
  std::size_t count_;
  FieldOwners owners_;
};

template <class... F>
class FieldSeqlock {
 public:
  static constexpr std::size_t kCount = sizeof...(F);
  static_assert(kCount >= 1 && kCount <= 64, "a FieldSeqlock holds 1 to 64 fields (a transaction is a 64-bit mask)");
  static constexpr std::uint64_t kAll = kCount == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << kCount) - 1;

  template <std::size_t I>
  using Field = std::tuple_element_t<I, std::tuple<F...>>;
  template <std::size_t I>
  using Cell = FieldCell<Field<I>>;

 private:
  template <std::size_t... I>
  static constexpr std::array<std::size_t, kCount + 1> compute_offsets(std::index_sequence<I...>) noexcept {
    std::array<std::size_t, kCount + 1> out{};
    const std::size_t sizes[] = {sizeof(Cell<I>)...};
    const std::size_t aligns[] = {alignof(Cell<I>)...};
    std::size_t end = 0;
    for (std::size_t i = 0; i < kCount; ++i) {
      out[i] = (end + aligns[i] - 1) / aligns[i] * aligns[i];
      end = out[i] + sizes[i];
    }
    out[kCount] = end;
    return out;
  }

 public:
  // Byte offset of each field's cell; [kCount] = the bytes they take.
  static constexpr std::array<std::size_t, kCount + 1> kOffsets =
      compute_offsets(std::make_index_sequence<kCount>{});

  explicit FieldSeqlock(const F&... initial) noexcept {
    static_assert(std::is_standard_layout_v<FieldSeqlock>, "FieldSeqlock lives in shared memory");
    construct(std::index_sequence_for<F...>{}, initial...);
  }
  FieldSeqlock(const FieldSeqlock&) = delete;
  FieldSeqlock& operator=(const FieldSeqlock&) = delete;

  // ---- readers ----------------------------------------------------------
  // Copies the fields in Mask, as they were at one instant, into
  // out.template operator()<I>() (a Field<I>& per field index I). Takes no
  // lock; waits only for the few stores of a publish in progress, and
  // repairs it if its writer is dead.
  template <std::uint64_t Mask, class Out>
  void read(Out&& out, FieldOwners owners) const {
    static_assert((Mask & ~kAll) == 0, "read<Mask>: Mask names fields that do not exist");
    if constexpr (Mask == 0) return;  // nothing to read (a method that declares no field)
    std::uint32_t seen[kCount] = {};
    Backoff backoff;
    for (;;) {
      bool busy = false;
      for_each<Mask>([&]<std::size_t I>() {
        const Cell<I>& c = cell<I>();
        // SYNC POINT: acquire pairs with the release stores of seq in a
        // publish (phase 2) or repair: makes the published copy's words and
        // the transaction's phase-1 stores to its other fields visible.
        // Without it we could read stale words or miss a publish in progress.
        seen[I] = c.header.seq.load(std::memory_order_acquire);
        busy = busy || (seen[I] & 1u) != 0;
        Cell<I>::load_words(c.data[(seen[I] >> 1) & 1u], out.template operator()<I>());
      });
      if (!busy) {
        // SYNC POINT: pairs with the release fence a writer issues after
        // locking and before storing into the copy it will publish (the copy
        // we may be reading, two publishes later): if we read any such word,
        // the re-read below sees the newer seq. Without it a torn copy passes.
        fence(std::memory_order_acquire);
        bool same = true;
        for_each<Mask>([&]<std::size_t I>() {
          same = same && cell<I>().header.seq.load(std::memory_order_relaxed) == seen[I];
        });
        if (same) return;
      } else if (backoff.owner_check_due()) {
        // A publish has been in progress for a while: its writer may be dead.
        const FieldTable table = fields(owners);
        for (std::size_t i = 0; i < kCount; ++i)
          if (((Mask >> i) & 1u) && (seen[i] & 1u)) table.repair_if_dead(i);
      }
      backoff.pause();
    }
  }

  // ---- writers ----------------------------------------------------------
  // A transaction over the fields in Mask. Holds their locks from
  // begin_write() until commit() or its destruction (which abandons it:
  // nothing is published).
  template <std::uint64_t Mask>
  class Writer {
    static_assert(Mask != 0 && (Mask & ~kAll) == 0, "begin_write<Mask>: Mask names fields that do not exist");

   public:
    Writer(Writer&& o) noexcept : lock_(std::exchange(o.lock_, nullptr)), owners_(o.owners_) {}
    Writer& operator=(Writer&&) = delete;
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer() {
      if (lock_ != nullptr) lock_->fields(owners_).unlock(Mask);
    }

    // The committed values of the locked fields (stable: we hold their locks)
    // into out.template operator()<I>().
    template <class Out>
    void read(Out&& out) const noexcept {
      for_each<Mask>([&]<std::size_t I>() {
        const Cell<I>& c = lock_->template cell<I>();
        // Relaxed: our lock CAS (acquire) ordered the last publish before us.
        const std::uint32_t s = c.header.seq.load(std::memory_order_relaxed);
        Cell<I>::load_words(c.data[(s >> 1) & 1u], out.template operator()<I>());
      });
    }
    // The new values from in.template operator()<I>() (a const Field<I>&),
    // into the copies readers are not reading.
    template <class In>
    void write(In&& in) noexcept {
      for_each<Mask>([&]<std::size_t I>() {
        Cell<I>& c = lock_->template cell<I>();
        const std::uint32_t s = c.header.seq.load(std::memory_order_relaxed);
        Cell<I>::store_words(in.template operator()<I>(), c.data[((s >> 1) + 1) & 1u]);
      });
    }
    // Publishes every written field at one instant and unlocks them.
    void commit() noexcept {
      FieldSeqlock* l = std::exchange(lock_, nullptr);
      l->fields(owners_).publish_and_unlock(Mask);
    }

   private:
    friend class FieldSeqlock;
    Writer(FieldSeqlock& lock, FieldOwners owners) : lock_(&lock), owners_(owners) {
      lock.fields(owners).lock(Mask);
    }

    FieldSeqlock* lock_;  // process-local guard: a pointer is fine here
    FieldOwners owners_;
  };

  // Locks the fields in Mask (ascending index order, so two transactions
  // never deadlock). Blocks while another writer holds one of them (bounded
  // spin, then parks); takes over a holder that owners.owner_dead calls dead.
  template <std::uint64_t Mask>
  [[nodiscard]] Writer<Mask> begin_write(FieldOwners owners) {
    return Writer<Mask>(*this, owners);
  }

  // Number of publishes of field i so far (for tests and statistics).
  std::uint32_t version(std::size_t i) const noexcept { return header(i).seq.load(std::memory_order_relaxed) / 2; }
  // Owner id of the writer holding field i, 0 if none.
  std::uint64_t holder(std::size_t i) const noexcept { return header(i).lock.load(std::memory_order_relaxed); }

  // Calls f.template operator()<I>() for every field index I in Mask, ascending.
  template <std::uint64_t Mask, class Fn>
  static void for_each(Fn&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (
          [&] {
            if constexpr ((Mask >> I) & 1u) f.template operator()<I>();
          }(),
          ...);
    }(std::make_index_sequence<kCount>{});
  }

 private:
  template <std::size_t... I>
  void construct(std::index_sequence<I...>, const F&... initial) noexcept {
    (::new (static_cast<void*>(storage_ + kOffsets[I])) Cell<I>(initial), ...);
  }

  FieldTable fields(FieldOwners owners) const noexcept {
    return FieldTable(const_cast<std::byte*>(storage_), kOffsets.data(), kCount, owners);
  }
  const FieldHeader& header(std::size_t i) const noexcept {
    return *std::launder(reinterpret_cast<const FieldHeader*>(storage_ + kOffsets[i]));
  }
  template <std::size_t I>
  Cell<I>& cell() noexcept {
    return *std::launder(reinterpret_cast<Cell<I>*>(storage_ + kOffsets[I]));
  }
  template <std::size_t I>
  const Cell<I>& cell() const noexcept {
    return *std::launder(reinterpret_cast<const Cell<I>*>(storage_ + kOffsets[I]));
  }

  alignas(kCacheLine) std::byte storage_[kOffsets[kCount]];
};

}  // namespace sk::core
