#pragma once
// sk::Shared<U>: a user class in a Share, one slot per field, with per-method
// read/write sets declared at compile time (the counterpart of the original's
// `_shared_meta`).
//
//   class Account {
//    public:
//     void deposit(long v) { balance += v; last = v; ++ops; }
//     long get() const { return balance; }
//    private:
//     long balance = 0; long last = 0; int ops = 0;
//     SK_SHARED_FIELDS(Account, balance, last, ops);          // in the class body
//   };
//   SK_SHARED_METHOD(Account, deposit, writes(balance, last, ops), reads(balance, ops));
//   SK_SHARED_METHOD(Account, get, reads(balance));
//
//   struct State { sk::Shared<Account> account; };  SK_SHARE(State, account);
//   share->account.call<&Account::deposit>(5);       // from any process
//   long b = share->account.call<&Account::get>();
//
// How a call works
//  * Writing method (non-empty writes): locks exactly the written fields, in
//    ascending field index (so two calls never deadlock), builds a local U
//    (default-constructed), loads the read and written fields into it (the
//    written ones are stable under our locks; the read-only ones are a
//    consistent snapshot), runs the method on the local U, writes the
//    written fields into their unpublished copies, then publishes all of
//    them as one transaction and unlocks. Returns the method's result (by
//    value; a returned reference is copied before the local U goes away).
//  * Read-only method (no writes): takes no lock; loads the fields it reads
//    as one consistent snapshot (all of them as they were at one instant)
//    and runs on the local copy. Readers never block writers.
//  * If the method throws, nothing is published; the exception propagates.
//
// Each field is a two-copy seqlock cell: readers read the published copy,
// a writer writes the other one, and publishing flips which copy is
// readable. Publishing is two-phase so that several fields change at one
// instant for readers: first every written field's seq goes odd ("being
// published"), then each goes to the next even value (the other copy). A
// reader that meets an odd seq waits (bounded spin, then yields) and
// re-reads; one that passes validation saw every call entirely or not at
// all. Readers never block writers; they wait only for the few stores of a
// publish in progress (and repair it if its writer died).
//
// A call records its field set and a commit flag in its lowest ("leader")
// field, so a writer SIGKILLed at any instruction is repaired all-or-nothing
// by the next process that waits for one of its fields (after a bounded spin
// and 2 ms park slices it checks the holder's OwnerId with
// sk::alloc::is_alive): before the commit flag, the dead call's writes are
// discarded (the last committed values stay); after it, every field of the
// call is moved to its published state.
//
// What cannot be checked (documented contract, see docs/share.md):
//  * that a method touches only the fields it declares. Writes to fields not
//    in writes(...) are made on the local copy and silently dropped; fields
//    not in reads(...)/writes(...) hold U{}'s default values during the call.
//  * that read-only fields stay unchanged until the call publishes: a
//    writing call locks only its written fields, so another call may change a
//    field this one only read (declare it in writes(...) to serialize on it).
//  * that the method does not keep pointers or references into the local U,
//    or share state through statics.
//  * overloaded methods: &U::name must name exactly one function.
// Calling a method without SK_SHARED_METHOD is a compile-time error.
//
// Fields must be trivially copyable (at most 64 fields per class). U must be
// default-constructible.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <sk/core/backoff.hpp>
#include <sk/core/cacheline.hpp>
#include <sk/core/fence.hpp>
#include <sk/core/futex.hpp>
#include <sk/slots/format.hpp>
#include <sk/slots/reflect.hpp>

