#pragma once
// Worker side of a Pool run: publishing what one worker (one slot) did.
//
// Per item: the result goes into the result array at its index (trivially
// copyable) or into the slot's byte buffer with its place in offsets[i]
// (serialized); an exception becomes an error record in the buffer plus a
// `threw` log entry. Then the chunk word's `done` count moves past the item
// (release). Per chunk: one `chunk done` log entry, published by a release
// store of the slot's log_count; the parent learns completion per chunk, and
// is woken per chunk only when it streams (imap, progress) or on errors.
#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include <sk/ipc/internal/pool/layout.hpp>

namespace sk::ipc::pool {

// Offset of an error record that did not fit its worker's buffer.
inline constexpr std::uint64_t kNoRecord = ~std::uint64_t{0};

inline constexpr std::uint64_t pack_place(std::uint32_t slot, std::uint64_t offset) noexcept {
  return (std::uint64_t{slot} << 48) | offset;
}
inline constexpr std::uint32_t place_slot(std::uint64_t p) noexcept { return static_cast<std::uint32_t>(p >> 48); }
inline constexpr std::uint64_t place_offset(std::uint64_t p) noexcept { return p & ((std::uint64_t{1} << 48) - 1); }

class ResultWriter {
 public:
  ResultWriter(RunView v, std::uint32_t slot, std::uint32_t tag) noexcept
      : v_(v), slot_(slot), tag_(tag), timed_((v.hdr().flags & kTimed) != 0) {}

  std::uint32_t slot() const noexcept { return slot_; }
  RunView view() const noexcept { return v_; }

  // Claims chunk c if nobody owns it and items are left in it; returns the
  // first item to run (done ones are skipped), or false.
  bool claim(std::uint32_t c, std::uint32_t& first) noexcept {
    auto& w = v_.chunk(c);
    std::uint64_t seen = w.load(std::memory_order_relaxed);
    const std::uint32_t len = v_.chunk_end(c) - v_.chunk_begin(c);
    for (;;) {
      const ChunkWord cw = ChunkWord::unpack(seen);
      if (cw.owner != 0 || cw.done >= len) return false;
      // SYNC POINT: acq_rel claim. Acquire pairs with the parent's release
      // store that re-offered the chunk of a dead worker (its `done` and the
      // results before it are then visible); release publishes our tag to the
      // parent's recovery scan. Without it two workers could both run an item.
      if (w.compare_exchange_weak(seen, ChunkWord{tag_, cw.done}.pack(), std::memory_order_acq_rel,
                                  std::memory_order_relaxed)) {
        chunk_ = c;
        base_ = v_.chunk_begin(c);
        from_ = cw.done;
        first = base_ + cw.done;
        next_ = first;
        end_ = v_.chunk_end(c);
        return true;
      }
    }
  }

  // Timed runs: record the item about to run and since when.
  void start_item(std::uint32_t i) noexcept {
    if (!timed_) return;
    Slot& s = v_.slot(slot_);
    s.started_ns.store(now_ns(), std::memory_order_relaxed);
    // SYNC POINT: release, pairs with the parent's acquire load of `current`
    // in its timeout check: it then reads a started_ns at least this new, so
    // a fresh item is never mistaken for a stuck one.
    s.current.store(i + 1, std::memory_order_release);
  }

  // Trivially copyable result: stored at its index.
  void ok_trivial(std::uint32_t i, const void* value, std::size_t size) noexcept {
    std::memcpy(v_.result(i), value, size);
    finished(i);
  }

  // Serialized result: [u64 length][bytes] in this slot's buffer. Returns
  // false when it does not fit (the caller then reports an error instead).
  bool ok_bytes(std::uint32_t i, std::span<const std::byte> bytes) noexcept {
    const std::uint64_t off = reserve(sizeof(std::uint64_t) + bytes.size(), false);
    if (off == kNoRecord) return false;
    const std::uint64_t len = bytes.size();
    std::memcpy(v_.buf(slot_) + off, &len, sizeof len);
    if (!bytes.empty()) std::memcpy(v_.buf(slot_) + off + sizeof len, bytes.data(), bytes.size());
    v_.offset(i) = pack_place(slot_, off);
    finished(i);
    return true;
  }

