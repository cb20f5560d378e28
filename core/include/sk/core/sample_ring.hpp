#pragma once
// SampleRing: a fixed-capacity ring of small samples (Words 64-bit words
// each) with one writer at a time and any number of readers that never block
// it, placeable in shared memory (atomics only, no pointers). The writer
// overwrites the oldest sample when the ring is full; a reader keeps a cursor
// (the index of the next sample it wants) and learns how many samples it lost
// because they were overwritten before it read them.
//
// Users: the timer samples of a Skprocess (ipc ControlBlock: the worker
// writes, the parent reads with a cursor) and each process's buffer of an
// Sktimer kept in a Share (sk::SharedTimer: its owner writes, every process
// reads the newest `window` samples).
//
// Layout (the two parts may sit apart, e.g. the head inside a struct and the
// slots after it; both start zeroed = an empty ring):
//   SampleRingHead   begin  index + 1 of the newest sample whose write STARTED
//                    count  samples COMMITTED so far (= index of the next one)
//   SampleSlot[cap]  sample i lives in slot i % cap, as Words relaxed atomic words
//
// Writer (sample n = count):
//   begin = n + 1 (relaxed); fence(release); slot words (relaxed); count = n + 1 (release)
// Reader of indices [from, end), end <= a value of count it loaded (acquire):
//   copy the slot words (relaxed); fence(acquire); b = begin (relaxed);
//   sample i is valid iff i >= b - cap (no write to its slot has started since
//   sample i was committed); the others were overwritten and count as lost.
//
// Ordering argument
//  * A committed sample is complete: the reader's acquire load of count read
//    the release store of some count >= i + 1, so sample i's word stores
//    happen-before the reader's copies; each copy returns sample i's word or a
//    later write's word to the same slot.
//  * A later write to the slot is always detected: the write of sample
//    m = i + k*cap (k >= 1) stores begin = m + 1, then a release fence, then
//    its words. If the reader's copy read any of those words, that fence
//    synchronizes with the reader's acquire fence, so the begin store
//    happens-before the reader's load of begin, which returns m + 1 or more:
//    i < m + 1 - cap, and sample i is rejected. (The same fence pair as
//    Seqlock's read_valid; Boehm, MSPC 2012.)
//  * begin never moves back (each write stores count + 1, count only grows),
//    so a stale value of begin can only make the reader keep a sample that
//    the argument above has proven intact.
//
// Writers: one at a time. Whoever hands the ring from one writer to the next
// (a lock between threads, a successor after the writer died) must order the
// hand-over; a writer killed at any instruction leaves at worst begin = count
// + 1 with its sample uncommitted: readers never see it and the next writer
// rewrites the same index. Readers never write: any number, any process.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <sk/core/fence.hpp>

namespace sk::core {

// The writer's two index words (shared).
struct SampleRingHead {
  std::atomic<std::uint64_t> begin{0};  // index + 1 of the newest sample whose write started
  std::atomic<std::uint64_t> count{0};  // samples committed, ever
};
static_assert(std::is_standard_layout_v<SampleRingHead> && sizeof(SampleRingHead) == 16);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

// One sample's storage (shared). All-zero bytes are a valid empty slot, so
// slots in zero-filled memory need no construction.
template <std::size_t Words>
struct SampleSlot {
  static_assert(Words >= 1);
  std::atomic<std::uint64_t> word[Words];
};

template <std::size_t Words>
using Sample = std::array<std::uint64_t, Words>;

// The writer's view (process-local: pointers are fine here).
template <std::size_t Words>
class SampleRingWriter {
 public:
  SampleRingWriter(SampleRingHead& head, SampleSlot<Words>* slots, std::uint64_t capacity) noexcept
      : head_(&head), slots_(slots), cap_(capacity) {}

  // Appends one sample, overwriting the oldest when full. One writer at a time.
  void push(const Sample<Words>& s) noexcept {
    const std::uint64_t n = head_->count.load(std::memory_order_relaxed);
    SampleSlot<Words>& slot = slots_[n % cap_];
    head_->begin.store(n + 1, std::memory_order_relaxed);
    // SYNC POINT: orders the begin announcement before the word stores; pairs
    // with the reader's acquire fence before it re-reads begin. Without it a
    // reader could copy some of our new words and still see the old begin,
    // accepting a sample torn between two writes.
    fence(std::memory_order_release);
    for (std::size_t w = 0; w < Words; ++w) slot.word[w].store(s[w], std::memory_order_relaxed);
    // SYNC POINT: publishes the sample's words with the count; pairs with the
    // reader's acquire load of count. Without it a reader could read index n
    // as committed and copy the slot's older words.
    head_->count.store(n + 1, std::memory_order_release);
  }

