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
  std::uint64_t bits;
  std::memcpy(&bits, &seconds, sizeof bits);
  sk::core::SampleRingWriter<2>(cb.timer_ring, timer_slots(cb), kTimerRingCapacity)
      .push({bits, static_cast<std::uint64_t>(hook)});
}

}  // namespace sk::ipc
