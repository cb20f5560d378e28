#pragma once
// ByteRing: a single-producer / single-consumer ring of variable-length
// messages placed in caller-provided memory (typically a MAP_SHARED mapping
// or an arena block), position independent (offsets and counters only).
//
//   mem = <bytes_needed(capacity) bytes, 128-byte aligned>
//   ByteRing* r = ByteRing::create(mem, capacity);        // once, by the creator
//   ByteRing* r = ByteRing::attach(mem, mem_bytes);       // anyone else: checks magic/size
//   producer: auto s = r->try_reserve(n); fill s; r->commit(n);   // or stage(n)... publish()
//   consumer: auto s = r->try_peek(); if (s.data()) { use s; r->release(); }
//
// Record format: an 8-byte header {u32 length, u32 flags} followed by the
// payload, padded to 8 bytes. A record never wraps: when it does not fit
// before the end of the buffer, the producer writes a pad record that covers
// the rest of the buffer and the message starts at offset 0. The largest
// message is capacity/2 - 8 bytes, which guarantees that an empty ring can
// always take it.
//
// Trust: the consumer treats everything the producer wrote as untrusted. It
// copies each header once, checks the tag, the length, the pad rule and that
// the record lies inside the published range, and throws RingCorrupt
// otherwise. It never reads outside the data area, whatever the memory holds.
//
// Crash safety: a message becomes visible only through the single release
// store of `tail` in publish(). A producer killed at any instruction leaves
// either a fully published message or nothing the consumer can see.
//
// Owner tags: producer_tag() and consumer_tag() are 64-bit words that the
// ring never interprets; higher layers store the owner (pid + start time) of
// each end there so a waiter can check whether the other end is alive.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include <sk/core/cacheline.hpp>
#include <sk/core/error.hpp>
#include <sk/core/futex.hpp>

namespace sk::core {

// Misuse of a ring (bad capacity, misaligned memory, message too large,
// commit without reservation).
class RingError : public sk::Error {
 public:
  using sk::Error::Error;
};

// What the consumer read from the ring is not a valid record (garbage
// header, length out of range, index out of range, wrong magic). The ring
// cannot be trusted any more: drop it and the peer that wrote it.
class RingCorrupt : public RingError {
 public:
  using RingError::RingError;
};

class ByteRing {
 public:
  static constexpr std::size_t kRecordHeader = 8;
  static constexpr std::size_t kRecordAlign = 8;
  static constexpr std::size_t kMinCapacity = 64;
  static constexpr std::size_t kMaxCapacity = std::size_t{1} << 31;
  // Flags a caller may attach to a message (the other bits are the ring's).
  static constexpr std::uint32_t kUserFlagsMask = 0xFFFFu;

  // Memory to hand to create() for a data area of `capacity` bytes (a power
  // of two in [kMinCapacity, kMaxCapacity]; throws RingError otherwise).
  static std::size_t bytes_needed(std::size_t capacity);
  // Builds an empty ring in mem (128-byte aligned, bytes_needed(capacity) long).
  static ByteRing* create(void* mem, std::size_t capacity);
  // Checks that mem holds a ring created by create() that fits in mem_bytes;
  // throws RingCorrupt otherwise. The constant header (capacity) is trusted
  // after this check; message headers are checked on every read.
  static ByteRing* attach(void* mem, std::size_t mem_bytes);

  ByteRing(const ByteRing&) = delete;
  ByteRing& operator=(const ByteRing&) = delete;

  std::size_t capacity() const noexcept { return static_cast<std::size_t>(hdr_.capacity); }
  // Largest payload one message may carry.
  std::size_t max_message() const noexcept { return capacity() / 2 - kRecordHeader; }

