#pragma once
// A SampleRing and its checks for the thread and process stress tests: sample
// i is four words all derived from i, so a reader can tell a torn sample (words
// of two writes) from an intact one without sharing anything with the writer.
#include <atomic>
#include <cstdint>

#include <sk/core/cacheline.hpp>
#include <sk/core/sample_ring.hpp>

#include "mix64.hpp"

namespace coretest {

inline constexpr std::size_t kRingWords = 4;
using RingSample = sk::core::Sample<kRingWords>;

inline RingSample sample_for(std::uint64_t i) noexcept {
  return {i, sk::test::mix64(i), ~i, sk::test::mix64(i) ^ 0x5a5a5a5a5a5a5a5aull};
}

// A ring small enough that the writer laps slow readers all the time.
template <std::uint64_t Capacity>
struct RingRegion {
  sk::core::SampleRingHead head;
  sk::core::SampleSlot<kRingWords> slots[Capacity]{};

  sk::core::SampleRingWriter<kRingWords> writer() noexcept { return {head, slots, Capacity}; }
  sk::core::SampleRingReader<kRingWords> reader() const noexcept { return {head, slots, Capacity}; }
};

// One reader's bookkeeping: every sample intact, indices strictly increasing,
// delivered + lost = everything it asked for.
struct RingCheck {
  std::uint64_t cursor = 0;
  std::uint64_t delivered = 0;
  std::uint64_t lost = 0;
  std::uint64_t bad = 0;  // torn samples or indices out of order
  std::uint64_t last = UINT64_MAX;

  // Reads everything committed. With `delay_spins`, reads up to the count it
  // saw before spinning that long: by then the writer has often moved on and
  // is rewriting the very slots being copied (the case validation is for).
  template <class Reader>
  void read(const Reader& r, std::uint32_t delay_spins = 0) {
    const std::uint64_t end = r.committed();
    for (std::uint32_t k = 0; k < delay_spins; ++k) sk::core::cpu_relax();
    const std::uint64_t l = r.read(cursor, end, [&](std::uint64_t i, const RingSample& s) {
      if (s != sample_for(i) || (last != UINT64_MAX && i <= last)) ++bad;
      last = i;
      ++delivered;
    });
    lost += l;
  }
  bool accounts_for(std::uint64_t total) const noexcept { return cursor == total && delivered + lost == total; }
};

}  // namespace coretest
