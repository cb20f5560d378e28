#pragma once
// PipeEnd: one endpoint of a pipe between two processes, the byte-level
// engine under sk::Pipe (sk/pipe.hpp).
//
// A pipe is one arena (anonymous and inherited by fork, or named in /dev/shm)
// whose root is a PipeBlock:
//   PipeBlock { magic, version, one_way, ring offsets, limits, creator,
//               owner[anchor|point] (claim words), closed[anchor|point] }
//   ring[0]: ByteRing anchor -> point        ring[1]: ByteRing point -> anchor (duplex only)
//   the rest of the arena: blocks for large messages and loans
// A message whose bytes fit in `inline_max` travels inside the ring; a larger
// one is copied into an arena block and the ring carries only {offset, size};
// the receiver frees the block when it consumes the message.
//
// Ownership: the first process that uses an endpoint claims it (its OwnerId
// goes into owner[role] and into the rings' owner tags). Only that process
// may use it; only that process closes it (explicitly or when its last
// handle goes). A waiting side checks, once per 10 ms slice, whether the
// peer closed or its owner process died, and throws sk::PeerClosed once
// everything the peer committed has been received.
//
// An endpoint handle is not thread-safe: one thread at a time per endpoint.
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/owner.hpp>
#include <sk/core/byte_ring.hpp>
#include <sk/core/cacheline.hpp>
#include <sk/core/futex.hpp>
#include <sk/ipc/pipe_errors.hpp>

namespace sk::ipc {

// How a receiving end waits for its next message.
//
//   block (default): a short bounded spin (pause, then sched_yield), then a
//     futex sleep; an idle pipe costs no CPU.
//   spin (latency mode): spins with `pause` only (no yield, no syscall) for
//     up to `spin_for` per wait, then waits as in block mode.
//     nanoseconds::max() never parks: the receiving thread keeps a core busy
//     for as long as it waits, and wakes within a cache-line transfer of the
//     send. Pinning (anchor_cpu / point_cpu >= 0) moves the thread that first
//     receives on that end to one CPU, so it is not migrated or stacked onto
//     the sender's core. Peer death is still seen within the liveness slice.
struct ReceivePolicy {
  enum class Mode : std::uint32_t { block = 0, spin = 1 };
  Mode mode = Mode::block;
  std::chrono::nanoseconds spin_for = std::chrono::nanoseconds::max();
  int anchor_cpu = -1;  // spin mode: CPU for the anchor's receiving thread (-1: leave it)
  int point_cpu = -1;   // spin mode: CPU for the point's receiving thread (-1: leave it)

  static ReceivePolicy blocking() noexcept { return {}; }
  static ReceivePolicy spinning(std::chrono::nanoseconds spin_for = std::chrono::nanoseconds::max(),
                                int anchor_cpu = -1, int point_cpu = -1) noexcept {
    return {Mode::spin, spin_for, anchor_cpu, point_cpu};
  }
};

struct PipeOptions {
  std::size_t ring_bytes = 256 * 1024;        // data bytes per direction (power of two)
  std::size_t arena_bytes = 32 * 1024 * 1024;  // rings + large messages in flight
  std::size_t inline_max = 16 * 1024;         // larger messages go through arena blocks
  ReceivePolicy receive;                      // both ends' default (each may change its own)
};

enum class PipeRole : std::uint32_t { anchor = 0, point = 1 };

// The root object of a pipe's arena. Standard layout, no pointers.
struct PipeBlock {
  static constexpr std::uint64_t kMagic = 0x45504950'4B53ull;  // "SKPIPE"
  static constexpr std::uint32_t kVersion = 2;

