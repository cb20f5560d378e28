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
// The fields live in a sk::core::FieldSeqlock (core/include/sk/core/
// field_seqlock.hpp, which holds the protocol and its ordering argument),
// owner ids = OwnerId::pack(), liveness = sk::alloc::is_alive.
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
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <sk/alloc/owner.hpp>
#include <sk/core/field_seqlock.hpp>
#include <sk/slots/format.hpp>
#include <sk/slots/reflect.hpp>

namespace sk {

namespace slots::detail {

// FieldSeqlock's owners: ids are OwnerId::pack(), liveness is the registry's.
inline std::uint64_t self_owner_id() { return alloc::self_owner().pack(); }
inline bool owner_id_dead(std::uint64_t id) noexcept { return !alloc::is_alive(alloc::OwnerId::unpack(id)); }
inline constexpr core::FieldOwners kFieldOwners{&self_owner_id, &owner_id_dead};

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
  template <std::size_t... I>
  static constexpr bool all_trivially_copyable(std::index_sequence<I...>) noexcept {
    return (std::is_trivially_copyable_v<FieldType<I>> && ...);
  }
  static_assert(all_trivially_copyable(std::make_index_sequence<kCount>{}),
                "sk::Shared<U>: every field listed in SK_SHARED_FIELDS must be trivially copyable (keep "
                "containers and strings in their own sk::Object / sk::List slot)");

  template <std::size_t... I>
  static auto cells_type(std::index_sequence<I...>) -> core::FieldSeqlock<FieldType<I>...>;
  using Cells = decltype(cells_type(std::make_index_sequence<kCount>{}));
  static constexpr auto kOffsets = Cells::kOffsets;
  static constexpr std::uint64_t kAll = Cells::kAll;

 public:
  static constexpr std::string_view kind = "Shared";
  using value_type = U;

  // Every field starts as in U{} (or as in `initial`).
  Shared() : Shared(U{}) {}
  explicit Shared(const U& initial) noexcept : Shared(initial, std::make_index_sequence<kCount>{}) {}
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
        // Locks the written fields; abandons (publishes nothing) if the method throws.
        auto w = cells_.template begin_write<access.writes>(slots::detail::kFieldOwners);
        w.read(fields_of(local));  // stable under our locks
        if constexpr (constexpr std::uint64_t ro = access.reads & ~access.writes; ro != 0) read_snapshot<ro>(local);
        if constexpr (std::is_void_v<R>) {
          std::invoke(M, local, std::forward<Args>(args)...);
          w.write(fields_of(std::as_const(local)));
          w.commit();
        } else {
          Ret result = std::invoke(M, local, std::forward<Args>(args)...);
          w.write(fields_of(std::as_const(local)));
          w.commit();
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
    auto w = cells_.template begin_write<kAll>(slots::detail::kFieldOwners);
    w.write(fields_of(value));
    w.commit();
  }

  // Number of publishes of field i so far (for tests and statistics).
  std::uint32_t version(std::size_t i) const noexcept { return cells_.version(i); }
  // OwnerId::pack() of the process holding field i, 0 if none.
  std::uint64_t holder(std::size_t i) const noexcept { return cells_.holder(i); }

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
    std::uint64_t h = core::fnv1a("sk.shared.v1");
    const auto names = kFields.names();
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((h = core::fnv1a(names[I], h), h = core::fnv1a(slots::type_name<FieldType<I>>(), h),
        h = core::fnv1a_u64(sizeof(FieldType<I>), h), h = core::fnv1a_u64(kOffsets[I], h)),
       ...);
    }(std::make_index_sequence<kCount>{});
    return h;
  }

 private:
  template <std::size_t... I>
  Shared(const U& initial, std::index_sequence<I...>) noexcept : cells_(initial.*std::get<I>(kFields.ptrs)...) {}

  // Field I of u, for FieldSeqlock's readers and writers.
  template <class V>
  static auto fields_of(V& u) noexcept {
    return [&u]<std::size_t I>() -> auto& { return u.*std::get<I>(kFields.ptrs); };
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

  // One consistent snapshot of the fields in Mask (no lock).
  template <std::uint64_t Mask>
  void read_snapshot(U& out) const {
    cells_.template read<Mask>(fields_of(out), slots::detail::kFieldOwners);
  }

  Cells cells_;
};

}  // namespace sk
