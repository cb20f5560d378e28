#pragma once
// Futex wait/wake on a 32-bit word that may live in shared memory (the
// non-PRIVATE futex ops, so waiters in different processes meet), and
// WaitPoint: spin-then-park with a "waiters present" count so that the wake
// side skips the syscall when nobody sleeps (FastWaitPoint: also the fence,
// through membarrier; see light_fence).
#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include <sk/core/backoff.hpp>
#include <sk/core/fence.hpp>

namespace sk::core {

static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<std::uint32_t>) == 4);

// Sleeps while word == expected, at most `timeout` (nullopt = no limit).
// Returns false only when the timeout expired; spurious wake-ups and value
// changes return true (callers re-check their condition).
bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::chrono::nanoseconds> timeout = std::nullopt) noexcept;

// Wakes up to n sleepers on word. Returns the number woken.
int futex_wake(std::atomic<std::uint32_t>& word, int n = INT32_MAX) noexcept;

// ---- asymmetric fences (for wake checks that run on every publish) ---------
//
// A Dekker-style wake check needs a full (StoreLoad) fence on both sides:
// the publisher between its state store and its "anyone waiting?" load, the
// waiter between its registration and its re-check. On x86 that fence waits
// for the store buffer to drain, i.e. for the publish store's cache miss: on
// a 64 B Pipe message it was about half of the sender's time. Linux's
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) moves that cost to the rare
// side: it makes every running thread of every process registered with
// MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED execute a full barrier (an IPI;
// a thread not running passes one at its context switch) before it returns.
//
//   light_fence(): the frequent side. A compiler barrier only, once this
//     process is registered; until then (first call, or a kernel without
//     membarrier) it registers and issues a real seq_cst fence.
//   heavy_fence(): the rare side (a waiter about to sleep). A seq_cst fence,
//     then membarrier GLOBAL_EXPEDITED. False if the kernel has that command
//     and the call failed here (a notifier may have skipped its fence: the
//     caller must not trust a wake-up; without kernel support nobody skips
//     it and the answer is true).
//
// Why no wake-up is lost (publisher P: store S, light_fence, load L; waiter
// W: store R, heavy_fence, load C): membarrier gives a point B in P's
// execution where P runs a full barrier. If S is before B, S is visible to
// C (which follows the membarrier). If S is after B, so is L (program order;
// the compiler barrier keeps it there and no load passes a full barrier),
// and L sees R (which precedes the membarrier). A P that was not registered
// yet ran a seq_cst fence between S and L: the classic symmetric argument
// with W's own fence. A P that registered concurrently with W's membarrier:
// registration and membarrier both run full barriers in the kernel around
// the registration state, so either W's membarrier covers P or P's later L
// sees R. The registration is inherited by fork (and re-done by the child
// on its first call anyway) and dropped by exec (a fresh process starts
// unregistered).
namespace detail {
// 1: this process is registered for GLOBAL_EXPEDITED barriers (futex.cpp
// lists the other states).
extern std::atomic<int> g_membarrier_registered;
void register_membarrier() noexcept;
}  // namespace detail

inline void light_fence() noexcept {
  if (detail::g_membarrier_registered.load(std::memory_order_relaxed) == 1) [[likely]] {
    // SYNC POINT: compiler barrier only: the notifier's store S stays before
    // its load L of waiters_; the waiter's membarrier (heavy_fence) supplies
    // the hardware ordering. Without it the compiler could hoist L above S.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    return;
  }
  detail::register_membarrier();
  // SYNC POINT: not registered (yet): the symmetric Dekker fence, as
  // WaitPoint's notify_all uses; without it a wake-up could be lost.
  fence(std::memory_order_seq_cst);
}
bool heavy_fence() noexcept;
// Whether light_fence() is only a compiler barrier in this process (tests, reports).
inline bool light_fence_is_asymmetric() noexcept {
  detail::register_membarrier();
  return detail::g_membarrier_registered.load(std::memory_order_relaxed) == 1;
}

// How a WaitPoint's notifier and waiter order "publish" against "is anyone
// waiting": both with a seq_cst fence (symmetric; cheap enough where
// notifications are rare), or the notifier with light_fence() and the waiter
// with heavy_fence() (asymmetric; for notifications on every message).
enum class WakeFence : std::uint8_t { symmetric, asymmetric };

// A place to wait for a condition published by someone else (another thread
// or process). Position-independent: two words, no pointers.
//
//   waiter: wait_until(ready, deadline)      notifier: publish state; notify()
//
// Lost-wakeup argument (Dekker): the waiter increments `waiters_` and then
// (after a fence) re-checks ready(); the notifier publishes its state,
// issues a fence and then reads `waiters_`. At least one side sees the
// other's write: either the waiter sees the state, or the notifier sees the
// waiter and bumps `epoch_`, which the waiter's futex_wait compares against
// the epoch it read *before* registering, so the wake cannot be missed. The
// fences are seq_cst on both sides (WakeFence::symmetric) or light/heavy
// (WakeFence::asymmetric, see light_fence above). Every process using one
// wait point must use the same kind: it is part of the type.
template <WakeFence Kind>
struct alignas(8) BasicWaitPoint {
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> waiters_{0};