  // ---- producer ------------------------------------------------------------
  // Reserves room for one message of up to n bytes after everything already
  // staged. Returns a span of n writable bytes, or an empty span with a null
  // data() when the ring has no room now. A new reservation abandons an
  // uncommitted previous one. Throws RingError if n > max_message().
  std::span<std::byte> try_reserve(std::size_t n, std::uint32_t user_flags = 0) {
    if (n > max_message()) throw_too_large(n);
    const std::uint64_t pos = prod_.write;
    const std::uint64_t need_rec = record_size(n);
    const std::uint64_t idx = pos & mask();
    const std::uint64_t to_end = hdr_.capacity - idx;
    const std::uint64_t pad = need_rec > to_end ? to_end : 0;
    if (!room_for(pos, pad + need_rec)) return {};
    std::uint64_t at = pos;
    if (pad != 0) {
      write_header(idx, static_cast<std::uint32_t>(pad - kRecordHeader), kTag | kPadFlag);
      at += pad;
      prod_.write = at;  // the pad is staged; it is published with the next message
    }
    prod_.reserved_at = at;
    prod_.reserved_max = n;
    prod_.reserved_flags = (user_flags & kUserFlagsMask) | kTag;
    return {data() + (at & mask()) + kRecordHeader, n};
  }

  // Finishes the reserved message with its final size n (<= reserved) and
  // publishes everything staged so far.
  void commit(std::size_t n) {
    stage(n);
    publish();
  }
  // Finishes the reserved message without publishing (batch: stage several,
  // then publish once).
  void stage(std::size_t n) {
    if (prod_.reserved_flags == 0 || n > prod_.reserved_max) throw_bad_stage(n);
    const std::uint64_t at = prod_.reserved_at;
    write_header(at & mask(), static_cast<std::uint32_t>(n), prod_.reserved_flags);
    prod_.write = at + record_size(n);
    prod_.reserved_flags = 0;
  }
  // Makes every staged message visible to the consumer and wakes it.
  void publish() noexcept {
    // SYNC POINT: release publishes the headers and payloads written before
    // it (stage(), pads) to the consumer's acquire load of tail; without it
    // the consumer could read a header or payload that is not yet written.
    prod_.tail.store(prod_.write, std::memory_order_release);
    waits_.data.notify_all();
  }
  // Copies bytes in as one message; false if there is no room now.
  bool try_write(std::span<const std::byte> bytes, std::uint32_t user_flags = 0) {
    auto s = try_reserve(bytes.size(), user_flags);
    if (s.data() == nullptr) return false;
    if (!bytes.empty()) std::memcpy(s.data(), bytes.data(), bytes.size());
    commit(bytes.size());
    return true;
  }
  // True once a message of n bytes fits; waits up to timeout (spin, then
  // futex). Also returns (true) early when the consumer closed its end.
  bool wait_writable(std::size_t n, std::chrono::nanoseconds timeout) noexcept {
    // SYNC POINT: acquire of the close flag pairs with close()'s release
    // (the flag is the whole message: stop waiting).
    return waits_.space.wait_for(
        [&] { return writable(n) || waits_.consumer_closed.load(std::memory_order_acquire) != 0; }, timeout);
  }
  bool writable(std::size_t n) noexcept {
    if (n > max_message()) return false;
    const std::uint64_t pos = prod_.write;
    const std::uint64_t rec = record_size(n);
    const std::uint64_t to_end = hdr_.capacity - (pos & mask());
    return room_for(pos, (rec > to_end ? to_end : 0) + rec);
  }

  // Bytes published and not yet released by the consumer (either side;
  // approximate while the other side runs). 0 means the consumer has taken
  // everything that was published.
  std::size_t unreleased_bytes() const noexcept {
    // SYNC POINT: acquire loads of both published indices (a snapshot for
    // decisions such as "is anything in flight"; no data is read through it).
    const std::uint64_t head = cons_.head.load(std::memory_order_acquire);
    const std::uint64_t tail = prod_.tail.load(std::memory_order_acquire);
    return tail >= head ? static_cast<std::size_t>(tail - head) : 0;
  }