namespace sk {

namespace slots::detail {

inline constexpr std::uint32_t kNoLeader = 0xffffffffu;

// Transaction state of one field; the field's two data copies follow it.
struct alignas(core::kCacheLine) FieldHeader {
  std::atomic<std::uint64_t> lock{0};            // OwnerId::pack() of the writer holding it; 0 = free
  std::atomic<std::uint64_t> mask{0};            // leader only: the holder's written-field mask
  std::atomic<std::uint32_t> seq{0};             // odd: being published; readable copy = (seq >> 1) & 1; +2 per publish
  std::atomic<std::uint32_t> target{0};          // seq this field gets when the holder's call publishes
  std::atomic<std::uint32_t> leader{kNoLeader};  // lowest field index of the holder's call
  std::atomic<std::uint32_t> commit{0};          // leader only: 1 from the commit point until all flipped
  core::WaitPoint wait;                          // writers waiting for `lock` park here
};
static_assert(std::is_standard_layout_v<FieldHeader>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);

// Crash-test injection point (process-local; nullptr in production): called
// in publish_and_unlock() after the commit point and after each field flip,
// with the number of fields flipped so far. Tests SIGKILL themselves there.
inline void (*publish_hook)(std::size_t flipped) noexcept = nullptr;

// Process-local view of the headers of one Shared<U> (base + offsets), used
// by the type-independent locking and recovery code in shared.cpp.
class FieldTable {
 public:
  FieldTable(std::byte* base, const std::size_t* offsets, std::size_t count) noexcept
      : base_(base), offsets_(offsets), count_(count) {}

  FieldHeader& at(std::size_t i) const noexcept {
    return *std::launder(reinterpret_cast<FieldHeader*>(base_ + offsets_[i]));
  }

  // Locks every field in `mask` in ascending index order (blocking: bounded
  // spin, then park; repairs fields whose holder died), records the call's
  // leader and field set, then issues the release fence that must precede
  // the data stores into the unpublished copies.
  void lock(std::uint64_t mask) const;
  // Commit point, flips every field in `mask` to its new copy, unlocks.
  void publish_and_unlock(std::uint64_t mask) const noexcept;
  // Unlocks without publishing (the method threw).
  void unlock(std::uint64_t mask) const noexcept;
  // For readers that found field i mid-publish for a while: if its holder
  // is dead, completes (rolls forward) the dead call; otherwise does nothing.
  void repair_if_dead(std::size_t i) const;

 private:
  void lock_one(std::size_t i, std::uint32_t leader, std::uint64_t mask, std::uint64_t self) const;
  void recover(std::size_t i, std::uint64_t dead, std::uint64_t self) const;
  void recover_call(std::uint32_t leader, std::uint64_t dead, std::uint64_t self) const;
  void release(std::size_t i) const noexcept;

  std::byte* base_;
  const std::size_t* offsets_;
  std::size_t count_;
};

// A field of type F: header + two copies as relaxed atomic words (so that a
// reader racing a writer is a data-race-free read that validation rejects).
template <class F>
struct FieldCell {
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

template <class P>
struct MemberPointee;
template <class C, class F>
struct MemberPointee<F C::*> {
  using type = F;
};

}  // namespace slots::detail

template <slots::SharedFields U>
class Shared {
  static constexpr auto kFields = slots::fields_of<U>;
  static constexpr std::size_t kCount = kFields.size();
  static_assert(kCount >= 1 && kCount <= 64, "SK_SHARED_FIELDS lists 1 to 64 fields");
  static_assert(std::is_default_constructible_v<U>, "sk::Shared<U> builds a local U per call: U needs a default "
                                                    "constructor");

  template <std::size_t I>
  using FieldType = typename slots::detail::MemberPointee<std::remove_cv_t<
      std::tuple_element_t<I, std::remove_cvref_t<decltype(kFields.ptrs)>>>>::type;
  template <std::size_t I>
  using Cell = slots::detail::FieldCell<FieldType<I>>;

  template <std::size_t... I>
  static constexpr bool all_trivially_copyable(std::index_sequence<I...>) noexcept {
    return (std::is_trivially_copyable_v<FieldType<I>> && ...);
  }
  static_assert(all_trivially_copyable(std::make_index_sequence<kCount>{}),
                "sk::Shared<U>: every field listed in SK_SHARED_FIELDS must be trivially copyable (keep "
                "containers and strings in their own sk::Object / sk::List slot)");

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
  static constexpr auto kOffsets = compute_offsets(std::make_index_sequence<kCount>{});
  static constexpr std::uint64_t kAll = kCount == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << kCount) - 1;

 public:
  static constexpr std::string_view kind = "Shared";
  using value_type = U;

