#pragma once
// sk::Atomic<T>: one lock-free word in the Share arena, for integers,
// floating point, bool and enums.
//
//   share->counter += 1;          // integer: ONE lock-prefixed fetch_add, never a CAS loop
//   share->ratio *= 1.5;          // floating point += -= *= /=: a compare-exchange loop
//   long seen = share->counter;   // implicit load
//
// Compound assignments return the NEW value (not a reference): `(c += 2)` is
// what this operation produced, even if other processes add more right after.
// All operations default to memory_order_seq_cst, like std::atomic.
//
// Progress: integer += -= ++ -- |= &= ^= and every exchange/store are single
// atomic instructions (wait-free). Floating-point arithmetic, integer *= /=
// and bool ^= are compare-exchange loops: lock-free (some process always
// makes progress) but a single process can in theory retry while others keep
// winning; there is no lock, so a process killed at any instruction leaves
// either the old or the new value, never a torn or poisoned one.
#include <atomic>
#include <string>
#include <string_view>
#include <type_traits>

#include <sk/core/backoff.hpp>
#include <sk/slots/format.hpp>

namespace sk {

template <class T>
concept AtomicValue =
    (std::is_integral_v<T> || std::is_floating_point_v<T> || std::is_enum_v<T>) && !std::is_const_v<T> &&
    !std::is_volatile_v<T>;

template <AtomicValue T>
class Atomic {
  static constexpr bool kInteger = std::is_integral_v<T> && !std::is_same_v<T, bool>;
  static constexpr bool kFloat = std::is_floating_point_v<T>;
  static constexpr bool kBool = std::is_same_v<T, bool>;
  static constexpr bool kArith = kInteger || kFloat;

 public:
  static constexpr std::string_view kind = "Atomic";
  using value_type = T;

  constexpr Atomic() noexcept : v_(T{}) {}
  constexpr Atomic(T initial) noexcept : v_(initial) {}  // NOLINT: `sk::Atomic<long> c{5};`
  Atomic(const Atomic&) = delete;
  Atomic& operator=(const Atomic&) = delete;

  // ---- every T -----------------------------------------------------------------
  // SYNC POINT (the defaults of every operation below): the caller's order,
  // seq_cst unless it passes another, exactly as std::atomic: the slot is the
  // user's own synchronization (one total order of all seq_cst operations
  // on every sk::Atomic of every process). Weaker orders are the caller's
  // choice and pairing.
  T load(std::memory_order order = std::memory_order_seq_cst) const noexcept { return v_.load(order); }
  void store(T v, std::memory_order order = std::memory_order_seq_cst) noexcept { v_.store(v, order); }
  T exchange(T v, std::memory_order order = std::memory_order_seq_cst) noexcept { return v_.exchange(v, order); }
  // Strong compare-exchange: true if the value was `expected` and is now
  // `desired`; otherwise `expected` receives the current value.
  bool compare_exchange(T& expected, T desired, std::memory_order order = std::memory_order_seq_cst) noexcept {
    return v_.compare_exchange_strong(expected, desired, order);
  }
  operator T() const noexcept { return load(); }  // NOLINT: reads like the plain variable
  T operator=(T v) noexcept {
    store(v);
    return v;
  }

  // ---- arithmetic ----------------------------------------------------------
  // SYNC POINT (defaults): the caller's order, seq_cst by default (see above).
  T fetch_add(T d, std::memory_order order = std::memory_order_seq_cst) noexcept
    requires kArith
  {
    if constexpr (kInteger) {
      return v_.fetch_add(d, order);
    } else {
      return rmw([d](T old) { return old + d; }, order);
    }
  }
  // SYNC POINT (default): seq_cst unless the caller passes another order.
  T fetch_sub(T d, std::memory_order order = std::memory_order_seq_cst) noexcept
    requires kArith
  {
    if constexpr (kInteger) {
      return v_.fetch_sub(d, order);
    } else {
      return rmw([d](T old) { return old - d; }, order);
    }
  }
  T operator+=(T d) noexcept
    requires kArith
  {
    return plus(fetch_add(d), d);
  }
  T operator-=(T d) noexcept
    requires kArith
  {
    return minus(fetch_sub(d), d);
  }
  T operator*=(T m) noexcept
    requires kArith
  {
    return apply([m](T old) { return times(old, m); });
  }
  // Integer division by zero is the caller's bug, as for a plain int.
  T operator/=(T m) noexcept
    requires kArith
  {
    return apply([m](T old) { return static_cast<T>(old / m); });
  }
  T operator++() noexcept
    requires kArith
  {
    return *this += T{1};
  }
  T operator--() noexcept
    requires kArith
  {
    return *this -= T{1};
  }
  T operator++(int) noexcept
    requires kArith
  {
    return fetch_add(T{1});
  }
  T operator--(int) noexcept
    requires kArith
  {
    return fetch_sub(T{1});
  }