  // Word w of the newest committed sample (0 when there is none): for a
  // writer that derives the next sample from the previous one.
  std::uint64_t newest_word(std::size_t w) const noexcept {
    const std::uint64_t n = head_->count.load(std::memory_order_relaxed);
    return n == 0 ? 0 : slots_[(n - 1) % cap_].word[w].load(std::memory_order_relaxed);
  }
  std::uint64_t committed() const noexcept { return head_->count.load(std::memory_order_relaxed); }
  std::uint64_t capacity() const noexcept { return cap_; }

 private:
  SampleRingHead* head_;
  SampleSlot<Words>* slots_;
  std::uint64_t cap_;
};

// A reader's view (process-local). Never writes to the ring.
template <std::size_t Words>
class SampleRingReader {
 public:
  SampleRingReader(const SampleRingHead& head, const SampleSlot<Words>* slots, std::uint64_t capacity) noexcept
      : head_(&head), slots_(slots), cap_(capacity) {}

  // Samples committed so far: indices [0, committed()) were written.
  std::uint64_t committed() const noexcept {
    // SYNC POINT: pairs with the writer's release store of count: every
    // sample below the value read is complete in its slot (unless rewritten
    // since, which read() detects). Without it read() could copy old words.
    return head_->count.load(std::memory_order_acquire);
  }

  // Calls fn(index, const Sample&) for every sample with index in
  // [cursor, end) that is still in the ring, oldest first, and moves cursor
  // to end. `end` must not exceed a value committed() returned. Returns how
  // many of them were lost (overwritten before they could be read).
  template <class Fn>
  std::uint64_t read(std::uint64_t& cursor, std::uint64_t end, Fn&& fn) const {
    std::uint64_t lost = 0;
    if (cursor >= end) return 0;
    if (end - cursor > cap_) skip_to(cursor, end - cap_, lost);  // lapped before we started
    while (cursor < end) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(end - cursor, kChunk));
      std::array<Sample<Words>, kChunk> copy;
      for (std::size_t k = 0; k < n; ++k) {
        const SampleSlot<Words>& slot = slots_[(cursor + k) % cap_];
        for (std::size_t w = 0; w < Words; ++w) copy[k][w] = slot.word[w].load(std::memory_order_relaxed);
      }
      // SYNC POINT: pairs with the writer's release fence after begin (see
      // the header): if we copied any word of a newer write, the load below
      // sees that write's begin and rejects the sample. Without it the load
      // could be satisfied before the copies and accept a torn sample.
      fence(std::memory_order_acquire);
      const std::uint64_t b = head_->begin.load(std::memory_order_relaxed);
      const std::uint64_t valid_from = b > cap_ ? b - cap_ : 0;
      for (std::size_t k = 0; k < n; ++k) {
        if (cursor + k < valid_from) {
          ++lost;
        } else {
          fn(cursor + k, static_cast<const Sample<Words>&>(copy[k]));
        }
      }
      cursor += n;
      if (valid_from > cursor) skip_to(cursor, std::min(valid_from, end), lost);  // the writer lapped us meanwhile
    }
    return lost;
  }
  // Everything committed from cursor on.
  template <class Fn>
  std::uint64_t read(std::uint64_t& cursor, Fn&& fn) const {
    return read(cursor, committed(), static_cast<Fn&&>(fn));
  }

  std::uint64_t capacity() const noexcept { return cap_; }

 private:
  static constexpr std::size_t kChunk = 32;  // samples copied per validation (one fence, one load)

  static void skip_to(std::uint64_t& cursor, std::uint64_t to, std::uint64_t& lost) noexcept {
    lost += to - cursor;
    cursor = to;
  }

  const SampleRingHead* head_;
  const SampleSlot<Words>* slots_;
  std::uint64_t cap_;
};

}  // namespace sk::core
