#pragma once
// sk::Counter<T>: an integer counter striped over 64 cache-line pairs, so
// that processes adding to it do not fight over one line.
//
//   share->hits += 1;            // fetch_add on this process's (and thread's) stripe
//   long total = share->hits.load();   // sums the 64 stripes
//
// A process (thread) picks its stripe from a hash of its pid and a
// per-process thread number, computed once and recomputed after fork(), so
// workers forked from one parent mostly land on different stripes; two on
// the same stripe are still exact (fetch_add), just slower.
//
// load() is exact once the adders are done. While they run, it returns a
// value that was the count at no single instant but lies between the count
// when load() started and the count when it returned (each stripe only grows
// under += of non-negative amounts). reset() exchanges every stripe with 0
// and returns what it removed: each concurrent += is either counted in that
// returned sum or survives the reset, never lost.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include <sk/core/cacheline.hpp>
#include <sk/slots/format.hpp>

namespace sk {

namespace slots {
// Bumped in every forked child (pthread_atfork, counter.cpp), so a thread's
// cached stripe is recomputed once after fork.
extern std::uint32_t g_fork_generation;
// Stripe of the calling thread in [0, 64): from its pid and a per-process
// thread number (slow path, once per thread and fork).
std::uint32_t compute_counter_stripe() noexcept;

struct StripeCache {
  std::uint32_t generation = ~std::uint32_t{0};
  std::uint32_t stripe = 0;
};
inline thread_local constinit StripeCache t_stripe{};

inline std::uint32_t counter_stripe() noexcept {
  if (t_stripe.generation != g_fork_generation) {
    t_stripe.stripe = compute_counter_stripe();
    t_stripe.generation = g_fork_generation;
  }
  return t_stripe.stripe;
}
}  // namespace slots

template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
class Counter {
 public:
  static constexpr std::string_view kind = "Counter";
  static constexpr std::size_t kStripes = 64;
  using value_type = T;

  Counter() noexcept = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void add(T d) noexcept { stripe().fetch_add(d, std::memory_order_relaxed); }
  // Returns nothing (unlike Atomic): the total is not known without a load().
  void operator+=(T d) noexcept { add(d); }
  void operator-=(T d) noexcept { add(static_cast<T>(T{0} - d)); }
  void operator++() noexcept { add(T{1}); }
  void operator++(int) noexcept { add(T{1}); }
  void operator--() noexcept { add(static_cast<T>(-1)); }
  void operator--(int) noexcept { add(static_cast<T>(-1)); }

  T load() const noexcept {
    using W = unsigned long long;  // wrapping sum, like the stripes themselves
    W sum = 0;
    // SYNC POINT: acquire pairs with nothing on the adders' side (they add
    // relaxed); it only keeps later reads of the caller after the sum. A
    // counter publishes a count, not other data.
    for (const auto& s : stripes_) sum += static_cast<W>(s.value.load(std::memory_order_acquire));
    return static_cast<T>(sum);
  }
  operator T() const noexcept { return load(); }  // NOLINT: reads like the plain variable

  // Sets every stripe to 0; returns the sum removed (see the class comment).
  T reset() noexcept {
    using W = unsigned long long;
    W sum = 0;
    // SYNC POINT: acq_rel exchange per stripe: acquire takes every add made
    // before it (each add is an RMW on the stripe, so none is lost or counted
    // twice); release orders whatever the caller did before reset() before
    // the zero that later adders build on.
    for (auto& s : stripes_) sum += static_cast<W>(s.value.exchange(0, std::memory_order_acq_rel));
    return static_cast<T>(sum);
  }

  std::string describe_value() const { return slots::format_value(load()); }

 private:
  std::atomic<T>& stripe() noexcept { return stripes_[slots::counter_stripe() % kStripes].value; }

  core::Padded<std::atomic<T>> stripes_[kStripes];

  static_assert(std::atomic<T>::is_always_lock_free);
};

}  // namespace sk