  // Wakes every process/thread parked here. Cheap (no syscall) when none is;
  // with WakeFence::asymmetric also without a fence.
  void notify_all() noexcept {
    // SYNC POINT: pairs with the fence(s) in wait_until(); orders the
    // caller's state publication before our read of waiters_.
    if constexpr (Kind == WakeFence::asymmetric) {
      light_fence();
    } else {
      fence(std::memory_order_seq_cst);
    }
    if (waiters_.load(std::memory_order_relaxed) != 0) {
      // SYNC POINT: release, pairs with the waiter's acquire re-read of the
      // epoch after it wakes: the state it re-checks is at least this new.
      epoch_.fetch_add(1, std::memory_order_release);
      futex_wake(epoch_);
    }
  }

  // notify_all() for a caller whose publication was a seq_cst RMW (a CAS,
  // fetch_add): that RMW already orders it before our read of waiters_, so
  // the fence is skipped (an mfence on x86, ~1/3 of an uncontended store).
  // Lost-wakeup argument: a waiter does waiters_ += 1 (relaxed),
  // fence(seq_cst), then re-checks the published word. If its re-check read
  // that word from before the RMW and our load read waiters_ from before its
  // increment, then by [atomics.order]/4: its fence precedes the RMW in S
  // (4.2.3), the RMW precedes our load (4.1), and our load precedes its
  // fence (4.2.2): a cycle. So it sees the RMW or we see it waiting.
  void notify_all_after_seq_cst_rmw() noexcept {
    // SYNC POINT: seq_cst load, the read half of the Dekker pair above;
    // relaxed could be hoisted above the caller's RMW and miss a parked waiter.
    if (waiters_.load(std::memory_order_seq_cst) != 0) {
      epoch_.fetch_add(1, std::memory_order_release);
      futex_wake(epoch_);
    }
  }

  // Waits until ready() is true or the deadline passes. Spins `spin` rounds of
  // Backoff first (0 = park at once). Returns ready() at the end.
  template <class Ready>
  bool wait_until(Ready&& ready, std::chrono::steady_clock::time_point deadline,
                  std::uint32_t spin = kWaitPointSpin) noexcept {
    Backoff b;
    for (std::uint32_t i = 0; i < spin; ++i) {
      if (ready()) return true;
      b.pause();
    }
    for (;;) {
      // SYNC POINT: acquire pairs with notify_all()'s release bump of the
      // epoch: a waiter that reads the new epoch also sees the state the
      // notifier published before it. Without it ready() below could read
      // stale state after a wake-up and the waiter would park again.
      const std::uint32_t seen = epoch_.load(std::memory_order_acquire);
      if (ready()) return true;
      waiters_.fetch_add(1, std::memory_order_relaxed);
      // SYNC POINT: pairs with the fence in notify_all() (see class comment).
      fence(std::memory_order_seq_cst);
      bool trusted = true;
      if constexpr (Kind == WakeFence::asymmetric) trusted = heavy_fence();
      if (ready()) {
        waiters_.fetch_sub(1, std::memory_order_relaxed);
        return true;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        waiters_.fetch_sub(1, std::memory_order_relaxed);
        return ready();
      }
      // membarrier failed here while notifiers may skip their fence: a wake
      // could be missed, so sleep at most 1 ms at a time (never seen on a
      // kernel that let the notifiers register).
      auto left = std::chrono::nanoseconds(deadline - now);
      if (!trusted) left = std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(1));
      futex_wait(epoch_, seen, left);
      waiters_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  template <class Ready>
  bool wait_for(Ready&& ready, std::chrono::nanoseconds timeout, std::uint32_t spin = kWaitPointSpin) noexcept {
    return wait_until(std::forward<Ready>(ready), std::chrono::steady_clock::now() + timeout, spin);
  }
};

// Symmetric: for wait points notified now and then (arena memory, acks).
using WaitPoint = BasicWaitPoint<WakeFence::symmetric>;
// Asymmetric: for wait points notified on every message (ByteRing).
using FastWaitPoint = BasicWaitPoint<WakeFence::asymmetric>;
static_assert(sizeof(WaitPoint) == 8 && std::is_standard_layout_v<WaitPoint>);
static_assert(sizeof(FastWaitPoint) == 8 && std::is_standard_layout_v<FastWaitPoint>);

}  // namespace sk::core