  // Error record: [u32 type length][type][u32 what length][what], plus a
  // `threw` log entry (the parent may stop the call at once).
  void threw(std::uint32_t i, std::string_view type, std::string_view what) noexcept {
    type = type.substr(0, 1024);
    what = what.substr(0, 16384);
    const std::uint64_t off = reserve(8 + type.size() + what.size(), true);
    if (off != kNoRecord) {  // else the parent reports the item with a generic message
      std::byte* p = v_.buf(slot_) + off;
      const auto tl = static_cast<std::uint32_t>(type.size());
      const auto wl = static_cast<std::uint32_t>(what.size());
      std::memcpy(p, &tl, 4);
      std::memcpy(p + 4, type.data(), tl);
      std::memcpy(p + 4 + tl, &wl, 4);
      std::memcpy(p + 8 + tl, what.data(), wl);
    }
    append(i, kThrew, off, true);
    finished(i);
  }

  // Whether the run was cancelled or ended: the item loop checks it before
  // each item and stops (the chunk is then left unfinished; nobody needs it).
  bool stopped() const noexcept {
    // SYNC POINT: acquire, pairs with the parent's release store of a new
    // state in cancel()/finish(); nothing is read after it that the parent
    // published, so relaxed would do, but the acquire costs nothing on x86.
    return v_.hdr().state.load(std::memory_order_acquire) != kRunning;
  }

  // Ends the claimed chunk: reports it when every item of it finished.
  void chunk_done() noexcept {
    if (timed_) v_.slot(slot_).current.store(0, std::memory_order_relaxed);
    if (next_ == end_) append(chunk_, kChunkDone, from_, (v_.hdr().flags & kNotifyEach) != 0);
  }

 private:
  // Results may fill the buffer up to its last kErrorReserve bytes, which are
  // kept for error records.
  static constexpr std::uint64_t kErrorReserve = 64 * 1024;

  void finished(std::uint32_t i) noexcept {
    // SYNC POINT: release, pairs with the parent's acquire load of the chunk
    // word after it reaped this worker: the result (array element, bytes and
    // offsets[i]) or error record of every item below `done` is complete.
    // Without it a dead worker's half-written result could be delivered.
    v_.chunk(chunk_).store(ChunkWord{tag_, i + 1 - base_}.pack(), std::memory_order_release);
    next_ = i + 1;
  }

  std::uint64_t reserve(std::uint64_t n, bool for_error) noexcept {
    Slot& s = v_.slot(slot_);
    const std::uint64_t off = align_up(s.buf_used, 8);
    const std::uint64_t cap = v_.hdr().buf_capacity;
    const std::uint64_t limit = for_error ? cap : (cap > kErrorReserve ? cap - kErrorReserve : 0);
    if (off + n > limit) return kNoRecord;
    s.buf_used = off + n;
    return off;
  }

  void append(std::uint32_t index, std::uint32_t kind, std::uint64_t offset, bool wake) noexcept {
    Slot& s = v_.slot(slot_);
    const std::uint64_t n = s.log_count.load(std::memory_order_relaxed);  // only we write it
    v_.log(slot_)[n] = LogEntry{index, kind, offset};
    // SYNC POINT: release, pairs with the parent's acquire load of log_count
    // in its drain: the entry, and every result and error record it covers,
    // are complete when the parent reads them. Without it the parent could
    // read a half-written result.
    s.log_count.store(n + 1, std::memory_order_release);
    if (wake) v_.hdr().done_wp.notify_all();
  }

  RunView v_;
  std::uint32_t slot_;
  std::uint32_t tag_;
  bool timed_;
  std::uint32_t chunk_ = 0;
  std::uint32_t base_ = 0;
  std::uint32_t from_ = 0;
  std::uint32_t next_ = 0;  // the item after the last one finished in this chunk
  std::uint32_t end_ = 0;
};

}  // namespace sk::ipc::pool
