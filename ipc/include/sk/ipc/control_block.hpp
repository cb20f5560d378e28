#pragma once
// The control block of one Skprocess: a small struct in an anonymous
// MAP_SHARED mapping created by the parent before it forks, so the parent,
// the supervisor and every worker incarnation see the same words.
//
//   the lifecycle's words (lifecycle_state.hpp): stop, run index, hook
//     deadline, lives, phase (the engine writes them, the supervisor watches)
//   worker  -> timer samples (a seqlock-stamped ring the parent reads live)
//   supervisor/launcher -> pids, incarnations
//
// No pointers, no virtuals: only atomics and plain numbers, so the layout is
// the same in every process and a process killed at any instruction leaves
// nothing the others wait on (every waiter here is bounded or watches a pid).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <sk/core/cacheline.hpp>
#include <sk/core/sample_ring.hpp>
#include <sk/ipc/lifecycle_state.hpp>

namespace sk::ipc {

// One timer sample in the live ring (sk::core::SampleRing, one worker writes
// at a time): word 0 = the seconds (double, bit-cast), word 1 = the HookId.
using TimerSlot = sk::core::SampleSlot<2>;
static_assert(std::is_standard_layout_v<TimerSlot> && sizeof(TimerSlot) == 16);

// Capacity of the live sample ring: the parent keeps the statistics of every
// sample it has read; it loses samples only if it lags more than this behind.
inline constexpr std::uint64_t kTimerRingCapacity = 1u << 16;

struct ControlBlock {
  static constexpr std::uint32_t kMagic = 0x534b5043;  // "SKPC"
  static constexpr std::uint32_t kVersion = 2;

  std::uint32_t magic = kMagic;
  std::uint32_t version = kVersion;

  // ---- the lifecycle's words: stop, run index, hook deadline, lives, phase,
  // the failure error() handles (lifecycle_state.hpp) ----
  LifecycleState life;

  // ---- written by the supervisor / launcher ------------------------------
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint32_t> worker_pid{0};
  std::atomic<std::uint32_t> supervisor_pid{0};
  std::atomic<std::uint32_t> incarnations{0};  // workers forked so far

  // ---- timer samples ------------------------------------------------------
  // The kTimerRingCapacity slots follow the block (timer_slots()); they are
  // not constructed: the mapping is zero-filled and an all-zero TimerSlot is
  // its initial state, so start() touches none of their 1 MiB.
  alignas(sk::core::kFalseSharingRange) sk::core::SampleRingHead timer_ring;
};
static_assert(std::is_standard_layout_v<ControlBlock>);
static_assert(sizeof(ControlBlock) % alignof(TimerSlot) == 0);

// Bytes of the mapping that hold the control block and its timer slots.
inline constexpr std::size_t kControlBlockBytes = sizeof(ControlBlock) + kTimerRingCapacity * sizeof(TimerSlot);

inline TimerSlot* timer_slots(ControlBlock& cb) noexcept {
  return reinterpret_cast<TimerSlot*>(reinterpret_cast<std::byte*>(&cb) + sizeof(ControlBlock));
}
inline const TimerSlot* timer_slots(const ControlBlock& cb) noexcept {
  return reinterpret_cast<const TimerSlot*>(reinterpret_cast<const std::byte*>(&cb) + sizeof(ControlBlock));
}
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Appends one sample (worker side, one writer at a time).
void push_timer_sample(ControlBlock& cb, HookId hook, double seconds) noexcept;

// Reads samples [cursor, committed) that are still in the ring, calling
// fn(HookId, double) for each, and advances cursor. Samples overwritten before
// they were read are skipped and counted in the return value.
template <class Fn>
std::uint64_t read_timer_samples(const ControlBlock& cb, std::uint64_t& cursor, Fn&& fn) {
  const sk::core::SampleRingReader<2> ring(cb.timer_ring, timer_slots(cb), kTimerRingCapacity);
  return ring.read(cursor, [&](std::uint64_t, const sk::core::Sample<2>& s) {
    double v;
    static_assert(sizeof v == sizeof s[0]);
    __builtin_memcpy(&v, &s[0], sizeof v);
    fn(static_cast<HookId>(s[1]), v);
  });
}

}  // namespace sk::ipc
