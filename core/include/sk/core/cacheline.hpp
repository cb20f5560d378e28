#pragma once
// Cache-line size, padding helpers and the CPU pause hint.
#include <cstddef>

namespace sk::core {

// 64 bytes on every x86-64 and most Arm cores. Two adjacent lines are pulled
// together by the spatial prefetcher on Intel, so structures that two
// processes write separate their hot words by kFalseSharingRange.
inline constexpr std::size_t kCacheLine = 64;
inline constexpr std::size_t kFalseSharingRange = 128;

// A T alone on its own cache-line pair.
template <class T>
struct alignas(kFalseSharingRange) Padded {
  T value{};
};

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace sk::core
