#pragma once
// Futex wait/wake on a 32-bit word that may live in shared memory (the
// non-PRIVATE futex ops, so waiters in different processes meet), and
// WaitPoint: spin-then-park with a "waiters present" count so that the wake
// side skips the syscall when nobody sleeps.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

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

// A place to wait for a condition published by someone else (another thread
// or process). Position-independent: two words, no pointers.
//
//   waiter: wait_until(ready, deadline)      notifier: publish state; notify()
//
// Lost-wakeup argument (Dekker): the waiter increments `waiters_` and then
// (after a seq_cst fence) re-checks ready(); the notifier publishes its state,
// issues a seq_cst fence and then reads `waiters_`. At least one side sees the
// other's write: either the waiter sees the state, or the notifier sees the
// waiter and bumps `epoch_`, which the waiter's futex_wait compares against the
// epoch it read *before* registering, so the wake cannot be missed.
struct alignas(8) WaitPoint {
  std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> waiters_{0};

  // Wakes every process/thread parked here. Cheap (no syscall) when none is.
  void notify_all() noexcept {
    // SYNC POINT: pairs with the fence in wait_until(); orders the caller's
    // state publication before our read of waiters_.
    fence(std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_relaxed) != 0) {
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
                  std::uint32_t spin = 32) noexcept {
    Backoff b;
    for (std::uint32_t i = 0; i < spin; ++i) {
      if (ready()) return true;
      b.pause();
    }
    for (;;) {
      const std::uint32_t seen = epoch_.load(std::memory_order_acquire);
      if (ready()) return true;
      waiters_.fetch_add(1, std::memory_order_relaxed);
      // SYNC POINT: pairs with the fence in notify_all() (see class comment).
      fence(std::memory_order_seq_cst);
      if (ready()) {
        waiters_.fetch_sub(1, std::memory_order_relaxed);
        return true;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        waiters_.fetch_sub(1, std::memory_order_relaxed);
        return ready();
      }
      futex_wait(epoch_, seen, deadline - now);
      waiters_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

  template <class Ready>
  bool wait_for(Ready&& ready, std::chrono::nanoseconds timeout, std::uint32_t spin = 32) noexcept {
    return wait_until(std::forward<Ready>(ready), std::chrono::steady_clock::now() + timeout, spin);
  }
};
static_assert(sizeof(WaitPoint) == 8 && std::is_standard_layout_v<WaitPoint>);

}  // namespace sk::core
