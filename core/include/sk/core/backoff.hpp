#pragma once
// Bounded exponential spin with pause, then sched_yield. Machines here have 2
// cores, so an unbounded spin can starve the very process it waits for.
#include <sched.h>

#include <cstdint>

#include <sk/core/cacheline.hpp>

namespace sk::core {

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
  void reset() noexcept { spins_ = 0; steps_ = 0; }

 private:
  std::uint32_t spins_ = 0;
  std::uint32_t steps_ = 0;
};

}  // namespace sk::core
