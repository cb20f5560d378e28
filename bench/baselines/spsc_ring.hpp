#pragma once
// Reference: our own SpscRing<T, Capacity>, the fastest ring this project
// has measured between two processes (bench/core_ring.cpp), kept as the
// yardstick the Pipe is held to (its blocking 64 B figure; issue #18). It is
// not part of the library: sk::Pipe runs on core::ByteRing (variable-size
// records, validated headers, owner tags), and nothing in the library
// needs a fixed-size slot ring (docs/core-seqlock-deque.md says why).
// Tests: tests/unit/bench_spsc_ring.cpp and tests/stress/bench_spsc_ring_*.cpp.
//
// A bounded single-producer / single-consumer ring of
// fixed-size slots, usable between threads or between processes (the whole
// object, slots included, is inline and holds no pointers, so it may be
// placement-constructed in a MAP_SHARED mapping at different addresses).
//
// Layout (four cache-line pairs + the slots):
//   [producer pair]  tail_ (published)  + head_cache_ (producer's last view of head_)
//   [consumer pair]  head_ (published)  + tail_cache_ (consumer's last view of tail_)
//   [wait pair]      data_wp_ (consumer parks), space_wp_ (producer parks)
//   [slots]          T[Capacity]
// Each side reads the other's index only when its cached copy says the ring
// looks full / empty, so in steady state a push or pop moves no index line
// between cores (the cached-index trick of rigtorp's SPSCQueue). Indices are
// monotonically increasing 64-bit counters; the slot is counter & (Capacity-1).
//
// Batch publish: try_push_n / try_pop_n move many slots with one index store
// and one notify. Parking: push_wait / pop_wait spin a bounded number of
// rounds, then sleep on a futex (WaitPoint) until the other side notifies or
// the timeout expires. A side that never parks may pass Notify::no to skip
// the wake check (a seq_cst fence) on every operation.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

#include <sk/core/cacheline.hpp>
#include <sk/core/futex.hpp>

namespace bench {

// Whether a publishing operation wakes a parked peer. Notify::no is only for
// peers that never park (pure spinning); a parked peer then sleeps until its
// timeout.
enum class Notify : std::uint8_t { yes, no };

template <class T, std::size_t Capacity>
class SpscRing {
  static_assert(std::is_trivially_copyable_v<T>, "SpscRing slots are copied bytewise across processes");
  static_assert(Capacity >= 2 && (Capacity & (Capacity - 1)) == 0, "Capacity must be a power of two >= 2");
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "indices must be lock-free (shared memory)");

 public:
  using value_type = T;
  static constexpr std::size_t capacity() noexcept { return Capacity; }

