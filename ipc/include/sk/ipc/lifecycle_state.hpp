#pragma once
// The shared words of one running Skprocess lifecycle: what the worker
// running the hooks publishes for whoever supervises it. A started
// Skprocess keeps it in its control block (control_block.hpp), watched by
// its supervisor process; a pool.map<W> item keeps it in its Pool slot
// (internal/pool/layout.hpp), watched by the Pool's collector. The engine
// (lifecycle.hpp) writes it the same way in both.
//
//   supervisor -> stop                                  (stop())
//   worker     -> current run, hook + deadline + limit  (the supervisor enforces timeouts)
//   worker     -> lives left, phase, failure being handled by error()
//
// No pointers, only atomics and plain numbers, so the layout is the same in
// every process, and a worker killed at any instruction leaves nothing the
// others wait on.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <sk/core/cacheline.hpp>

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
  done = 4,       // outcome delivered
};

// CLOCK_MONOTONIC in nanoseconds (the clock every deadline word uses).
std::int64_t monotonic_ns() noexcept;

struct LifecycleState {
  std::int64_t start_ns = 0;  // CLOCK_MONOTONIC at start; join_in counts from here

  // ---- written by the supervisor side (and by the worker for a self-stop) ----
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint32_t> stop{0};

  // ---- written by the worker running the hooks ----
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint64_t> current_run{0};
  // (hook << 60) | absolute CLOCK_MONOTONIC deadline in ns; 0 = no deadline.
  // One word, so the supervisor reads the hook and its deadline together.
  std::atomic<std::uint64_t> deadline{0};
  std::atomic<std::int64_t> deadline_limit_ms{0};  // the limit of the hook the deadline is for
  std::atomic<std::uint32_t> hook{0};              // HookId of the hook being run (any, timed or not)
  std::atomic<std::uint32_t> phase{0};             // Phase
  std::atomic<std::uint32_t> lives_left{1};
  std::atomic<std::uint32_t> outcome_written{0};   // 1 once the outcome is delivered

  // ---- the failure being handled by error(), so that a crash inside
  // error() can still deliver it: an encoded FailureInfo, truncated to fit.
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint32_t> failure_len{0};
  unsigned char failure_buf[4096]{};

  static constexpr std::uint64_t pack_deadline(HookId h, std::uint64_t ns) noexcept {
    return (static_cast<std::uint64_t>(h) << 60) | (ns & ((std::uint64_t{1} << 60) - 1));
  }
  static constexpr HookId deadline_hook(std::uint64_t w) noexcept { return static_cast<HookId>(w >> 60); }
  static constexpr std::uint64_t deadline_ns(std::uint64_t w) noexcept {
    return w & ((std::uint64_t{1} << 60) - 1);
  }
};
static_assert(std::is_standard_layout_v<LifecycleState>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free);

}  // namespace sk::ipc
