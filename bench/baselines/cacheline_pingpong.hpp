#pragma once
// The floor for a round trip between two processes: one cache line in shared
// memory that the two sides bounce by spinning (no parking, no payload, no
// protocol). Nothing real can beat it; it shows what the hardware costs.
#include <atomic>
#include <cstdint>

#include <sk/core/cacheline.hpp>

namespace bench {

struct alignas(sk::core::kFalseSharingRange) CacheLinePingPong {
  std::atomic<std::uint64_t> turn{0};  // odd: the peer's turn, even: ours

  // Caller side: hand the line over and spin until it comes back.
  void ping(std::uint64_t round) noexcept {
    // SYNC POINT: release/acquire hand-off of the line; the only data is the counter.
    turn.store(2 * round + 1, std::memory_order_release);
    while (turn.load(std::memory_order_acquire) != 2 * round + 2) sk::core::cpu_relax();
  }
  // Peer side: answer every ping forever.
  [[noreturn]] void serve() noexcept {
    for (std::uint64_t r = 0;; ++r) {
      while (turn.load(std::memory_order_acquire) != 2 * r + 1) sk::core::cpu_relax();
      turn.store(2 * r + 2, std::memory_order_release);
    }
  }
};

}  // namespace bench
