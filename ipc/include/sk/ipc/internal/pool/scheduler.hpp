#pragma once
// Worker-side scheduling for a Pool run: which chunk to try next. Ranges
// are of chunk indices (layout.hpp: a chunk is RunHeader::chunk_size
// consecutive items, claimed with one CAS).
//
// Each worker holds a private current range and a deque of ranges in its
// slot. It runs its current range front to back; before each item it looks
// at RunHeader::idle and, if some worker is idle and its own deque is empty,
// splits lazily: the upper half of what remains goes onto its deque (and
// idle workers are woken), where a thief can steal it. A worker with nothing
// left pops its own deque, then steals from the others (random start), then
// parks on RunHeader::work_wp until a range is offered, a sweep is requested
// or the run ends. It never spins unboundedly.
//
// Exactly-once is not the scheduler's job: it may hand out a chunk twice
// (sweeps scan everything); the chunk word's claim CAS decides who runs it.
#include <chrono>
#include <cstdint>
#include <optional>

#include <sk/ipc/internal/pool/layout.hpp>
#include <sk/ipc/internal/pool/ranges.hpp>

namespace sk::ipc::pool {

class WorkerScheduler {
 public:
  WorkerScheduler(RunView v, std::uint32_t slot, std::uint32_t seed) noexcept
      : v_(v), slot_(slot), rng_(seed | 1u) {
    // A reused slot of a dead worker keeps its deque "retired": its state may
    // be mid-pop; this worker then only sweeps and steals, never pushes.
    // SYNC POINT: acquire loads, pair with the parent's stores made before it
    // forked this worker (flags) and its release bumps of sweep_epoch: a
    // worker that starts after a sweep was requested sees the re-offered
    // chunk words (it sweeps anyway when it replaces a dead worker).
    retired_ = (v_.slot(slot_).flags.load(std::memory_order_acquire) & kSlotRetired) != 0;
    sweep_seen_ = v_.hdr().sweep_epoch.load(std::memory_order_acquire);
  }

  // Makes the private range every chunk of the run: used by replacement
  // workers and after the parent re-offered a dead worker's chunks.
  void start_sweep() noexcept {
    cur_ = 0;
    end_ = v_.hdr().n_chunks;
  }

  // The next chunk to try to claim; nullopt when the run is no longer running.
  std::optional<std::uint32_t> next() noexcept {
    RunHeader& h = v_.hdr();
    for (;;) {
      // SYNC POINT: acquire, pairs with the parent's release store of a new
      // state (cancel/finish): a worker that sees it stops taking chunks.
      if (h.state.load(std::memory_order_acquire) != kRunning) return std::nullopt;
      if (cur_ < end_) {
        maybe_split();
        return cur_++;
      }
      if ((!retired_ && take(own().pop())) || steal_any()) continue;
      // SYNC POINT: acquire, pairs with the parent's release bump after it
      // re-offered a dead worker's chunks: the sweep then sees their words.
      const std::uint32_t sweep = h.sweep_epoch.load(std::memory_order_acquire);
      if (sweep != sweep_seen_) {
        sweep_seen_ = sweep;
        start_sweep();
        continue;
      }
      // Idle: announce it (owners split for us), wake the parent (it checks
      // whether the run is complete), re-check, then park.
      h.done_wp.notify_all();
      // SYNC POINT: acquire, pairs with an owner's release bump in
      // maybe_split(): the range it pushed is in its deque for steal_any().
      const std::uint32_t push_seen = h.push_epoch.load(std::memory_order_acquire);
      h.idle.fetch_add(1, std::memory_order_relaxed);
      const bool got = steal_any();
      if (!got) {
        h.work_wp.wait_for(
            [&] {
              // SYNC POINT: acquire loads, the same pairs as above.
              return h.push_epoch.load(std::memory_order_acquire) != push_seen ||
                     h.state.load(std::memory_order_acquire) != kRunning ||
                     h.sweep_epoch.load(std::memory_order_acquire) != sweep_seen_;
            },
            std::chrono::milliseconds(100));
      }
      h.idle.fetch_sub(1, std::memory_order_relaxed);
    }
  }

 private:
  RangeDeque& own() const noexcept { return v_.slot(slot_).deque; }

  bool take(std::optional<std::uint64_t> packed) noexcept {
    if (!packed) return false;
    // Clamped: a range read from a deque whose owner died mid-operation may be
    // stale; any in-bounds index is harmless (the claim word decides).
    const Range r = Range::unpack(*packed);
    const std::uint32_t n = v_.hdr().n_chunks;
    cur_ = r.begin < n ? r.begin : n;
    end_ = r.end < n ? r.end : n;
    return true;
  }

  // Offers the upper half of what remains after the item about to run.
  void maybe_split() noexcept {
    RunHeader& h = v_.hdr();
    const std::uint32_t rest = end_ - (cur_ + 1);
    if (retired_ || rest == 0 || h.idle.load(std::memory_order_relaxed) == 0 || !own().empty_approx()) return;
    const std::uint32_t give = (rest + 1) / 2;
    if (!own().push(Range{end_ - give, end_}.pack())) return;
    end_ -= give;
    // SYNC POINT: the push above is published by the deque itself; this release
    // orders it before the epoch idle workers wait on, so a woken thief finds it.
    h.push_epoch.fetch_add(1, std::memory_order_release);
    h.work_wp.notify_all();
  }

  bool steal_any() noexcept {
    const std::uint32_t n = v_.hdr().n_slots;
    if (n <= 1) return false;
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 17;
    rng_ ^= rng_ << 5;
    const std::uint32_t start = rng_ % n;
    for (std::uint32_t k = 0; k < n; ++k) {
      const std::uint32_t victim = (start + k) % n;
      if (victim == slot_) continue;
      for (int attempt = 0; attempt < 4; ++attempt) {
        const Slot& vs = v_.slot(victim);
        if (vs.flags.load(std::memory_order_relaxed) & kSlotRetired) break;
        auto r = v_.slot(victim).deque.steal();
        if (r) return take(r.value);
        if (r.state != sk::core::StealState::contended) break;
      }
    }
    return false;
  }

  RunView v_;
  std::uint32_t slot_;
  std::uint32_t rng_;
  std::uint32_t cur_ = 0;
  std::uint32_t end_ = 0;
  std::uint32_t sweep_seen_ = 0;
  bool retired_ = false;
};

}  // namespace sk::ipc::pool
