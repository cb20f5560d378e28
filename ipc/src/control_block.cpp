#include <time.h>

#include <cstring>

#include <sk/ipc/control_block.hpp>

namespace sk::ipc {

const char* hook_name(HookId h) noexcept {
  switch (h) {
    case HookId::prerun: return "prerun";
    case HookId::run: return "run";
    case HookId::postrun: return "postrun";
    case HookId::onfinish: return "onfinish";
    case HookId::result: return "result";
    case HookId::error: return "error";
    case HookId::full_run: return "full_run";
    case HookId::none: break;
  }
  return "none";
}

std::int64_t monotonic_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

void push_timer_sample(ControlBlock& cb, HookId hook, double seconds) noexcept {
  const std::uint64_t i = cb.timer_head.load(std::memory_order_relaxed);
  TimerSlot& s = timer_slots(cb)[i % kTimerRingCapacity];
  std::uint64_t bits;
  std::memcpy(&bits, &seconds, sizeof bits);
  s.stamp.store(0, std::memory_order_relaxed);
  // SYNC POINT: seqlock writer fence: the stamp reset is ordered before the
  // data stores, so a reader that saw the old stamp twice read the old data.
  sk::core::fence(std::memory_order_release);
  s.value_bits.store(bits, std::memory_order_relaxed);
  s.hook.store(static_cast<std::uint32_t>(hook), std::memory_order_relaxed);
  // SYNC POINT: release publishes value/hook with the final stamp.
  s.stamp.store(i + 1, std::memory_order_release);
  // SYNC POINT: release publishes the complete slot to read_timer_samples.
  cb.timer_head.store(i + 1, std::memory_order_release);
}

}  // namespace sk::ipc