  // ---- consumer ------------------------------------------------------------
  // The next unreleased message, or a span with a null data() when none is
  // published. (A zero-length message has a non-null data().) Calling it
  // again before release() returns the same message. Throws RingCorrupt if
  // the published bytes are not a valid record.
  std::span<const std::byte> try_peek(std::uint32_t* user_flags = nullptr) {
    std::uint64_t pos = cons_.read;
    for (;;) {
      if (pos == cons_.tail_cache) {
        // SYNC POINT: acquire pairs with the release of tail in publish(); it
        // makes the headers and payloads up to tail visible to the reads below.
        cons_.tail_cache = prod_.tail.load(std::memory_order_acquire);
        if (pos == cons_.tail_cache) return {};
      }
      const std::uint64_t avail = cons_.tail_cache - pos;
      if (avail > hdr_.capacity || (avail % kRecordAlign) != 0 || (pos % kRecordAlign) != 0)
        throw_corrupt("published range", pos, avail);
      const std::uint64_t idx = pos & mask();
      std::uint32_t h[2];
      std::memcpy(h, data() + idx, sizeof h);  // one copy: the producer may still scribble
      const std::uint32_t len = h[0], flags = h[1];
      if ((flags & kTagMask) != kTag) throw_corrupt("record tag", pos, flags);
      if ((flags & kPadFlag) != 0) {
        const std::uint64_t span_bytes = hdr_.capacity - idx;
        if (std::uint64_t{len} + kRecordHeader != span_bytes || span_bytes > avail)
          throw_corrupt("pad record length", pos, len);
        pos += span_bytes;
        cons_.read = pos;  // skipped; the space is returned by the next release
        continue;
      }
      const std::uint64_t rec = record_size(len);
      if (len > max_message() || idx + rec > hdr_.capacity || rec > avail)
        throw_corrupt("message length", pos, len);
      cons_.peeked_end = pos + rec;
      if (user_flags) *user_flags = flags & kUserFlagsMask;
      return {data() + idx + kRecordHeader, static_cast<std::size_t>(len)};
    }
  }
  // Frees the peeked message and returns its space to the producer.
  void release() noexcept {
    release_staged();
    publish_released();
  }
  // Frees the peeked message locally (batch: several, then publish_released()).
  void release_staged() noexcept {
    if (cons_.peeked_end != 0) cons_.read = cons_.peeked_end;
    cons_.peeked_end = 0;
  }
  void publish_released() noexcept {
    // SYNC POINT: release orders our reads of the freed records before the
    // producer's acquire of head; without it the producer could overwrite a
    // payload we are still reading.
    cons_.head.store(cons_.read, std::memory_order_release);
    waits_.space.notify_all();
  }
  // True once a message is published (or the producer closed its end);
  // waits up to timeout (spin, then futex).
  bool wait_readable(std::chrono::nanoseconds timeout) noexcept {
    // SYNC POINT: acquire of the close flag pairs with close()'s release: a
    // reader that sees it also sees every message published before the close.
    return waits_.data.wait_for(
        [&] { return readable() || waits_.producer_closed.load(std::memory_order_acquire) != 0; }, timeout);
  }
  bool readable() const noexcept {
    // SYNC POINT: acquire of tail (decision only; try_peek re-reads it).
    return prod_.tail.load(std::memory_order_acquire) != cons_.read;
  }

  // ---- ends: owner tags and close flags --------------------------------------
  std::atomic<std::uint64_t>& producer_tag() noexcept { return prod_.tag; }
  std::atomic<std::uint64_t>& consumer_tag() noexcept { return cons_.tag; }
  // Marks an end closed and wakes the other side's waits.
  void close_producer() noexcept { close(waits_.producer_closed); }
  void close_consumer() noexcept { close(waits_.consumer_closed); }
  // SYNC POINT: acquire loads pair with close()'s release store of the flag:
  // what the closing end published before closing is visible after them.
  bool producer_closed() const noexcept { return waits_.producer_closed.load(std::memory_order_acquire) != 0; }
  bool consumer_closed() const noexcept { return waits_.consumer_closed.load(std::memory_order_acquire) != 0; }
  // Wakes everyone parked on this ring (both wait points).
  void notify_all() noexcept {
    waits_.data.notify_all();
    waits_.space.notify_all();
  }

