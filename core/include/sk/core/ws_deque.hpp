#pragma once
// WsDeque<T, LogCapacity>: bounded Chase-Lev work-stealing deque over a fixed
// inline array of std::atomic<T>, placeable in shared memory (position
// independent: no pointers, no allocation, standard layout). One owner
// (thread or process) push()es and pop()s at the bottom; any number of
// thieves steal() from the top. T is a small trivially copyable value with
// lock-free atomics, e.g. a uint64 that packs a task index or a [begin, end)
// range -- never a pointer (it would mean nothing in another process).
//
// Orderings follow the C11 version of Le, Pop, Cohen, Zappa Nardelli,
// "Correct and efficient work-stealing for weak memory models" (PPoPP 2013),
// with one strengthening: every store to bottom_ is a release store (the
// paper uses relaxed stores plus a release fence in push). C++20 (P0982R1)
// removed a thread's later plain stores from the release sequence of its
// release store, so a thief reading a bottom_ value written by pop() would no
// longer be ordered after earlier push()es; release stores restore that, and
// cost nothing on x86 (a plain mov). See docs/core-seqlock-deque.md.
//
// Owner death: the deque is lock-free; thieves never wait for the owner, so
// a dead owner blocks nobody and thieves keep draining [top, bottom).
//  * Mid-push (slot written, bottom not yet bumped): the item is not in the
//    deque; push() never returned true, so the caller never counted it.
//  * Mid-pop, after the bottom decrement and before its restore: the item at
//    the old bottom-1 is hidden from thieves (lost), or was already taken by
//    the owner (which will not run it). If whoever adopts the deque restores
//    bottom_ (or re-queues the dead owner's work from elsewhere), the same
//    item can be handed out twice. So an item may be LOST or RETURNED TWICE
//    when the owner dies mid-pop; the Pool makes this harmless by giving each
//    task a claim word (CLAIMED by owner id, DONE) so execution is idempotent
//    and unclaimed tasks of a dead worker are re-queued.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>

#include <sk/core/cacheline.hpp>
#include <sk/core/fence.hpp>

namespace sk::core {

enum class StealState : std::uint8_t {
  item,       // value holds the stolen item
  empty,      // the deque looked empty
  contended,  // lost a race with another thief or the owner's last-item pop; retry
};

template <class T>
struct Steal {
  StealState state = StealState::empty;
  T value{};
  explicit operator bool() const noexcept { return state == StealState::item; }
};

template <class T, std::size_t LogCapacity>
class WsDeque {
  static_assert(std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>,
                "WsDeque<T> items are copied between processes: T must be trivially copyable");
  static_assert(std::atomic<T>::is_always_lock_free, "WsDeque<T> needs lock-free std::atomic<T> (shared memory)");
  static_assert(std::atomic<std::int64_t>::is_always_lock_free);
  static_assert(LogCapacity >= 1 && LogCapacity <= 30, "WsDeque capacity is 2^LogCapacity, 2 .. 2^30");

 public:
  static constexpr std::size_t kCapacity = std::size_t{1} << LogCapacity;

  WsDeque() noexcept {
    static_assert(std::is_standard_layout_v<WsDeque>, "WsDeque lives in shared memory: keep it standard layout");
  }
  WsDeque(const WsDeque&) = delete;
  WsDeque& operator=(const WsDeque&) = delete;

  // Owner only. False when the deque holds kCapacity items.
  bool push(T item) noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    // SYNC POINT: pairs with the thieves' top_ CAS (seq_cst, so release):
    // a thief's read of slot t happens-before we see top_ > t and reuse that
    // slot, so it can never read the item we are about to write there.
    // Without it a thief could return our new item as the old one.
    const std::int64_t t = top_.load(std::memory_order_acquire);
    if (b - t >= static_cast<std::int64_t>(kCapacity)) return false;
    slot(b).store(item, std::memory_order_relaxed);
    // SYNC POINT: publishes the slot store (and whatever the caller wrote
    // before push, e.g. the task the item names) to a thief whose acquire
    // load of bottom_ reads this value or a later one. Without it a thief
    // could see the new bottom and read the slot's previous content.
    bottom_.store(b + 1, std::memory_order_release);
    return true;
  }

  // Owner only. Takes the newest item (LIFO); nullopt when empty or when a
  // thief won the race for the last item.
  std::optional<T> pop() noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    // SYNC POINT (release): keeps every bottom_ value a release point for
    // the pushes before it (see header, C++20 release sequences).
    bottom_.store(b, std::memory_order_release);
    // SYNC POINT: seq_cst fence, pairs with the fence in steal(): either
    // this pop sees the thief's top_ increment, or the thief sees our
    // decremented bottom_. Without it both could take the last item.
    fence(std::memory_order_seq_cst);
    std::int64_t t = top_.load(std::memory_order_relaxed);
    if (t > b) {  // empty: undo the decrement
      bottom_.store(b + 1, std::memory_order_release);  // SYNC POINT: as above
      return std::nullopt;
    }
    T item = slot(b).load(std::memory_order_relaxed);
    if (t < b) return item;  // more than one item: thieves cannot reach slot b
    // Last item: race the thieves for it on top_.
    // SYNC POINT: seq_cst CAS, in the single total order with the thieves'
    // CAS; exactly one of us moves top_ from t to t+1 and owns the item.
    const bool won = top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed);
    bottom_.store(b + 1, std::memory_order_release);  // SYNC POINT: as above
    if (!won) return std::nullopt;
    return item;
  }

  // Any thread or process. Takes the oldest item (FIFO).
  Steal<T> steal() noexcept {
    // SYNC POINT: acquire, pairs with the top_ CAS of earlier thieves so that
    // our view of the slots is not older than theirs.
    std::int64_t t = top_.load(std::memory_order_acquire);
    // SYNC POINT: seq_cst fence, pairs with the fence in pop(): orders our
    // top_ read before our bottom_ read in the total order of fences, so we
    // cannot combine an old top_ with a bottom_ the owner already lowered
    // past it. Without it a thief and the owner could both take the last item.
    fence(std::memory_order_seq_cst);
    // SYNC POINT: acquire, pairs with the release stores of bottom_ in
    // push()/pop(): makes slot t (and what its item refers to) visible.
    const std::int64_t b = bottom_.load(std::memory_order_acquire);
    if (t >= b) return {StealState::empty, T{}};
    const T item = slot(t).load(std::memory_order_relaxed);
    // SYNC POINT: seq_cst CAS claims slot t against other thieves and the
    // owner's last-item pop; its release half orders our slot read before
    // the owner's reuse of the slot (see push()).
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
      return {StealState::contended, T{}};
    return {StealState::item, item};
  }

  // Number of items, racy (exact only when nobody else touches the deque).
  std::size_t size_approx() const noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    const std::int64_t t = top_.load(std::memory_order_relaxed);
    return b > t ? static_cast<std::size_t>(b - t) : 0;
  }
  bool empty_approx() const noexcept { return size_approx() == 0; }
  static constexpr std::size_t capacity() noexcept { return kCapacity; }

 private:
  std::atomic<T>& slot(std::int64_t i) noexcept { return buffer_[static_cast<std::size_t>(i) & (kCapacity - 1)]; }

  // top_ is written by thieves, bottom_ by the owner: separate line pairs.
  alignas(kFalseSharingRange) std::atomic<std::int64_t> top_{0};
  alignas(kFalseSharingRange) std::atomic<std::int64_t> bottom_{0};
  alignas(kFalseSharingRange) std::atomic<T> buffer_[kCapacity];
};

}  // namespace sk::core
