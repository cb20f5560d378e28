#pragma once
// The control block of one Skprocess: a small struct in an anonymous
// MAP_SHARED mapping created by the parent before it forks, so the parent,
// the supervisor and every worker incarnation see the same words.
//
//   parent  -> stop flag                              (stop())
//   worker  -> current run, current hook + deadline   (supervisor enforces timeouts)
//   worker  -> timer samples (a seqlock-stamped ring the parent reads live)
//   worker/supervisor -> lives left, phase, pids
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

namespace sk::ipc {

// Which lifecycle hook a word refers to. Values are part of the shared layout.
enum class HookId : std::uint8_t {
  none = 0,
  prerun = 1,
  run = 2,
  postrun = 3,
  onfinish = 4,
  result = 5,
  error = 6,
  full_run = 7,  // timer only: prerun + run + postrun of one completed iteration
};
inline constexpr std::size_t kHookCount = 8;
const char* hook_name(HookId h) noexcept;  // "prerun", "run", ... ("none")

// Where the worker is in its lifecycle (decides whether a crash costs a life).
enum class Phase : std::uint32_t {
  starting = 0,
  loop = 1,       // prerun/run/postrun: failures cost a life
  finishing = 2,  // onfinish/result: failures go to error() without costing a life
  error = 3,      // inside error(): a crash here delivers the original failure
  done = 4,       // outcome written
};

// One timer sample in the live ring (sk::core::SampleRing, one worker writes
// at a time): word 0 = the seconds (double, bit-cast), word 1 = the HookId.
using TimerSlot = sk::core::SampleSlot<2>;
static_assert(std::is_standard_layout_v<TimerSlot> && sizeof(TimerSlot) == 16);

// Capacity of the live sample ring: the parent keeps the statistics of every
// sample it has read; it loses samples only if it lags more than this behind.
inline constexpr std::uint64_t kTimerRingCapacity = 1u << 16;

struct ControlBlock {
  static constexpr std::uint32_t kMagic = 0x534b5043;  // "SKPC"
  static constexpr std::uint32_t kVersion = 1;

  std::uint32_t magic = kMagic;
  std::uint32_t version = kVersion;
  std::int64_t start_ns = 0;  // CLOCK_MONOTONIC at start(); join_in counts from here

  // ---- written by the parent (and by the worker for a self-stop) ----------
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint32_t> stop{0};

  // ---- written by the current worker -------------------------------------
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint64_t> current_run{0};
  // (hook << 60) | absolute CLOCK_MONOTONIC deadline in ns; 0 = no deadline.
  // One word, so the supervisor reads the hook and its deadline together.
  std::atomic<std::uint64_t> deadline{0};
  std::atomic<std::uint32_t> hook{0};   // HookId of the hook being run (any, timed or not)
  std::atomic<std::uint32_t> phase{0};  // Phase
  std::atomic<std::uint32_t> lives_left{1};
  std::atomic<std::uint32_t> outcome_written{0};  // 1 once the outcome frame is in the pipe

  // ---- written by the supervisor / launcher ------------------------------
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint32_t> worker_pid{0};
  std::atomic<std::uint32_t> supervisor_pid{0};
  std::atomic<std::uint32_t> incarnations{0};  // workers forked so far

  // ---- failure being handled by error() (so a crash inside error() can still
  // deliver it): length-prefixed encoded FailureInfo, truncated to fit.
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint32_t> failure_len{0};
  unsigned char failure_buf[4096]{};

  // ---- timer samples ------------------------------------------------------
  // The kTimerRingCapacity slots follow the block (timer_slots()); they are
  // not constructed: the mapping is zero-filled and an all-zero TimerSlot is
  // its initial state, so start() touches none of their 1 MiB.
  alignas(sk::core::kFalseSharingRange) sk::core::SampleRingHead timer_ring;

  static constexpr std::uint64_t pack_deadline(HookId h, std::uint64_t ns) noexcept {
    return (static_cast<std::uint64_t>(h) << 60) | (ns & ((std::uint64_t{1} << 60) - 1));
  }
  static constexpr HookId deadline_hook(std::uint64_t w) noexcept { return static_cast<HookId>(w >> 60); }
  static constexpr std::uint64_t deadline_ns(std::uint64_t w) noexcept {
    return w & ((std::uint64_t{1} << 60) - 1);
  }
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

// CLOCK_MONOTONIC in nanoseconds (the clock every deadline word uses).
std::int64_t monotonic_ns() noexcept;

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
