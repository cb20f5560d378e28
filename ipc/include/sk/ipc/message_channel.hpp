#pragma once
// MessageChannel: one direction of Skprocess tell/listen. A single-producer /
// single-consumer byte ring placed in shared memory (no pointers: the data
// area follows the header), carrying messages of any size as a sequence of
// chunks {u32 length, u32 flags(first|last)} + payload, copied with wrap-around.
//
// Producers and consumers may be replaced (a crashed worker is restarted):
//   - a producer that died between chunks leaves a partial message; the next
//     producer's message starts with a `first` chunk, and the consumer drops
//     the partial one it was assembling;
//   - a consumer that died mid-message leaves the tail on a chunk boundary;
//     the next consumer skips chunks until a `first` one.
// Waiting: bounded spin, then park on a WaitPoint for at most `slice`, then
// ask the caller's keep_going() (is the peer still there?) and park again.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include <sk/core/cacheline.hpp>
#include <sk/core/futex.hpp>

namespace sk::ipc {

class MessageChannel {
 public:
  struct ChunkHeader {
    std::uint32_t length;
    std::uint32_t flags;
  };
  static constexpr std::uint32_t kFirst = 1;
  static constexpr std::uint32_t kLast = 2;

  // Bytes of shared memory for a channel whose ring holds `capacity` bytes
  // (a power of two >= 4096).
  static std::size_t bytes_needed(std::size_t capacity) noexcept { return sizeof(MessageChannel) + capacity; }
  static MessageChannel* create(void* mem, std::size_t capacity) noexcept;

  std::size_t capacity() const noexcept { return static_cast<std::size_t>(capacity_); }

  // Producer. keep_going() is asked after each parked slice while the ring
  // is full; false abandons the send (returns false).
  template <class KeepGoing>
  bool send(std::span<const std::byte> msg, KeepGoing&& keep_going,
            std::chrono::nanoseconds slice = std::chrono::milliseconds(20)) noexcept {
    std::size_t sent = 0;
    bool first = true;
    do {
      const std::size_t want = std::min(msg.size() - sent, max_chunk());
      const std::uint64_t need = want + sizeof(ChunkHeader);
      while (free_space() < need) {
        const bool ok = space_wp_.wait_for([&] { return free_space() >= need; }, slice);
        if (!ok && !keep_going()) return false;
      }
      const ChunkHeader h{static_cast<std::uint32_t>(want),
                          (first ? kFirst : 0u) | (sent + want == msg.size() ? kLast : 0u)};
      const std::uint64_t head = head_.load(std::memory_order_relaxed);
      copy_in(head, &h, sizeof h);
      copy_in(head + sizeof h, msg.data() + sent, want);
      // SYNC POINT: release publishes the chunk bytes to the consumer's
      // acquire load of head_; without it the consumer could read stale bytes.
      head_.store(head + need, std::memory_order_release);
      data_wp_.notify_all();
      sent += want;
      first = false;
    } while (sent < msg.size());
    return true;
  }

  // Consumer: the next complete message, or nullopt when the deadline passes
  // (before a message has started arriving) or keep_going() (asked after each
  // parked slice) returns false and the ring is empty.
  template <class KeepGoing>
  std::optional<std::vector<std::byte>> receive(std::chrono::steady_clock::time_point deadline,
                                                KeepGoing&& keep_going,
                                                std::chrono::nanoseconds slice = std::chrono::milliseconds(20)) {
    std::vector<std::byte> msg;
    bool assembling = false;
    for (;;) {
      if (available() >= sizeof(ChunkHeader)) {
        if (take_chunk(msg, assembling)) return msg;
        continue;
      }
      // Once a message has started, its remaining chunks are already being
      // written by a send() in progress: wait for them past the deadline
      // (bounded by keep_going(), in case the producer died mid-message).
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline && !assembling) return std::nullopt;
      const auto slice_end = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(slice);
      const auto until = assembling ? slice_end : std::min(deadline, slice_end);
      const bool ok = data_wp_.wait_until([&] { return available() >= sizeof(ChunkHeader); }, until);
      if (!ok && (assembling || std::chrono::steady_clock::now() < deadline) && !keep_going()) {
        if (available() >= sizeof(ChunkHeader)) continue;
        return std::nullopt;
      }
    }
  }

 private:
  MessageChannel() = default;
  std::size_t max_chunk() const noexcept { return static_cast<std::size_t>(capacity_ / 4); }
  std::uint64_t free_space() const noexcept {
    // SYNC POINT: acquire pairs with the consumer's release of tail_: the
    // bytes below tail_ are no longer read, so they may be overwritten.
    return capacity_ - (head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire));
  }
  std::uint64_t available() const noexcept {
    // SYNC POINT: acquire pairs with the producer's release of head_.
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_relaxed);
  }
  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(this + 1); }
  void copy_in(std::uint64_t pos, const void* src, std::size_t n) noexcept;
  void copy_out(std::uint64_t pos, void* dst, std::size_t n) noexcept;
  // Consumes one chunk (published, so complete). Returns true when it
  // completed a message in msg.
  bool take_chunk(std::vector<std::byte>& msg, bool& assembling);

  std::uint64_t capacity_ = 0;
  std::uint64_t pad0_[15]{};
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint64_t> head_{0};  // producer-owned
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint64_t> tail_{0};  // consumer-owned
  alignas(sk::core::kFalseSharingRange) sk::core::WaitPoint data_wp_{};       // consumer parks
  alignas(sk::core::kFalseSharingRange) sk::core::WaitPoint space_wp_{};      // producer parks
};
static_assert(sizeof(MessageChannel) % sk::core::kFalseSharingRange == 0);

}  // namespace sk::ipc
