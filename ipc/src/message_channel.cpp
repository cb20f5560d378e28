#include <new>

#include <sk/ipc/message_channel.hpp>

namespace sk::ipc {

MessageChannel* MessageChannel::create(void* mem, std::size_t capacity) noexcept {
  auto* ch = new (mem) MessageChannel();
  ch->capacity_ = capacity;
  return ch;
}

void MessageChannel::copy_in(std::uint64_t pos, const void* src, std::size_t n) noexcept {
  const std::size_t off = static_cast<std::size_t>(pos & (capacity_ - 1));
  const std::size_t first = std::min(n, static_cast<std::size_t>(capacity_) - off);
  std::memcpy(data() + off, src, first);
  if (n > first) std::memcpy(data(), static_cast<const std::byte*>(src) + first, n - first);
}

void MessageChannel::copy_out(std::uint64_t pos, void* dst, std::size_t n) noexcept {
  const std::size_t off = static_cast<std::size_t>(pos & (capacity_ - 1));
  const std::size_t first = std::min(n, static_cast<std::size_t>(capacity_) - off);
  std::memcpy(dst, data() + off, first);
  if (n > first) std::memcpy(static_cast<std::byte*>(dst) + first, data(), n - first);
}

bool MessageChannel::take_chunk(std::vector<std::byte>& msg, bool& assembling) {
  const std::uint64_t tail = tail_.load(std::memory_order_relaxed);
  ChunkHeader h{};
  copy_out(tail, &h, sizeof h);
  bool complete = false;
  if (h.flags & kFirst) {
    msg.clear();  // drops a partial message whose producer died mid-way
    assembling = true;
  }
  if (assembling) {
    const std::size_t at = msg.size();
    msg.resize(at + h.length);
    copy_out(tail + sizeof h, msg.data() + at, h.length);
    if (h.flags & kLast) {
      complete = true;
      assembling = false;
    }
  }  // else: the tail of a message whose consumer died mid-way; skip it
  // SYNC POINT: release pairs with the producer's acquire of tail_ in
  // free_space(): our reads of the chunk happen before it may be overwritten.
  tail_.store(tail + sizeof h + h.length, std::memory_order_release);
  space_wp_.notify_all();
  return complete;
}

}  // namespace sk::ipc
