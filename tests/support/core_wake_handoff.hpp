#pragma once
// Hand-offs through one FastWaitPoint (asymmetric wake fences, futex.hpp):
// two sides take turns publishing a counter and notifying; the waiting side
// parks at once (no spin), so every round runs the heavy side's membarrier
// against the light side's fence-free check. A lost wake-up shows as a wait
// that lasted its whole timeout although the value had been published.
#include <atomic>
#include <chrono>
#include <cstdint>

#include <sk/core/futex.hpp>

namespace coretest {

struct WakeHandoff {
  sk::core::FastWaitPoint wp;
  std::atomic<std::uint32_t> value{0};
  std::atomic<std::uint32_t> lost{0};  // waits that timed out with the value already there

  static constexpr auto kTimeout = std::chrono::milliseconds(1000);

  // Side 0 publishes odd values, side 1 even ones; each waits for the other's.
  void run(int side, std::uint32_t rounds) noexcept {
    for (std::uint32_t i = 1; i <= rounds; ++i) {
      const std::uint32_t mine = 2 * i - 1 + static_cast<std::uint32_t>(side);
      if (side == 1) wait_for_value(mine - 1);
      // SYNC POINT: release publishes the turn; the FastWaitPoint orders it
      // before the waiter check (light fence against the waiter's membarrier).
      value.store(mine, std::memory_order_release);
      wp.notify_all();
      if (side == 0) wait_for_value(mine + 1);
    }
  }

 private:
  void wait_for_value(std::uint32_t want) noexcept {
    const auto t0 = std::chrono::steady_clock::now();
    // SYNC POINT: acquire pairs with the release store in run().
    auto ready = [&] { return value.load(std::memory_order_acquire) >= want; };
    while (!wp.wait_for(ready, kTimeout, 0)) {
    }
    if (std::chrono::steady_clock::now() - t0 >= kTimeout) lost.fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace coretest