 private:
  static constexpr std::uint64_t kMagic = 0x676E6952'65747942ull;  // "ByteRing"
  static constexpr std::uint32_t kVersion = 2;  // 2: asymmetric wake fences
  static constexpr std::uint32_t kTagMask = 0xFF000000u;
  static constexpr std::uint32_t kTag = 0x5A000000u;  // every valid header carries it
  static constexpr std::uint32_t kPadFlag = 0x00800000u;

  explicit ByteRing(std::size_t capacity) noexcept;

  static constexpr std::uint64_t record_size(std::uint64_t n) noexcept {
    return (kRecordHeader + n + kRecordAlign - 1) & ~std::uint64_t{kRecordAlign - 1};
  }
  std::uint64_t mask() const noexcept { return hdr_.capacity - 1; }
  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this) + sizeof(ByteRing); }
  bool room_for(std::uint64_t pos, std::uint64_t bytes) noexcept {
    if (hdr_.capacity - (pos - prod_.head_cache) >= bytes) return true;
    // SYNC POINT: acquire pairs with the release of head in
    // publish_released(); it orders the consumer's reads of freed records
    // before our overwriting them.
    prod_.head_cache = cons_.head.load(std::memory_order_acquire);
    return hdr_.capacity - (pos - prod_.head_cache) >= bytes;
  }
  void write_header(std::uint64_t idx, std::uint32_t len, std::uint32_t flags) noexcept {
    const std::uint32_t h[2] = {len, flags};
    std::memcpy(data() + idx, h, sizeof h);
  }
  void close(std::atomic<std::uint32_t>& flag) noexcept {
    // SYNC POINT: release pairs with the acquire loads in producer_closed() /
    // consumer_closed(); everything published before closing stays visible.
    flag.store(1, std::memory_order_release);
    notify_all();
  }
  [[noreturn]] void throw_too_large(std::size_t n) const;
  [[noreturn]] void throw_bad_stage(std::size_t n) const;
  [[noreturn]] void throw_corrupt(const char* what, std::uint64_t pos, std::uint64_t value) const;

  struct alignas(kFalseSharingRange) Header {  // constant after create()
    std::uint64_t magic = 0;
    std::uint32_t version = 0;
    std::uint32_t reserved = 0;
    std::uint64_t capacity = 0;
  };
  struct alignas(kFalseSharingRange) ProducerSide {
    std::atomic<std::uint64_t> tail{0};  // published end of data (producer writes)
    std::uint64_t write = 0;             // producer-private: end of staged data
    std::uint64_t head_cache = 0;        // producer-private: last head seen
    std::uint64_t reserved_at = 0;       // producer-private: open reservation
    std::uint64_t reserved_max = 0;
    std::uint32_t reserved_flags = 0;    // 0 = no open reservation
    std::uint32_t unused = 0;
    std::atomic<std::uint64_t> tag{0};   // owner of the producer end (opaque here)
  };
  struct alignas(kFalseSharingRange) ConsumerSide {
    std::atomic<std::uint64_t> head{0};  // published start of unreleased data (consumer writes)
    std::uint64_t read = 0;              // consumer-private: start of unreleased, unstaged data
    std::uint64_t tail_cache = 0;        // consumer-private: last tail seen
    std::uint64_t peeked_end = 0;        // consumer-private: end of the peeked record (0 = none)
    std::atomic<std::uint64_t> tag{0};   // owner of the consumer end (opaque here)
  };
  // FastWaitPoint: publish() and publish_released() run on every message,
  // so their wake check skips the fence (membarrier on the parking side; see
  // futex.hpp, light_fence).
  struct alignas(kFalseSharingRange) Waits {
    FastWaitPoint data;   // consumer parks: "a message was published"
    FastWaitPoint space;  // producer parks: "space was released"
    std::atomic<std::uint32_t> producer_closed{0};
    std::atomic<std::uint32_t> consumer_closed{0};
  };

  Header hdr_;
  ProducerSide prod_;
  ConsumerSide cons_;
  Waits waits_;
};

static_assert(std::is_standard_layout_v<ByteRing>, "placed in shared memory: standard layout only");
static_assert(sizeof(ByteRing) == 4 * kFalseSharingRange);
static_assert(alignof(ByteRing) == kFalseSharingRange);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

}  // namespace sk::core
