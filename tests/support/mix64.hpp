#pragma once
// A 64-bit mixing function (the murmur3 finalizer) for tests that derive
// message sizes and contents from a sequence number, so that the producer and
// the consumer agree on every byte without sharing anything.
#include <cstdint>

namespace sk::test {

inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

}  // namespace sk::test