  // ---- bitwise (integers and bool) ----------------------------------------------
  // SYNC POINT (fetch_or / fetch_and / fetch_xor): seq_cst, as every
  // default-ordered sk::Atomic operation (see load()); the bool forms keep it
  // with a seq_cst exchange, load or read-modify-write.
  T fetch_or(T b) noexcept
    requires(kInteger || kBool)
  {
    if constexpr (kInteger) {
      return v_.fetch_or(b);
    } else {
      return b ? v_.exchange(true) : v_.load();  // x | false == x: nothing to write
    }
  }
  T fetch_and(T b) noexcept
    requires(kInteger || kBool)
  {
    if constexpr (kInteger) {
      return v_.fetch_and(b);
    } else {
      return b ? v_.load() : v_.exchange(false);  // x & true == x
    }
  }
  T fetch_xor(T b) noexcept
    requires(kInteger || kBool)
  {
    if constexpr (kInteger) {
      return v_.fetch_xor(b);
    } else {
      // SYNC POINT: seq_cst, as the integer fetch_xor this stands in for.
      return b ? rmw([](T old) { return !old; }, std::memory_order_seq_cst) : v_.load();
    }
  }
  T operator|=(T b) noexcept
    requires(kInteger || kBool)
  {
    return static_cast<T>(fetch_or(b) | b);
  }
  T operator&=(T b) noexcept
    requires(kInteger || kBool)
  {
    return static_cast<T>(fetch_and(b) & b);
  }
  T operator^=(T b) noexcept
    requires(kInteger || kBool)
  {
    return static_cast<T>(fetch_xor(b) ^ b);
  }

  // Applies fn(old) -> new atomically (compare-exchange loop); returns the new
  // value. fn may run several times: keep it pure.
  template <class Fn>
  T apply(Fn&& fn) noexcept {
    T old = v_.load(std::memory_order_relaxed);
    core::Backoff backoff;
    for (;;) {
      const T next = fn(old);
      // SYNC POINT: seq_cst like every default-ordered sk::Atomic operation:
      // apply() is one more read-modify-write in the slot's total order.
      if (v_.compare_exchange_weak(old, next, std::memory_order_seq_cst, std::memory_order_relaxed)) return next;
      backoff.pause();  // lost a race: let the winner's line settle
    }
  }

  std::string describe_value() const { return slots::format_value(load()); }

 private:
  template <class Fn>
  T rmw(Fn&& fn, std::memory_order order) noexcept {
    T old = v_.load(std::memory_order_relaxed);
    core::Backoff backoff;
    while (!v_.compare_exchange_weak(old, fn(old), order, std::memory_order_relaxed)) backoff.pause();
    return old;
  }
  // Wrapping arithmetic for integers (like the hardware's fetch_add), so
  // that reporting the new value of an overflowing add is not UB.
  static T plus(T a, T b) noexcept {
    if constexpr (kInteger) {
      using W = unsigned long long;  // wide enough that small types do not promote to int
      return static_cast<T>(static_cast<W>(a) + static_cast<W>(b));
    } else {
      return a + b;
    }
  }
  static T minus(T a, T b) noexcept {
    if constexpr (kInteger) {
      using W = unsigned long long;  // wide enough that small types do not promote to int
      return static_cast<T>(static_cast<W>(a) - static_cast<W>(b));
    } else {
      return a - b;
    }
  }
  static T times(T a, T b) noexcept {
    if constexpr (kInteger) {
      using W = unsigned long long;  // wide enough that small types do not promote to int
      return static_cast<T>(static_cast<W>(a) * static_cast<W>(b));
    } else {
      return a * b;
    }
  }

  std::atomic<T> v_;

  static_assert(std::atomic<T>::is_always_lock_free,
                "sk::Atomic<T> needs a T that the CPU updates lock-free (not long double); use sk::Value<T>");
};

}  // namespace sk
