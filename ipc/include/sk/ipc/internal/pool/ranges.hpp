#pragma once
// Index ranges for the Pool scheduler. A range [begin, end) of chunk indices is
// packed into one 64-bit word so that a bounded work-stealing deque of plain
// words can hold it; each Pool worker slot owns one such deque in shared
// memory. The owner pops ranges at the bottom, thieves steal from the top.
#include <cstdint>
#include <optional>

#include <sk/core/ws_deque.hpp>

namespace sk::ipc::pool {

struct Range {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;  // exclusive
  constexpr std::uint32_t size() const noexcept { return end > begin ? end - begin : 0; }
  constexpr bool empty() const noexcept { return end <= begin; }
  constexpr std::uint64_t pack() const noexcept { return (std::uint64_t{end} << 32) | begin; }
  static constexpr Range unpack(std::uint64_t w) noexcept {
    return Range{static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(w >> 32)};
  }
};

// 32 ranges per worker: the owner only splits while its deque is empty, so at
// most a handful are ever queued (the initial block and one split half).
using RangeDeque = sk::core::WsDeque<std::uint64_t, 5>;

}  // namespace sk::ipc::pool