  // Every field starts as in U{} (or as in `initial`).
  Shared() : Shared(U{}) {}
  explicit Shared(const U& initial) noexcept { construct(initial, std::make_index_sequence<kCount>{}); }
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  // Runs method M (declared with SK_SHARED_METHOD) on the shared object; see
  // the header comment.
  template <auto M, class... Args>
  auto call(Args&&... args) {
    static_assert(std::is_member_function_pointer_v<decltype(M)>,
                  "sk::Shared<U>::call<&U::method>(args...): M must be a pointer to a member function of U");
    if constexpr (!slots::SharedMethod<U, M>) {
      static_assert(slots::SharedMethod<U, M>,
                    "this method of U has no SK_SHARED_METHOD(U, method, writes(...), reads(...)) declaration; "
                    "declare which fields it reads and writes after the class");
    } else {
      constexpr slots::MethodAccess access = slots::method_access_of<U, M>;
      using R = std::invoke_result_t<decltype(M), U&, Args...>;
      using Ret = std::conditional_t<std::is_reference_v<R>, std::remove_cvref_t<R>, R>;
      U local{};
      if constexpr (access.writes == 0) {
        read_snapshot<access.reads>(local);
        return static_cast<Ret>(std::invoke(M, local, std::forward<Args>(args)...));
      } else {
        const slots::detail::FieldTable table = fields();
        table.lock(access.writes);
        struct Unlock {  // the method threw: nothing published
          const slots::detail::FieldTable& t;
          bool armed = true;
          ~Unlock() {
            if (armed) t.unlock(access.writes);
          }
        } guard{table};
        read_locked<access.writes>(local);
        if constexpr (constexpr std::uint64_t ro = access.reads & ~access.writes; ro != 0) read_snapshot<ro>(local);
        if constexpr (std::is_void_v<R>) {
          std::invoke(M, local, std::forward<Args>(args)...);
          write_unpublished<access.writes>(local);
          guard.armed = false;
          table.publish_and_unlock(access.writes);
        } else {
          Ret result = std::invoke(M, local, std::forward<Args>(args)...);
          write_unpublished<access.writes>(local);
          guard.armed = false;
          table.publish_and_unlock(access.writes);
          return result;
        }
      }
    }
  }

  // All fields, as one consistent snapshot (no lock).
  U snapshot() const {
    U out{};
    read_snapshot<kAll>(out);
    return out;
  }
  // One field (no lock): share->account.get<&Account::balance>().
  template <auto Field>
  auto get() const {
    constexpr std::size_t i = index_of<Field>(std::make_index_sequence<kCount>{});
    static_assert(i < kCount, "get<&U::field>(): the field is not listed in SK_SHARED_FIELDS");
    U out{};
    read_snapshot<std::uint64_t{1} << i>(out);
    return out.*Field;
  }
  // Replaces every field (one transaction over all of them).
  void store(const U& value) {
    const slots::detail::FieldTable table = fields();
    table.lock(kAll);
    write_unpublished<kAll>(value);
    table.publish_and_unlock(kAll);
  }

  // Number of publishes of field i so far (for tests and statistics).
  std::uint32_t version(std::size_t i) const noexcept {
    return fields().at(i).seq.load(std::memory_order_relaxed) / 2;
  }
  // OwnerId::pack() of the process holding field i, 0 if none.
  std::uint64_t holder(std::size_t i) const noexcept {
    return fields().at(i).lock.load(std::memory_order_relaxed);
  }

  // "{balance=5, last=5, ops=1}"
  std::string describe_value() const {
    const U snap = snapshot();
    const auto names = kFields.names();
    std::string out = "{";
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((out += (I ? ", " : ""), out += names[I], out += '=',
        out += slots::format_value(snap.*std::get<I>(kFields.ptrs))),
       ...);
    }(std::make_index_sequence<kCount>{});
    return out + "}";
  }

