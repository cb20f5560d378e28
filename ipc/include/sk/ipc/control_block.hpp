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
#include <sk/core/fence.hpp>
#include <sk/ipc/lifecycle_state.hpp>

namespace sk::ipc {

// One timer sample. Written by one worker at a time (seqlock per slot: the
// stamp is 0 while the slot is being written, index + 1 once complete).
struct TimerSlot {
  std::atomic<std::uint64_t> stamp{0};
  std::atomic<std::uint64_t> value_bits{0};  // double seconds, bit-cast
  std::atomic<std::uint32_t> hook{0};
  std::uint32_t pad_ = 0;
};
static_assert(std::is_standard_layout_v<TimerSlot> && sizeof(TimerSlot) == 24);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

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
  // its initial state, so start() touches none of their 1.5 MiB.
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint64_t> timer_head{0};  // samples written
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

// Reads samples [cursor, head) that are still in the ring, calling
// fn(HookId, double) for each, and advances cursor. Samples overwritten before
// they were read are skipped and counted in the return value.
template <class Fn>
std::uint64_t read_timer_samples(const ControlBlock& cb, std::uint64_t& cursor, Fn&& fn) {
  // SYNC POINT: acquire pairs with the release increment in push_timer_sample;
  // every slot below head has had its stamp published.
  const std::uint64_t head = cb.timer_head.load(std::memory_order_acquire);
  std::uint64_t lost = 0;
  if (head > cursor + kTimerRingCapacity) {
    lost = head - kTimerRingCapacity - cursor;
    cursor = head - kTimerRingCapacity;
  }
  for (; cursor < head; ++cursor) {
    const TimerSlot& s = timer_slots(cb)[cursor % kTimerRingCapacity];
    // SYNC POINT: seqlock read; acquire on the stamp pairs with the writer's
    // release store of the stamp, so value/hook belong to this index.
    const std::uint64_t s1 = s.stamp.load(std::memory_order_acquire);
    const std::uint64_t bits = s.value_bits.load(std::memory_order_relaxed);
    const std::uint32_t hook = s.hook.load(std::memory_order_relaxed);
    // SYNC POINT: orders the data loads before the stamp re-check (Boehm).
    sk::core::fence(std::memory_order_acquire);
    const std::uint64_t s2 = s.stamp.load(std::memory_order_relaxed);
    if (s1 != cursor + 1 || s2 != s1) {
      ++lost;
      continue;
    }
    double v;
    static_assert(sizeof v == sizeof bits);
    __builtin_memcpy(&v, &bits, sizeof v);
    fn(static_cast<HookId>(hook), v);
  }
  return lost;
}

}  // namespace sk::ipc
