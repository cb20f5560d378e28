#pragma once
// pool.map<W> items and the one lifecycle engine (sk/ipc/lifecycle.hpp):
// after the worker running an item's hooks died, the collector turns the
// engine's after_death() decision into the item's resume record
// (layout.hpp); the worker that claims the item next turns it back into a
// lifecycle state (run index, lives, start time) or into the failure
// error() receives. So a crash, a hook timeout and lives mean in a Pool what
// they mean for a started Skprocess.
#include <cstdint>

#include <sk/ipc/failure.hpp>
#include <sk/ipc/internal/pool/layout.hpp>
#include <sk/ipc/lifecycle.hpp>

namespace sk::ipc::pool {

inline ItemResume resume_record(const AfterDeath& next, const LifecycleState& s) noexcept {
  ItemResume r{};
  r.run = next.failure.run;
  r.start_ns = s.start_ns;
  if (next.kind == AfterDeath::Kind::restart) {
    r.mode = ItemResume::kRestart;
    // SYNC POINT: acquire, pairs with after_death()'s release of lives_left
    // (same thread here; the order is for the record, not for another process).
    r.lives_left = s.lives_left.load(std::memory_order_acquire);
    r.run = s.current_run.load(std::memory_order_relaxed);
  } else {
    r.mode = ItemResume::kErrorOnly;
    r.failure_kind = static_cast<std::uint8_t>(next.failure.kind);
    r.hook = static_cast<std::uint8_t>(next.failure.hook);
    r.signal = next.failure.signal;
    r.exit_code = next.failure.exit_code;
    r.limit_ms = next.failure.limit_ms;
  }
  return r;
}

// The failure error() receives in a kErrorOnly resume.
inline FailureInfo resume_failure(const ItemResume& r) {
  const auto hook = static_cast<HookId>(r.hook);
  if (static_cast<FailureInfo::Kind>(r.failure_kind) == FailureInfo::Kind::timeout)
    return timeout_failure(hook, r.run, r.limit_ms);
  return crash_failure_of(r.signal, r.exit_code, hook, r.run);
}

// Prepares an item's lifecycle state: fresh (lives from its config), or
// continuing where the dead worker's attempt left it.
inline void start_item_lifecycle(LifecycleState& s, const ItemResume& r, std::uint32_t lives) noexcept {
  reset_lifecycle(s, lives);
  if (r.mode == ItemResume::kFresh) return;
  s.start_ns = r.start_ns;
  s.current_run.store(r.run, std::memory_order_relaxed);
  if (r.mode == ItemResume::kRestart) s.lives_left.store(r.lives_left, std::memory_order_relaxed);
}

}  // namespace sk::ipc::pool