  // Folded into the Share layout hash: field names, types, sizes, offsets.
  static constexpr std::uint64_t layout_hash() noexcept {
    std::uint64_t h = slots::detail::fnv1a("sk.shared.v1");
    const auto names = kFields.names();
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((h = slots::detail::fnv1a(names[I], h), h = slots::detail::fnv1a(slots::type_name<FieldType<I>>(), h),
        h = slots::detail::fnv1a_u64(sizeof(FieldType<I>), h), h = slots::detail::fnv1a_u64(kOffsets[I], h)),
       ...);
    }(std::make_index_sequence<kCount>{});
    return h;
  }

 private:
  template <std::size_t... I>
  void construct(const U& initial, std::index_sequence<I...>) noexcept {
    (::new (static_cast<void*>(storage_ + kOffsets[I])) Cell<I>(initial.*std::get<I>(kFields.ptrs)), ...);
  }

  slots::detail::FieldTable fields() const noexcept {
    return slots::detail::FieldTable(const_cast<std::byte*>(storage_), kOffsets.data(), kCount);
  }
  template <std::size_t I>
  Cell<I>& cell() const noexcept {
    return *std::launder(reinterpret_cast<Cell<I>*>(const_cast<std::byte*>(storage_) + kOffsets[I]));
  }

  template <auto Field, std::size_t... I>
  static constexpr std::size_t index_of(std::index_sequence<I...>) noexcept {
    std::size_t found = kCount;
    (
        [&] {
          if constexpr (std::is_same_v<std::remove_cvref_t<decltype(std::get<I>(kFields.ptrs))>,
                                       std::remove_cvref_t<decltype(Field)>>) {
            if (std::get<I>(kFields.ptrs) == Field) found = I;
          }
        }(),
        ...);
    return found;
  }

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

  // Fields we hold locked: their readable copy cannot change under us.
  template <std::uint64_t Mask>
  void read_locked(U& out) const noexcept {
    for_each<Mask>([&]<std::size_t I>() {
      Cell<I>& c = cell<I>();
      const std::uint32_t s = c.header.seq.load(std::memory_order_relaxed);  // ours: lock acquire ordered it
      Cell<I>::load_words(c.data[(s >> 1) & 1u], out.*std::get<I>(kFields.ptrs));
    });
  }

  // Multi-field seqlock read: record every field's seq, copy, then check
  // that none moved. With the two-phase publish this is a snapshot of one
  // instant: if we had read field x before a call's publish and field y
  // after it, then reading y (acquire) ordered the call's phase-1 store to
  // x before our re-read of x, which then fails.
  template <std::uint64_t Mask>
  void read_snapshot(U& out) const {
    std::uint32_t seen[kCount] = {};
    core::Backoff backoff;
    for (;;) {
      bool busy = false;
      for_each<Mask>([&]<std::size_t I>() {
        Cell<I>& c = cell<I>();
        // SYNC POINT: acquire pairs with the release stores of seq in a
        // publish (phase 2) or repair: makes the published copy's words and
        // the call's phase-1 stores to its other fields visible. Without it
        // we could read stale words or miss a publish in progress.
        seen[I] = c.header.seq.load(std::memory_order_acquire);
        busy = busy || (seen[I] & 1u) != 0;
        Cell<I>::load_words(c.data[(seen[I] >> 1) & 1u], out.*std::get<I>(kFields.ptrs));
      });
      if (!busy) {
        // SYNC POINT: pairs with the release fence a writer issues after
        // locking and before storing into the copy it will publish (the copy
        // we may be reading, two publishes later): if we read any such word,
        // the re-read below sees the newer seq. Without it a torn copy passes.
        core::fence(std::memory_order_acquire);
        bool same = true;
        for_each<Mask>([&]<std::size_t I>() {
          same = same && cell<I>().header.seq.load(std::memory_order_relaxed) == seen[I];
        });
        if (same) return;
      } else if (backoff.owner_check_due()) {
        // A publish has been in progress for a while: its writer may be dead.
        const slots::detail::FieldTable table = fields();
        for (std::size_t i = 0; i < kCount; ++i)
          if (((Mask >> i) & 1u) && (seen[i] & 1u)) table.repair_if_dead(i);
      }
      backoff.pause();
    }
  }

  // Writes the fields into their unpublished copies (we hold their locks).
  template <std::uint64_t Mask>
  void write_unpublished(const U& in) noexcept {
    for_each<Mask>([&]<std::size_t I>() {
      Cell<I>& c = cell<I>();
      const std::uint32_t s = c.header.seq.load(std::memory_order_relaxed);
      Cell<I>::store_words(in.*std::get<I>(kFields.ptrs), c.data[((s >> 1) + 1) & 1u]);
    });
  }

  alignas(core::kCacheLine) std::byte storage_[kOffsets[kCount]];
};

}  // namespace sk
