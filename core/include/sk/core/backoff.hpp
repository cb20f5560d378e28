#pragma once
// Bounded exponential spin with pause, then sched_yield, and the one set of
// spin/park constants every wait in the library uses. Machines here have 2
// cores, so an unbounded spin can starve the very process it waits for.
//
// The shape of a wait on a word another process owns:
//   1. spin: Backoff::pause() for kSpinSteps steps (1, 2, 4 ... 64 pauses,
//      then yields: about 127 pauses and 5 yields);
//   2. park: WaitPoint::wait_for(..., kParkSlice, 0) in slices, and after
//      each slice without progress ask whether the owner is alive
//      (sk::alloc::is_alive, through the caller's owner_dead callback);
//   or, for a wait that never parks (a reader that only yields), ask about
//   the owner every kOwnerCheckEvery steps once past spinning
//   (Backoff::owner_check_due()): the check is a system call.
#include <sched.h>

#include <chrono>
#include <cstdint>

#include <sk/core/cacheline.hpp>

namespace sk::core {

// Backoff steps before a waiter parks (or, where it cannot park, starts
// checking the owner): about 127 pauses then a few yields.
inline constexpr std::uint32_t kSpinSteps = 12;
// A parked waiter wakes at least this often to re-check its owner's liveness.
inline constexpr std::chrono::milliseconds kParkSlice{2};
// A waiter that only yields asks about the owner once per this many steps.
inline constexpr std::uint32_t kOwnerCheckEvery = 64;
// Default spin rounds of WaitPoint::wait_until/wait_for before they park.
inline constexpr std::uint32_t kWaitPointSpin = 32;
// Nap of a wait that can only poll (no futex to park on: the other side may
// not have mapped it yet, or nothing notifies the condition).
inline constexpr std::chrono::microseconds kPollNap{200};

class Backoff {
 public:
  // Spins 1, 2, 4 ... up to kMaxSpin pauses, then yields the core each step.
  static constexpr std::uint32_t kMaxSpin = 64;

  void pause() noexcept {
    if (spins_ < kMaxSpin) {
      for (std::uint32_t i = 0; i < spins_; ++i) cpu_relax();
      spins_ = spins_ ? spins_ * 2 : 1;
    } else {
      sched_yield();
    }
    ++steps_;
  }
  // Number of pause() calls so far; callers use it to decide when to start
  // checking whether the owner of what they wait for is still alive.
  std::uint32_t steps() const noexcept { return steps_; }
  bool spinning() const noexcept { return spins_ < kMaxSpin; }
  // True once every kOwnerCheckEvery steps after the spin: time for a waiter
  // that does not park to ask whether the owner is alive.
  bool owner_check_due() const noexcept { return !spinning() && steps_ % kOwnerCheckEvery == 0; }
  void reset() noexcept {
    spins_ = 0;
    steps_ = 0;
  }

 private:
  std::uint32_t spins_ = 0;
  std::uint32_t steps_ = 0;
};

}  // namespace sk::core