  std::uint64_t magic = 0;
  std::uint32_t version = 0;
  std::uint32_t one_way = 0;
  alloc::Offset ring_off[2] = {0, 0};  // [0] anchor->point, [1] point->anchor (0 if one-way)
  std::uint64_t ring_mem_bytes = 0;    // bytes of each ring's memory (header + data)
  std::uint64_t inline_max = 0;
  std::uint64_t max_message = 0;       // largest message the arena can hold
  std::uint64_t creator = 0;           // packed OwnerId of the creating process
  std::uint32_t receive_mode = 0;      // PipeOptions::receive, as created
  std::int32_t receive_cpu[2] = {-1, -1};
  std::int64_t receive_spin_ns = 0;
  // Claim and close words: written once per endpoint, read by the waiting
  // peer; on their own line pair.
  alignas(core::kFalseSharingRange) std::atomic<std::uint64_t> owner[2] = {0, 0};
  std::atomic<std::uint32_t> closed[2] = {0, 0};
  // Where a sender waits for arena memory (a large message or a loan whose
  // block does not fit while blocks are in flight); every free of a message
  // block notifies it. Written only when someone parks.
  core::WaitPoint memory;
};
static_assert(std::is_standard_layout_v<PipeBlock>);
static_assert(sizeof(PipeBlock) == 2 * core::kFalseSharingRange);

// A received message that has not been consumed yet: `bytes` points into
// the shared mapping (the ring, or an arena block).
struct PipeMessage {
  std::span<const std::byte> bytes;
  std::uint32_t flags = 0;          // PipeEnd::kFlag* bits
  alloc::Offset block = 0;          // arena block holding the bytes (0 = inline in the ring)
  std::size_t block_bytes = 0;
  bool raw() const noexcept;        // raw bytes from a loan (not a sk::ser frame)
};

class PipeEnd {
 public:
  using Clock = std::chrono::steady_clock;
  using Deadline = std::optional<Clock::time_point>;  // nullopt: wait as long as it takes
  // Ring record flags (ByteRing user flags).
  static constexpr std::uint32_t kFlagBlock = 1;  // payload is a BlockRef into the arena
  static constexpr std::uint32_t kFlagRaw = 2;    // bytes are raw (loan), not a sk::ser frame
  // How often a waiting side checks whether the peer is still alive.
  static constexpr std::chrono::milliseconds kLivenessSlice{10};

  // A new pipe; returns {anchor, point}. Named pipes live in /dev/shm until
  // unlink(name) (or the stale-segment sweep once nobody maps them).
  static std::pair<std::shared_ptr<PipeEnd>, std::shared_ptr<PipeEnd>> create(bool one_way,
                                                                               const PipeOptions& opts,
                                                                               std::string_view name = {});
  // Opens one end of a named pipe made by create(..., name). Throws
  // PipeEndpointError if the pipe's direction does not match `one_way`.
  static std::shared_ptr<PipeEnd> attach(std::string_view name, PipeRole role, bool one_way);
  static void unlink(std::string_view name);

  PipeEnd(alloc::Arena arena, PipeRole role);
  ~PipeEnd();
  PipeEnd(const PipeEnd&) = delete;
  PipeEnd& operator=(const PipeEnd&) = delete;

  // ---- sending ----------------------------------------------------------------
  // Copies bytes in as one message (inline or through an arena block); waits
  // while the ring or the arena is full. False when the deadline passed.
  // Throws PeerClosed, MessageTooLarge, PipeEndpointError.
  bool send_bytes(std::span<const std::byte> bytes, std::uint32_t flags, Deadline deadline);
  // Two-phase send, so a message is written once, straight into shared
  // memory: begin_send(n) returns room for exactly n bytes (reserved ring
  // space when n <= inline_max, else an arena block; it waits as send_bytes
  // does) or a span with a null data() when the deadline passed. Fill it, then
  // commit_send() publishes it (false: the deadline passed while a block
  // message waited for ring room; the block is freed). abandon_send() drops
  // an open send (nothing becomes visible). Throws as send_bytes.
  std::span<std::byte> begin_send(std::size_t n, std::uint32_t flags, Deadline deadline);
  bool commit_send(Deadline deadline);
  void abandon_send() noexcept;
  // An arena block of n bytes for a message or a loan. While blocks this end
  // sent are in flight and the arena cannot hold n more bytes, waits on the
  // futex (PipeBlock::memory) until the receiver frees some; 0 when the
  // deadline passed. Throws MessageTooLarge (n > max_message()), PeerClosed
  // (the receiver died or closed while we waited), ArenaFull (nothing this end
  // sent is in flight and the arena still cannot hold n bytes: the memory is
  // held by this end's unsent loans or by messages to this end it has not
  // received, so waiting could never help).
  alloc::Offset allocate_block(std::size_t n, Deadline deadline);
  void free_block(alloc::Offset off, std::size_t n) noexcept;
  std::byte* block_data(alloc::Offset off) const noexcept { return arena_.base() + off; }
  // Sends a block allocated with allocate_block (ownership passes to the
  // receiver once this returns true).
  bool send_block(alloc::Offset off, std::size_t n, std::uint32_t flags, Deadline deadline);

