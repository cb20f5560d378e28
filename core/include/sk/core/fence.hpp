#pragma once
// sk::core::fence(order): std::atomic_thread_fence that also compiles in the
// TSan build. g++ >= 12 warns "atomic_thread_fence is not supported with
// -fsanitize=thread" (-Wtsan), an error under -Werror. The fence itself still
// orders the hardware as usual; TSan merely does not add happens-before edges
// for it. That is harmless for structures whose shared words are all atomics
// (TSan then has no plain access to flag), which is the rule in core/: use
// fence() only where every location the fence orders is atomic.
#include <atomic>

namespace sk::core {

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wtsan"
#endif
inline void fence(std::memory_order order) noexcept { std::atomic_thread_fence(order); }
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

}  // namespace sk::core
