// Locking, publishing and crash recovery of FieldSeqlock fields (the
// type-independent half; data copies are handled in the header).
#include <atomic>
#include <bit>
#include <cstdint>

#include <sk/core/backoff.hpp>
#include <sk/core/fence.hpp>
#include <sk/core/field_seqlock.hpp>

namespace sk::core {
namespace {

std::uint32_t lowest(std::uint64_t mask) noexcept { return static_cast<std::uint32_t>(std::countr_zero(mask)); }

// Phase 1 of a publish: seq goes odd, readers of this field wait.
void mark_publishing(FieldHeader& h) noexcept {
  // SYNC POINT: release orders the commit flag and data before it; the
  // phase-2 stores of the other fields (release, after this) carry it to
  // readers that acquire them, so they see this field busy on re-read.
  h.seq.store(h.target.load(std::memory_order_relaxed) - 1, std::memory_order_release);
}

// Phase 2 (and roll-forward): the holder's copy becomes readable.
// Idempotent: recovery may repeat it.
void flip_to_target(FieldHeader& h) noexcept {
  const std::uint32_t t = h.target.load(std::memory_order_relaxed);
  // SYNC POINT: release publishes the copy written before it (by us, or by
  // the dead holder we recover for) and every phase-1 store; pairs with the
  // readers' acquire load of seq. Without it a reader could see the new seq
  // but old words, or miss that another field of the call is mid-publish.
  if (h.seq.load(std::memory_order_relaxed) != t) h.seq.store(t, std::memory_order_release);
}

std::uint64_t self_of(const FieldOwners& owners) {
  const std::uint64_t self = owners.self != nullptr ? owners.self() : 0;
  if (self == 0)
    throw SeqlockError("FieldSeqlock: a writer needs a non-zero owner id; pass FieldOwners whose self() names "
                       "the caller (0 is reserved for 'no writer')");
  return self;
}

}  // namespace

void FieldTable::lock(std::uint64_t mask) const {
  const std::uint64_t self = self_of(owners_);
  const std::uint32_t leader = lowest(mask);
  for (std::uint64_t m = mask; m != 0; m &= m - 1) lock_one(lowest(m), leader, mask, self);
  // SYNC POINT: release fence between taking the locks and storing into the
  // unpublished copies; pairs with the acquire fence of the reader: a reader
  // that copied any word we store next re-reads a newer seq. (The lock CAS
  // acquired the previous holder's publish, so our view of seq is current.)
  // Without it a reader could accept a copy we are overwriting.
  fence(std::memory_order_release);
}

void FieldTable::lock_one(std::size_t i, std::uint32_t leader, std::uint64_t mask, std::uint64_t self) const {
  FieldHeader& h = at(i);
  Backoff backoff;
  for (;;) {
    std::uint64_t cur = h.lock.load(std::memory_order_relaxed);
    if (cur == 0) {
      // SYNC POINT: acquire pairs with the release store that freed the
      // lock (publish_and_unlock / unlock / recovery): the previous holder's
      // seq and copies are visible before we read or overwrite them.
      if (h.lock.compare_exchange_weak(cur, self, std::memory_order_acquire, std::memory_order_relaxed)) break;
      continue;
    }
    if (backoff.steps() < kSpinSteps) {
      backoff.pause();
      continue;
    }
    const bool moved = h.wait.wait_for([&] { return h.lock.load(std::memory_order_relaxed) != cur; }, kParkSlice, 0);
    if (!moved && dead(cur)) recover(i, cur, self);
  }
  // Recorded right after taking the lock: recovery reads them only once the
  // holder is dead (every store of a dead process is visible by then).
  h.leader.store(leader, std::memory_order_relaxed);
  if (i == leader) h.mask.store(mask, std::memory_order_relaxed);
}

void FieldTable::publish_and_unlock(std::uint64_t mask) const noexcept {
  const std::uint32_t leader = lowest(mask);
  for (std::uint64_t m = mask; m != 0; m &= m - 1) {
    FieldHeader& h = at(lowest(m));
    h.target.store(h.seq.load(std::memory_order_relaxed) + 2, std::memory_order_relaxed);
  }
  // SYNC POINT: the commit point. Release orders every data word and target
  // before it; recovery (after our death) rolls the call forward iff it sees
  // 1. Without the order a recoverer could flip to half-written copies.
  at(leader).commit.store(1, std::memory_order_release);
  std::size_t flipped = 0;
  if (detail::field_publish_hook != nullptr) detail::field_publish_hook(flipped);
  for (std::uint64_t m = mask; m != 0; m &= m - 1) mark_publishing(at(lowest(m)));
  for (std::uint64_t m = mask; m != 0; m &= m - 1) {
    flip_to_target(at(lowest(m)));
    if (detail::field_publish_hook != nullptr) detail::field_publish_hook(++flipped);
  }
  // SYNC POINT: release keeps the flips before "no longer committing"; a
  // recoverer seeing 0 does nothing, which is right only once all flipped.
  at(leader).commit.store(0, std::memory_order_release);
  unlock(mask);
}

void FieldTable::unlock(std::uint64_t mask) const noexcept {
  // Descending, so the leader (lowest) goes last: while any field of the call
  // is still locked, its leader (with the commit flag and field set) is too.
  for (std::uint64_t m = mask; m != 0;) {
    const std::uint32_t i = 63u - static_cast<std::uint32_t>(std::countl_zero(m));
    m &= ~(std::uint64_t{1} << i);
    release(i);
  }
}

void FieldTable::release(std::size_t i) const noexcept {
  FieldHeader& h = at(i);
  h.leader.store(kNoFieldLeader, std::memory_order_relaxed);
  h.mask.store(0, std::memory_order_relaxed);
  // SYNC POINT: release pairs with the next holder's lock CAS (acquire):
  // hands over the published seq and copies. Without it the next writer
  // could read stale copies.
  h.lock.store(0, std::memory_order_release);
  h.wait.notify_all();
}

void FieldTable::repair_if_dead(std::size_t i) const {
  const std::uint64_t holder = at(i).lock.load(std::memory_order_relaxed);
  if (holder != 0 && dead(holder)) recover(i, holder, self_of(owners_));
}

// Field i is held by `dead`, which owner_dead reported gone.
void FieldTable::recover(std::size_t i, std::uint64_t dead, std::uint64_t self) const {
  FieldHeader& h = at(i);
  // SYNC POINT: acquire pairs with the dead holder's lock CAS (and a
  // previous repairer's release): its leader record below is visible.
  // Without it we could read a stale leader and free the wrong call.
  if (h.lock.load(std::memory_order_acquire) != dead) return;  // someone repaired it already
  const std::uint32_t leader = h.leader.load(std::memory_order_relaxed);
  if (leader == kNoFieldLeader || leader >= count_ || leader > i) {
    // The holder died before recording its call (right after the lock CAS):
    // it had not committed (the commit comes after every lock), so freeing
    // the field discards nothing.
    std::uint64_t expected = dead;
    // SYNC POINT: acq_rel: orders our view after the dead holder's stores,
    // and hands over like release().
    if (h.lock.compare_exchange_strong(expected, 0, std::memory_order_acq_rel, std::memory_order_relaxed))
      h.wait.notify_all();
    return;
  }
  // Repair the whole call through its leader, which the dead holder still
  // holds (it unlocks the leader last), unless another process is repairing
  // it right now; then field i will be released by that process.
  std::uint64_t expected = dead;
  // SYNC POINT: acq_rel: the recoverer owns the leader like a writer would.
  if (!at(leader).lock.compare_exchange_strong(expected, self, std::memory_order_acq_rel,
                                               std::memory_order_relaxed))
    return;
  recover_call(leader, dead, self);
}

// We hold `leader`, stolen from `dead`. Commit flag set: roll forward every
// field of the call still held by `dead`; otherwise discard its writes (they
// went only to unpublished copies). Then free everything.
void FieldTable::recover_call(std::uint32_t leader, std::uint64_t dead, std::uint64_t self) const {
  FieldHeader& l = at(leader);
  const std::uint64_t mask = l.mask.load(std::memory_order_relaxed);
  // SYNC POINT: acquire pairs with the dead holder's release of the commit
  // flag: if we see 1, every copy and target it wrote is visible to the
  // flips below. Without it we could roll forward to half-written copies.
  const bool committed = l.commit.load(std::memory_order_acquire) != 0;
  for (std::uint64_t m = mask & ~(std::uint64_t{1} << leader); m != 0; m &= m - 1) {
    const std::uint32_t i = lowest(m);
    if (i >= count_) break;
    FieldHeader& g = at(i);
    const std::uint32_t its_leader = g.leader.load(std::memory_order_relaxed);
    if (its_leader != leader && its_leader != kNoFieldLeader) continue;  // another call's field (another thread of dead)
    std::uint64_t expected = dead;
    // SYNC POINT: acq_rel: we take field i over from the dead holder (its
    // copy and target become ours to flip) and hand it on by release().
    if (!g.lock.compare_exchange_strong(expected, self, std::memory_order_acq_rel, std::memory_order_relaxed))
      continue;  // not (or no longer) held by the dead call
    if (committed && its_leader == leader) flip_to_target(g);
    release(i);
  }
  if (committed) flip_to_target(l);
  l.commit.store(0, std::memory_order_relaxed);
  release(leader);
}

}  // namespace sk::core
