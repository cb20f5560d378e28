#pragma once
// sk::Value<T>: any trivially copyable T, of any size, on a two-copy seqlock
// (sk::core::Seqlock) in the Share arena.
//
//   share->config.store(Config{...});
//   Config c = share->config.load();                    // never waits for a writer
//   share->config.update([](Config& c) { c.hits += 1; });   // atomic read-modify-write
//
// Readers never block writers and never wait for them: they copy the
// committed copy and retry only if two writes overtook the copy. Writers take
// the seqlock's write lock (a CAS that records the writer's compact owner id,
// sk::alloc::OwnerId::compact()), write the
// other copy and publish it with one release CAS.
//
// Crash behaviour: a writer SIGKILLed at any instruction leaves the lock held
// by its owner id; the next writer spins a bounded time, parks in 2 ms slices
// and then asks sk::alloc::is_alive_compact(tag), which the kernel answers
// (owner.hpp: no pid, no /proc); a dead holder's write is aborted (its
// half-written copy is never made visible) and the last committed value
// stays. A Value is therefore never poisoned. If fn in update() throws,
// nothing is published and the exception propagates.
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <sk/alloc/owner.hpp>
#include <sk/core/seqlock.hpp>
#include <sk/ipc/type_name.hpp>
#include <sk/slots/format.hpp>

namespace sk {

namespace slots {
// Seqlock owner_dead callback: the tag is an OwnerId::compact().
inline bool tag_owner_dead(std::uint64_t tag) noexcept {
  return !alloc::is_alive_compact(static_cast<std::uint32_t>(tag));
}
inline std::uint32_t self_tag() { return alloc::self_owner().compact(); }
}  // namespace slots

template <class T>
class Value {
  static_assert(std::is_trivially_copyable_v<T>,
                "sk::Value<T> needs a trivially copyable T (its bytes are copied under a seqlock); "
                "use sk::Object for non-trivially-copyable types (std::string, std::vector, structs holding them)");

 public:
  static constexpr std::string_view kind = "Value";
  // Folded into the Share layout hash (reflect.hpp): the field names and field
  // types of a T declared with SK_FIELDS (0 otherwise; then T is checked by its
  // name and size only). Fault found by tests/unit/layout_mismatch_procs.cpp: a
  // program whose same-named T lists its fields in another order opened the
  // Share without a LayoutMismatch and read the fields swapped.
  static constexpr std::uint64_t layout_hash() noexcept { return ser::detail::FieldsAccess::signature<T>(); }
  using value_type = T;

  Value() noexcept
    requires std::is_default_constructible_v<T>
  = default;
  explicit Value(const T& initial) noexcept : lock_(initial) {}
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;

  // const: `share->v.load().x = 1` would change a copy, so it does not compile (use update/store).
  const T load() const noexcept { return lock_.load(); }
  operator T() const noexcept { return load(); }  // NOLINT: reads like the plain variable
  // One attempt; false if two writers overtook the copy (then retry or use load()).
  bool try_load(T& out) const noexcept { return lock_.try_load(out); }

  void store(const T& v) { lock_.store(v, slots::self_tag(), &slots::tag_owner_dead); }
  Value& operator=(const T& v) {
    store(v);
    return *this;
  }

  // Atomic read-modify-write; returns the value published. fn gets the
  // current value as T& and either modifies it in place (returns void) or
  // returns the new value.
  template <class Fn>
  T update(Fn&& fn) {
    return lock_.update(
        [&fn](T& v) {
          if constexpr (std::is_void_v<std::invoke_result_t<Fn&, T&>>) {
            fn(v);
          } else {
            v = fn(v);
          }
        },
        slots::self_tag(), &slots::tag_owner_dead);
  }

  // Number of committed writes so far (+ aborted ones); for tests and stats.
  std::uint64_t version() const noexcept { return lock_.version(); }
  // Pid of the process writing right now, 0 if none.
  std::uint32_t writer() const noexcept { return lock_.holder(); }

  // Low level: take the write lock and publish by hand (crash tests use
  // write_partial to die half-way through a write).
  [[nodiscard]] typename core::Seqlock<T>::Writer begin_write() {
    return lock_.begin_write(slots::self_tag(), &slots::tag_owner_dead);
  }

  std::string describe_value() const { return slots::format_value(load()); }

 private:
  core::Seqlock<T> lock_;
};

}  // namespace sk