  SpscRing() noexcept {
    // Layout checks live here: inside a member function the class is complete.
    static_assert(std::is_standard_layout_v<SpscRing>, "placed in shared memory: standard layout only");
    static_assert(alignof(SpscRing) == sk::core::kFalseSharingRange);
    static_assert(sizeof(ProducerSide) == sk::core::kFalseSharingRange && sizeof(ConsumerSide) == sk::core::kFalseSharingRange &&
                  sizeof(Waits) == sk::core::kFalseSharingRange);
    static_assert(offsetof(SpscRing, cons_) - offsetof(SpscRing, prod_) >= sk::core::kFalseSharingRange);
    static_assert(offsetof(SpscRing, slots_) % sk::core::kFalseSharingRange == 0);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  // ---- producer side -------------------------------------------------------
  bool try_push(const T& v, Notify notify = Notify::yes) noexcept { return try_push_n(&v, 1, notify) == 1; }

  // Pushes up to n values (as many as fit); publishes them with one store.
  // Returns how many were pushed.
  std::size_t try_push_n(const T* values, std::size_t n, Notify notify = Notify::yes) noexcept {
    const std::uint64_t tail = prod_.tail.load(std::memory_order_relaxed);
    std::uint64_t free = Capacity - (tail - prod_.head_cache);
    if (free < n) {
      // SYNC POINT: acquire pairs with the consumer's release of head_ in
      // publish_head(); without it we could overwrite a slot the consumer is
      // still copying out.
      prod_.head_cache = cons_.head.load(std::memory_order_acquire);
      free = Capacity - (tail - prod_.head_cache);
    }
    const std::size_t k = n < free ? n : static_cast<std::size_t>(free);
    if (k == 0) return 0;
    for (std::size_t i = 0; i < k; ++i) slots_[(tail + i) & kMask] = values[i];
    // SYNC POINT: release publishes the slot contents written above to the
    // consumer's acquire load of tail_; without it the consumer may read stale
    // slot bytes.
    prod_.tail.store(tail + k, std::memory_order_release);
    if (notify == Notify::yes) waits_.data.notify_all();
    return k;
  }

  // Pushes v, parking while the ring is full. False if the timeout expired.
  bool push_wait(const T& v, std::chrono::nanoseconds timeout, Notify notify = Notify::yes) noexcept {
    for (std::uint32_t i = 0; i < kPollsBeforeClock; ++i) {  // short waits never read the clock
      if (try_push(v, notify)) return true;
      sk::core::cpu_relax();
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (!waits_.space.wait_until([this] { return !full_for_producer(); }, deadline)) return false;
      if (try_push(v, notify)) return true;
    }
  }

  // ---- consumer side -------------------------------------------------------
  bool try_pop(T& out, Notify notify = Notify::yes) noexcept { return try_pop_n(&out, 1, notify) == 1; }

  std::optional<T> try_pop(Notify notify = Notify::yes) noexcept {
    T v{};
    if (try_pop_n(&v, 1, notify) == 1) return v;
    return std::nullopt;
  }

  // Pops up to max values into out; frees their slots with one store.
  std::size_t try_pop_n(T* out, std::size_t max, Notify notify = Notify::yes) noexcept {
    const std::uint64_t head = cons_.head.load(std::memory_order_relaxed);
    std::uint64_t avail = cons_.tail_cache - head;
    if (avail < max) {
      // SYNC POINT: acquire pairs with the producer's release of tail_ in
      // try_push_n(); it makes the slot bytes written before that store
      // visible here.
      cons_.tail_cache = prod_.tail.load(std::memory_order_acquire);
      avail = cons_.tail_cache - head;
    }
    const std::size_t k = max < avail ? max : static_cast<std::size_t>(avail);
    if (k == 0) return 0;
    for (std::size_t i = 0; i < k; ++i) out[i] = slots_[(head + i) & kMask];
    // SYNC POINT: release orders our slot reads before the producer may see
    // the slots as free (its acquire of head_); without it the producer could
    // overwrite a slot we have not finished copying.
    cons_.head.store(head + k, std::memory_order_release);
    if (notify == Notify::yes) waits_.space.notify_all();
    return k;
  }

  // Pops one value, parking while the ring is empty. nullopt on timeout.
  std::optional<T> pop_wait(std::chrono::nanoseconds timeout, Notify notify = Notify::yes) noexcept {
    for (std::uint32_t i = 0; i < kPollsBeforeClock; ++i) {
      if (auto v = try_pop(notify)) return v;
      sk::core::cpu_relax();
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (!waits_.data.wait_until([this] { return !empty_for_consumer(); }, deadline)) return std::nullopt;
      if (auto v = try_pop(notify)) return v;
    }
  }

  // Waits (poll, spin, then futex) until something can be popped, without
  // popping it, so the caller can then take a whole batch with try_pop_n.
  // False on timeout.
  bool wait_readable(std::chrono::nanoseconds timeout) noexcept {
    return poll_then_wait(waits_.data, [this] { return !empty_for_consumer(); }, timeout);
  }
  // Waits until at least one slot is free. False on timeout.
  bool wait_writable(std::chrono::nanoseconds timeout) noexcept {
    return poll_then_wait(waits_.space, [this] { return !full_for_producer(); }, timeout);
  }

  // ---- either side (approximate while the other side runs) -------------------
  std::size_t size_approx() const noexcept {
    const std::uint64_t head = cons_.head.load(std::memory_order_acquire);
    const std::uint64_t tail = prod_.tail.load(std::memory_order_acquire);
    return tail >= head ? static_cast<std::size_t>(tail - head) : 0;
  }
  bool empty_approx() const noexcept { return size_approx() == 0; }

  // Wakes both sides (e.g. after an out-of-band "closed" flag was set).
  void notify_all() noexcept {
    waits_.data.notify_all();
    waits_.space.notify_all();
  }

 private:
  static constexpr std::uint64_t kMask = Capacity - 1;
  // Polls (with a pause each) before a wait computes its deadline and falls
  // back to WaitPoint's spin / yield / futex sequence.
  static constexpr std::uint32_t kPollsBeforeClock = 64;

  template <class Ready>
  static bool poll_then_wait(sk::core::WaitPoint& wp, Ready ready, std::chrono::nanoseconds timeout) noexcept {
    for (std::uint32_t i = 0; i < kPollsBeforeClock; ++i) {
      if (ready()) return true;
      sk::core::cpu_relax();
    }
    return wp.wait_for(ready, timeout);
  }

  bool full_for_producer() const noexcept {
    // SYNC POINT: acquire of head_, as in try_push_n (the predicate only
    // decides whether to retry; try_push_n re-reads with acquire).
    return prod_.tail.load(std::memory_order_relaxed) - cons_.head.load(std::memory_order_acquire) >= Capacity;
  }
  bool empty_for_consumer() const noexcept {
    // SYNC POINT: acquire of tail_, as in try_pop_n (decision only).
    return prod_.tail.load(std::memory_order_acquire) == cons_.head.load(std::memory_order_relaxed);
  }

  struct alignas(sk::core::kFalseSharingRange) ProducerSide {
    std::atomic<std::uint64_t> tail{0};  // written by the producer only
    std::uint64_t head_cache = 0;        // producer-private
  };
  struct alignas(sk::core::kFalseSharingRange) ConsumerSide {
    std::atomic<std::uint64_t> head{0};  // written by the consumer only
    std::uint64_t tail_cache = 0;        // consumer-private
  };
  // Written only when a side parks; read by the other side's notify, so this
  // pair stays shared in both caches in steady state.
  struct alignas(sk::core::kFalseSharingRange) Waits {
    sk::core::WaitPoint data;   // consumer parks here, producer notifies
    sk::core::WaitPoint space;  // producer parks here, consumer notifies
  };

  ProducerSide prod_;
  ConsumerSide cons_;
  Waits waits_;
  alignas(sk::core::kFalseSharingRange) T slots_[Capacity]{};
};

}  // namespace bench