  // ---- receiving --------------------------------------------------------------
  // Waits for the next message and returns it without consuming it; nullopt
  // when the deadline passed. Throws PeerClosed (after everything committed
  // was received), RingCorrupt, PipeEndpointError (a message is still held).
  std::optional<PipeMessage> receive(Deadline deadline);
  // Frees a message returned by receive() (ring space and arena block).
  void consume(const PipeMessage& m) noexcept;
  // Gives up a message returned by receive() without consuming it (the next
  // receive() returns it again).
  void unhold() noexcept { holding_ = false; }

  // ---- state ------------------------------------------------------------------
  // Closes this endpoint if this process claimed it (the peer then sees
  // PeerClosed); otherwise only this handle stops working here.
  void close() noexcept;
  // Records that the other end belongs to process `pid` (a child this process
  // forked to use it) before that process has used it. Until an end is used,
  // its owner is unknown and the waiting side can only assume the creator may
  // still hand it on; with the owner recorded, the peer dying before it ever
  // used its end is PeerClosed here instead of a wait as long as the creator
  // lives. Throws PipeEndpointError if another process already owns that end
  // or `pid` does not exist.
  void give_peer_to(pid_t pid);
  bool peer_alive() const noexcept;
  std::size_t max_message() const noexcept { return static_cast<std::size_t>(blk_->max_message); }
  // How this end (in this process) waits in receive(); starts as the pipe's
  // PipeOptions::receive. Throws PipeError for a spin_for below zero.
  void set_receive_policy(const ReceivePolicy& p);
  ReceivePolicy receive_policy() const noexcept { return policy_; }
  bool one_way() const noexcept { return blk_->one_way != 0; }
  PipeRole role() const noexcept { return role_; }
  const std::string& name() const noexcept { return arena_.name(); }
  // The whole shared mapping (views and loans point inside it).
  std::span<const std::byte> mapping() const noexcept { return {arena_.base(), arena_.capacity()}; }
  // The rings, for tests and tools (nullptr where this end has none).
  core::ByteRing* outgoing_ring() const noexcept { return out_; }
  core::ByteRing* incoming_ring() const noexcept { return in_; }

 private:
  struct BlockRef {
    std::uint64_t offset;
    std::uint64_t bytes;
  };

  void claim();
  void check_open() const;
  bool peer_closed_flag() const noexcept;
  int peer() const noexcept { return role_ == PipeRole::anchor ? 1 : 0; }
  [[noreturn]] void throw_peer_closed(const char* while_doing) const;
  [[noreturn]] void throw_too_large(std::size_t n) const;
  [[noreturn]] void throw_arena_full(std::size_t n) const;
  alloc::Offset try_allocate(std::size_t n);
  // Spin-then-park on `wait(slice)` until ready(); checks the peer between
  // slices. False on deadline. Throws PeerClosed when the peer is gone and
  // ready() is still false.
  template <class Ready, class Wait>
  bool wait_loop(Ready&& ready, Wait&& wait, Deadline deadline, const char* while_doing);
  bool push_record(std::span<const std::byte> bytes, std::uint32_t flags, Deadline deadline);
  std::span<std::byte> reserve_record(std::size_t n, std::uint32_t flags, Deadline deadline);

  alloc::Arena arena_;
  PipeBlock* blk_ = nullptr;
  core::ByteRing* out_ = nullptr;
  core::ByteRing* in_ = nullptr;
  PipeRole role_ = PipeRole::anchor;
  std::uint64_t claimed_as_ = 0;  // packed OwnerId of this process once it claimed the end
  bool closed_ = false;
  bool holding_ = false;  // receive() returned a message not yet consumed
  ReceivePolicy policy_;
  bool pinned_ = false;   // the spin policy's CPU pin was applied (or not asked for)
  void apply_pin();
  // Spin mode: pause-only polling of ready() for up to `slice`; true if ready.
  template <class Ready>
  bool spin_wait(Ready&& ready, std::chrono::nanoseconds slice);
  // An open two-phase send: inline (ring reservation) or an arena block.
  enum class Pending : std::uint8_t { none, inline_record, block } pending_ = Pending::none;
  std::size_t pending_bytes_ = 0;
  std::uint32_t pending_flags_ = 0;
  alloc::Offset pending_block_ = 0;
};

}  // namespace sk::ipc
