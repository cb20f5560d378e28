#pragma once
// Messages of any size over a core::ByteRing: the framing of Skprocess
// tell/listen (one ring per direction, in the control block's mapping). The
// ring is the one Pipe uses too, with its validated headers: a consumer never
// trusts a length read from shared memory (core::RingCorrupt instead).
//
// A message larger than the ring's max_message() travels as several records,
// flagged kFirst on the first and kLast on the last (both on a small one);
// the consumer reassembles them in process-local memory.
//
// Ends may be replaced (a crashed worker is restarted at the same run):
//   - a producer that died between records leaves a partial message; the next
//     producer's message starts with a kFirst record, and the consumer drops
//     the partial one it was assembling;
//   - a consumer that died mid-message leaves the rest of it in the ring; the
//     next consumer skips records until a kFirst one.
// Waiting: the ring's wait points (bounded spin, then futex) for at most one
// slice, then the caller's keep_going() (is the other side still there?).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include <sk/core/byte_ring.hpp>

namespace sk::ipc {

inline constexpr std::uint32_t kMessageFirst = 1;
inline constexpr std::uint32_t kMessageLast = 2;

// Producer: sends msg, waiting while the ring is full. keep_going() is asked
// after each slice spent waiting; false abandons the send (returns false; the
// consumer drops what arrived of it when the next message starts).
template <class KeepGoing>
bool send_message(core::ByteRing& ring, std::span<const std::byte> msg, KeepGoing&& keep_going,
                  std::chrono::nanoseconds slice = std::chrono::milliseconds(20)) {
  const std::size_t most = ring.max_message();
  std::size_t sent = 0;
  do {
    const std::size_t want = std::min(msg.size() - sent, most);
    const std::uint32_t flags = (sent == 0 ? kMessageFirst : 0u) | (sent + want == msg.size() ? kMessageLast : 0u);
    std::span<std::byte> room;
    while ((room = ring.try_reserve(want, flags)).data() == nullptr) {
      if (!ring.wait_writable(want, slice) && !keep_going()) return false;
    }
    if (want != 0) std::memcpy(room.data(), msg.data() + sent, want);
    ring.commit(want);
    sent += want;
  } while (sent < msg.size());
  return true;
}

// Consumer: the next complete message, or nullopt when the deadline passes
// before a message started arriving, or keep_going() (asked after each slice
// spent waiting) returns false and nothing complete is there. `partial` holds
// a message being assembled between calls (process-local; start empty).
template <class KeepGoing>
std::optional<std::vector<std::byte>> receive_message(core::ByteRing& ring, std::vector<std::byte>& partial,
                                                      bool& assembling,
                                                      std::chrono::steady_clock::time_point deadline,
                                                      KeepGoing&& keep_going,
                                                      std::chrono::nanoseconds slice = std::chrono::milliseconds(20)) {
  for (;;) {
    std::uint32_t flags = 0;
    const std::span<const std::byte> rec = ring.try_peek(&flags);
    if (rec.data() != nullptr) {
      if (flags & kMessageFirst) {  // a new message: drop a partial one a dead producer left
        partial.clear();
        assembling = true;
      }
      if (assembling) partial.insert(partial.end(), rec.begin(), rec.end());
      ring.release();
      if (assembling && (flags & kMessageLast)) {
        assembling = false;
        std::vector<std::byte> out;
        out.swap(partial);
        return out;
      }
      continue;  // a middle record, or the tail of a message a dead consumer had begun
    }
    // Once a message has started, its remaining records are being written by
    // a send in progress: wait for them past the deadline (bounded by
    // keep_going(), in case the producer died mid-message).
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline && !assembling) return std::nullopt;
    const auto wait = assembling ? slice
                                 : std::min<std::chrono::nanoseconds>(
                                       slice, std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now));
    if (!ring.wait_readable(wait) && (assembling || std::chrono::steady_clock::now() < deadline) && !keep_going()) {
      if (ring.readable()) continue;
      return std::nullopt;
    }
  }
}

}  // namespace sk::ipc
