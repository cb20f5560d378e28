#include <sched.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <new>
#include <string>

#include <sk/alloc/block_allocator.hpp>
#include <sk/alloc/header.hpp>
#include <sk/ipc/pipe_channel.hpp>

namespace sk::ipc {
namespace {

using alloc::Arena;
using alloc::Offset;
using alloc::OwnerId;
using core::ByteRing;

constexpr std::size_t kRingAlign = 128;
constexpr std::size_t kBlockAlign = 64;

alloc::Layout pipe_layout() {
  // Changes to PipeBlock, ByteRing or the record format must change this.
  return alloc::Layout{0x736B5069'70653032ull ^ (sizeof(PipeBlock) << 16) ^ sizeof(ByteRing),
                       "sk::Pipe v2: PipeBlock{receive policy,owner[2],closed[2],memory wait point} + "
                       "ByteRing v2 x2 + arena blocks"};
}

std::string pid_text(std::uint64_t packed) { return alloc::describe_owner(OwnerId::unpack(packed)); }

const char* role_name(PipeRole r) noexcept { return r == PipeRole::anchor ? "anchor" : "point"; }

// Message blocks: small ones are the arena's power-of-two blocks, large
// ones whole pages (the arena reuses and merges freed page runs of any size,
// so no rounding beyond the page is needed).
std::size_t block_bytes(std::size_t n) noexcept { return n == 0 ? 1 : n; }

// Largest message block the fresh arena can hand out, confirmed by a probe
// allocation.
std::uint64_t probe_max_message(Arena& a) {
  for (std::size_t n = a.largest_free() / alloc::kPageBytes * alloc::kPageBytes; n >= alloc::kPageBytes;
       n -= alloc::kPageBytes) {
    try {
      const Offset off = a.allocate(n, kBlockAlign);
      a.deallocate(off, n, kBlockAlign);
      return n;
    } catch (const alloc::ArenaFull&) {
    }
  }
  return 0;
}

void init_block(Arena& a, bool one_way, const PipeOptions& opts) {
  const std::size_t ring_mem = ByteRing::bytes_needed(opts.ring_bytes);
  const Offset blk_off = a.allocate(sizeof(PipeBlock), alignof(PipeBlock));
  auto* blk = new (a.ptr<void>(blk_off)) PipeBlock{};
  const int rings = one_way ? 1 : 2;
  std::size_t ring_max = 0;
  for (int d = 0; d < rings; ++d) {
    const Offset off = a.allocate(ring_mem, kRingAlign);
    ring_max = ByteRing::create(a.ptr<void>(off), opts.ring_bytes)->max_message();
    blk->ring_off[d] = off;
  }
  blk->version = PipeBlock::kVersion;
  blk->one_way = one_way ? 1 : 0;
  blk->ring_mem_bytes = ring_mem;
  blk->inline_max = std::min<std::uint64_t>(opts.inline_max, ring_max);
  blk->creator = alloc::self_owner().pack();
  blk->receive_mode = static_cast<std::uint32_t>(opts.receive.mode);
  blk->receive_cpu[0] = opts.receive.anchor_cpu;
  blk->receive_cpu[1] = opts.receive.point_cpu;
  blk->receive_spin_ns = opts.receive.spin_for.count();
  blk->max_message = probe_max_message(a);
  blk->magic = PipeBlock::kMagic;  // published by the arena's ready marker
  a.set_root(blk_off);
}

void check_policy(const ReceivePolicy& p) {
  if (p.mode != ReceivePolicy::Mode::block && p.mode != ReceivePolicy::Mode::spin)
    throw PipeError("sk::Pipe: ReceivePolicy::mode " + std::to_string(static_cast<std::uint32_t>(p.mode)) +
                    " is neither block nor spin");
  if (p.spin_for.count() < 0 || p.anchor_cpu < -1 || p.point_cpu < -1)
    throw PipeError("sk::Pipe: ReceivePolicy needs spin_for >= 0 and CPUs >= 0 (or -1 for no pinning); got spin_for " +
                    std::to_string(p.spin_for.count()) + " ns, anchor_cpu " + std::to_string(p.anchor_cpu) +
                    ", point_cpu " + std::to_string(p.point_cpu));
}

void check_options(const PipeOptions& opts) {
  check_policy(opts.receive);
  (void)ByteRing::bytes_needed(opts.ring_bytes);  // throws RingError on a bad size
  const std::size_t need = 2 * ByteRing::bytes_needed(opts.ring_bytes) + alloc::kHeaderBytes + 64 * 1024;
  if (opts.arena_bytes < need)
    throw PipeError("sk::Pipe: arena_bytes " + std::to_string(opts.arena_bytes) + " is too small for two rings of " +
                    std::to_string(opts.ring_bytes) + " bytes; give at least " + std::to_string(need));
}

}  // namespace

bool PipeMessage::raw() const noexcept { return (flags & PipeEnd::kFlagRaw) != 0; }

std::pair<std::shared_ptr<PipeEnd>, std::shared_ptr<PipeEnd>> PipeEnd::create(bool one_way,
                                                                               const PipeOptions& opts,
                                                                               std::string_view name) {
  check_options(opts);
  auto init = [&](Arena& a) { init_block(a, one_way, opts); };
  Arena a = name.empty() ? Arena::create_anonymous(opts.arena_bytes, pipe_layout(), init)
                         : Arena::create(name, opts.arena_bytes, pipe_layout(), init);
  return {std::make_shared<PipeEnd>(a, PipeRole::anchor), std::make_shared<PipeEnd>(a, PipeRole::point)};
}

std::shared_ptr<PipeEnd> PipeEnd::attach(std::string_view name, PipeRole role, bool one_way) {
  Arena a = [&] {
    try {
      return Arena::open(name, pipe_layout());
    } catch (const alloc::SegmentNotFound& e) {
      // The allocator's message names Arena::create; a Pipe user creates the
      // name with Pipe::pair_named, so say that instead.
      const std::string call = std::string("sk::Pipe::") + (one_way ? "attach_receiver" : "attach_point");
      const std::string quoted = "(\"" + std::string(name) + "\")";
      throw e.for_api(call + quoted, "sk::Pipe::pair_named" + quoted + (one_way ? " and sk::one_way" : ""));
    }
  }();
  auto end = std::make_shared<PipeEnd>(a, role);
  if (end->one_way() != one_way)
    throw PipeEndpointError("sk::Pipe: the pipe '" + std::string(name) + "' is " +
                            (end->one_way() ? "one-way" : "duplex") + "; attach it as " +
                            (end->one_way() ? "a one-way receiver (Pipe::attach_receiver)" : "a duplex point (Pipe::attach_point)"));
  return end;
}

void PipeEnd::unlink(std::string_view name) { Arena::unlink(name); }

PipeEnd::PipeEnd(Arena arena, PipeRole role) : arena_(std::move(arena)), role_(role) {
  const Offset root = arena_.root();
  // A misaligned root from a damaged header would be undefined behaviour
  // on first access (found by tests/fuzz/fuzz_segment_attach, UBSan).
  if (root == 0 || root % alignof(PipeBlock) != 0 || !arena_.view().contains(root, sizeof(PipeBlock)))
    throw PipeEndpointError("sk::Pipe: the segment '" + arena_.name() + "' holds no pipe");
  blk_ = arena_.ptr<PipeBlock>(root);
  if (blk_->magic != PipeBlock::kMagic || blk_->version != PipeBlock::kVersion)
    throw PipeEndpointError("sk::Pipe: the segment '" + arena_.name() + "' holds no pipe of this version");
  auto ring_at = [&](int d) -> ByteRing* {
    const Offset off = blk_->ring_off[d];
    if (off == 0) return nullptr;
    if (!arena_.view().contains(off, blk_->ring_mem_bytes))
      throw core::RingCorrupt("sk::Pipe: ring offset outside the arena; the segment is damaged");
    return ByteRing::attach(arena_.ptr<void>(off), blk_->ring_mem_bytes);
  };
  ByteRing* to_point = ring_at(0);
  ByteRing* to_anchor = ring_at(1);
  // The rings and limits must be ones this code can use. A damaged header
  // could leave a ring missing (null dereference on first use) or promise
  // inline messages larger than the ring takes (RingError from send, which
  // the API does not document). Found by tests/fuzz/fuzz_segment_attach
  // (pipe mode): neither was checked.
  const bool one_way = blk_->one_way != 0;
  if (to_point == nullptr || (!one_way && to_anchor == nullptr) || blk_->inline_max > to_point->max_message() ||
      (to_anchor != nullptr && blk_->inline_max > to_anchor->max_message()) || blk_->max_message > arena_.capacity())
    throw PipeEndpointError("sk::Pipe: the segment '" + arena_.name() +
                            "' holds a damaged pipe (missing ring or inconsistent limits); unlink it and create "
                            "the pipe again");
  // The creator's receive policy; a damaged value is the default (it only
  // changes how this end waits, never what it reads).
  if (blk_->receive_mode == static_cast<std::uint32_t>(ReceivePolicy::Mode::spin)) {
    policy_.mode = ReceivePolicy::Mode::spin;
    policy_.spin_for = std::chrono::nanoseconds(std::max<std::int64_t>(0, blk_->receive_spin_ns));
    policy_.anchor_cpu = std::max(-1, blk_->receive_cpu[0]);
    policy_.point_cpu = std::max(-1, blk_->receive_cpu[1]);
  }
  if (role_ == PipeRole::anchor) {
    out_ = to_point;
    in_ = to_anchor;
  } else {
    out_ = to_anchor;
    in_ = to_point;
  }
}

PipeEnd::~PipeEnd() { close(); }

void PipeEnd::claim() {
  const std::uint64_t self = alloc::self_owner().pack();
  if (claimed_as_ == self) return;
  std::uint64_t expected = 0;
  auto& word = blk_->owner[static_cast<int>(role_)];
  // SYNC POINT: acq_rel CAS; release publishes our claim (and the owner tags
  // below) to the peer's liveness checks, acquire sees an earlier claimer.
  if (word.compare_exchange_strong(expected, self, std::memory_order_acq_rel) || expected == self) {
    claimed_as_ = self;
    if (out_) out_->producer_tag().store(self, std::memory_order_release);
    if (in_) in_->consumer_tag().store(self, std::memory_order_release);
    return;
  }
  const bool alive = alloc::is_alive(OwnerId::unpack(expected));
  throw PipeEndpointError(std::string("sk::Pipe: this ") + role_name(role_) + " endpoint belongs to " +
                          pid_text(expected) + (alive ? "" : " (which has exited)") +
                          "; an endpoint is owned by the first process that uses it. Give each process "
                          "its own end of a Pipe::pair()");
}

void PipeEnd::give_peer_to(pid_t pid) {
  std::uint64_t owner = 0;
  try {
    // The child registered before fork() returned in it; a child that
    // exited before that gets an id that reads as dead (PeerClosed here).
    owner = alloc::owner_of_child(pid).pack();
  } catch (const alloc::OwnerRegistryError& e) {
    throw PipeEndpointError("sk::Pipe::give_peer_to(" + std::to_string(pid) + "): " + e.what() +
                            "; pass the pid of the process that uses the other end (fork's return value in the "
                            "parent)");
  }
  std::uint64_t expected = 0;
  auto& word = blk_->owner[peer()];
  // SYNC POINT: acq_rel CAS, as in claim(): the peer's own claim then finds
  // its id already there (expected == self) and proceeds; our liveness
  // checks read it with acquire.
  if (word.compare_exchange_strong(expected, owner, std::memory_order_acq_rel) || expected == owner) return;
  throw PipeEndpointError(std::string("sk::Pipe::give_peer_to(") + std::to_string(pid) + "): the " +
                          role_name(static_cast<PipeRole>(peer())) + " endpoint already belongs to " +
                          pid_text(expected) + "; give each process its own end of a Pipe::pair()");
}

void PipeEnd::check_open() const {
  if (closed_)
    throw PipeEndpointError(std::string("sk::Pipe: this ") + role_name(role_) +
                            " endpoint was closed in this process; it cannot be used again");
}

bool PipeEnd::peer_closed_flag() const noexcept {
  // SYNC POINT: acquire pairs with the release store in close(); everything
  // the peer published before closing is visible after this load.
  return blk_->closed[peer()].load(std::memory_order_acquire) != 0;
}

bool PipeEnd::peer_alive() const noexcept {
  if (peer_closed_flag()) return false;
  // SYNC POINT: acquire pairs with the claim CAS in claim().
  const std::uint64_t owner = blk_->owner[peer()].load(std::memory_order_acquire);
  // Not claimed yet: it will be used by the creator or by a process the
  // creator hands it to; while the creator lives, the peer may still come.
  return alloc::is_alive(OwnerId::unpack(owner != 0 ? owner : blk_->creator));
}

void PipeEnd::throw_peer_closed(const char* while_doing) const {
  // SYNC POINT: acquire pairs with the peer's release when it claimed its end
  // (the owner id is the message, for the text below).
  const std::uint64_t owner = blk_->owner[peer()].load(std::memory_order_acquire);
  std::string who = owner != 0 ? "the process (" + pid_text(owner) + ")"
                              : "no process (the creator, " + pid_text(blk_->creator) + ", exited)";
  throw PeerClosed(std::string("sk::Pipe: the peer ") + role_name(static_cast<PipeRole>(peer())) + " (owned by " + who +
                   ") " + (peer_closed_flag() ? "closed its endpoint" : "is dead") + " while this end was " +
                   while_doing + "; every message it committed before that was delivered. Stop using this pipe");
}

void PipeEnd::throw_too_large(std::size_t n) const {
  throw MessageTooLarge("sk::Pipe: a message of " + std::to_string(n) + " bytes exceeds this pipe's limit of " +
                            std::to_string(max_message()) + " bytes (its arena holds " +
                            std::to_string(arena_.capacity()) + " bytes); create the pair with a larger "
                            "PipeOptions::arena_bytes or split the payload",
                        n, max_message());
}

void PipeEnd::throw_arena_full(std::size_t n) const {
  const bool duplex = in_ != nullptr && out_ != in_;
  throw alloc::ArenaFull(
      "sk::Pipe: no block of " + std::to_string(n) + " bytes fits in this pipe's arena (" +
      std::to_string(arena_.capacity()) + " bytes, " + std::to_string(arena_.used()) +
      " in use, largest free block " + std::to_string(arena_.largest_free()) +
      " bytes) and no message this " + role_name(role_) + " sent is in flight, so no receiver will free any: " +
      "the memory is held by this end's unsent loans" +
      (duplex ? std::string(" or by ") + std::to_string(in_->unreleased_bytes()) +
                    " bytes of messages to this end that it has not received yet"
              : std::string()) +
      ". Send or drop the loans" + (duplex ? ", receive what is waiting" : "") +
      ", or create the pair with a larger PipeOptions::arena_bytes");
}

template <class Ready, class Wait>
bool PipeEnd::wait_loop(Ready&& ready, Wait&& wait, Deadline deadline, const char* while_doing) {
  for (bool waited = false;; waited = true) {
    if (ready()) return true;
    // The cheap flag first; the /proc liveness check only after a whole
    // slice passed without progress (keeps it off the hot path).
    if (peer_closed_flag() || (waited && !peer_alive())) {
      if (ready()) return true;  // committed before the peer went away
      throw_peer_closed(while_doing);
    }
    auto slice = std::chrono::nanoseconds(kLivenessSlice);
    if (deadline) {
      const auto now = Clock::now();
      if (now >= *deadline) return false;
      slice = std::min<std::chrono::nanoseconds>(slice, *deadline - now);
    }
    wait(slice);
  }
}

bool PipeEnd::push_record(std::span<const std::byte> bytes, std::uint32_t flags, Deadline deadline) {
  std::span<std::byte> room = reserve_record(bytes.size(), flags, deadline);
  if (room.data() == nullptr) return false;
  if (!bytes.empty()) std::memcpy(room.data(), bytes.data(), bytes.size());
  out_->commit(bytes.size());
  return true;
}

std::span<std::byte> PipeEnd::reserve_record(std::size_t n, std::uint32_t flags, Deadline deadline) {
  std::span<std::byte> room;
  auto ready = [&] { return (room = out_->try_reserve(n, flags)).data() != nullptr; };
  auto wait = [&](std::chrono::nanoseconds s) { (void)out_->wait_writable(n, s); };
  if (!wait_loop(ready, wait, deadline, "sending")) return {};
  return room;
}

std::span<std::byte> PipeEnd::begin_send(std::size_t n, std::uint32_t flags, Deadline deadline) {
  check_open();
  claim();
  abandon_send();
  if (peer_closed_flag()) throw_peer_closed("sending");
  if (n <= blk_->inline_max) {
    std::span<std::byte> room = reserve_record(n, flags & ~kFlagBlock, deadline);
    if (room.data() != nullptr) {
      pending_ = Pending::inline_record;
      pending_bytes_ = n;
    }
    return room;
  }
  const Offset off = allocate_block(n, deadline);
  if (off == 0) return {};
  pending_ = Pending::block;
  pending_block_ = off;
  pending_bytes_ = n;
  pending_flags_ = flags;
  return {block_data(off), n};
}

bool PipeEnd::commit_send(Deadline deadline) {
  switch (std::exchange(pending_, Pending::none)) {
    case Pending::inline_record:
      out_->commit(pending_bytes_);
      return true;
    case Pending::block: {
      const Offset off = std::exchange(pending_block_, 0);
      try {
        if (send_block(off, pending_bytes_, pending_flags_, deadline)) return true;
      } catch (...) {
        free_block(off, pending_bytes_);
        throw;
      }
      free_block(off, pending_bytes_);
      return false;
    }
    case Pending::none:
      break;
  }
  throw PipeEndpointError("sk::Pipe: commit_send without a successful begin_send");
}

void PipeEnd::abandon_send() noexcept {
  // An uncommitted ring reservation is simply overwritten by the next one.
  if (pending_ == Pending::block) free_block(pending_block_, pending_bytes_);
  pending_ = Pending::none;
  pending_block_ = 0;
}

bool PipeEnd::send_bytes(std::span<const std::byte> bytes, std::uint32_t flags, Deadline deadline) {
  std::span<std::byte> room = begin_send(bytes.size(), flags, deadline);
  if (room.data() == nullptr) return false;
  if (!bytes.empty()) std::memcpy(room.data(), bytes.data(), bytes.size());
  return commit_send(deadline);
}

alloc::Offset PipeEnd::try_allocate(std::size_t n) {
  try {
    return arena_.allocate(block_bytes(n), kBlockAlign);
  } catch (const alloc::ArenaFull&) {
    return 0;
  }
}

alloc::Offset PipeEnd::allocate_block(std::size_t n, Deadline deadline) {
  check_open();
  claim();
  if (n > max_message()) throw_too_large(n);
  Offset off = 0;
  auto got = [&] { return off != 0 || (off = try_allocate(n)) != 0; };
  auto ready = [&] {
    if (got()) return true;
    // SYNC POINT (via unreleased_bytes' acquire of head): the receiver frees
    // a block before it releases the ring record that carried it, so with
    // nothing of ours in flight every block we sent is back in the arena.
    if (out_->unreleased_bytes() != 0) return false;  // the receiver will free some: wait
    if (got()) return true;                           // it did, just now
    throw_arena_full(n);
  };
  // Every free of a message block notifies blk_->memory (free_block), so the
  // futex wait below wakes as soon as memory comes back; the wait loop's
  // slices still check the receiver's liveness (a dead receiver frees
  // nothing: PeerClosed, not a hang). The predicate must not throw (the
  // WaitPoint is noexcept): it only wakes us, ready() above decides.
  auto wait = [&](std::chrono::nanoseconds s) {
    (void)blk_->memory.wait_for([&]() noexcept { return got() || out_->unreleased_bytes() == 0; }, s);
  };
  if (!wait_loop(ready, wait, deadline, "waiting for arena memory (blocks in flight)")) return 0;
  return off;
}

void PipeEnd::free_block(alloc::Offset off, std::size_t n) noexcept {
  arena_.deallocate(off, block_bytes(n), kBlockAlign);
  // After the free (the WaitPoint's fence orders it before the waiter check).
  blk_->memory.notify_all();
}

bool PipeEnd::send_block(alloc::Offset off, std::size_t n, std::uint32_t flags, Deadline deadline) {
  check_open();
  claim();
  if (peer_closed_flag()) throw_peer_closed("sending");
  const BlockRef ref{off, n};
  // SYNC POINT: the block's bytes are published by the ring's release of
  // tail in commit() (same thread wrote them before push_record).
  return push_record(std::as_bytes(std::span(&ref, 1)), flags | kFlagBlock, deadline);
}

void PipeEnd::set_receive_policy(const ReceivePolicy& p) {
  check_policy(p);
  policy_ = p;
  pinned_ = false;
}

void PipeEnd::apply_pin() {
  pinned_ = true;
  const int cpu = role_ == PipeRole::anchor ? policy_.anchor_cpu : policy_.point_cpu;
  if (policy_.mode != ReceivePolicy::Mode::spin || cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= CPU_SETSIZE || (CPU_SET(cpu, &set), sched_setaffinity(0, sizeof set, &set) != 0)) {
    const int err = errno;
    throw PipeError(std::string("sk::Pipe: cannot pin the thread that receives on the ") + role_name(role_) +
                    " to CPU " + std::to_string(cpu) + " (ReceivePolicy): " + std::strerror(err) +
                    "; give a CPU this process may run on (see taskset -p) or -1 for no pinning");
  }
}

template <class Ready>
bool PipeEnd::spin_wait(Ready&& ready, std::chrono::nanoseconds slice) {
  const auto end = Clock::now() + slice;
  for (;;) {
    // Pause only: no yield, no syscall. The clock is read once per 64 polls.
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      core::cpu_relax();
    }
    if (Clock::now() >= end) return false;
  }
}

std::optional<PipeMessage> PipeEnd::receive(Deadline deadline) {
  check_open();
  if (holding_)
    throw PipeEndpointError("sk::Pipe: a view from recv_view() is still open on this endpoint; release or "
                            "destroy it before receiving the next message");
  claim();
  std::uint32_t flags = 0;
  std::span<const std::byte> rec;
  auto ready = [&] { return (rec = in_->try_peek(&flags)).data() != nullptr; };
  const bool spin = policy_.mode == ReceivePolicy::Mode::spin;
  if (spin && !pinned_) apply_pin();
  std::optional<Clock::time_point> spin_end;  // this call's spin budget (spin mode)
  auto wait = [&](std::chrono::nanoseconds s) {
    if (spin) {
      const auto now = Clock::now();
      if (!spin_end)
        spin_end = policy_.spin_for == std::chrono::nanoseconds::max() ? Clock::time_point::max()
                                                                        : now + policy_.spin_for;
      if (now < *spin_end) {
        // Whole slices (or what is left of the budget): between them
        // wait_loop checks the peer, so an endless spin still sees its death.
        if (spin_wait(ready, std::min<std::chrono::nanoseconds>(s, *spin_end - now))) return;
        if (Clock::now() < *spin_end) return;
      }
    }
    (void)in_->wait_readable(s);
  };
  if (!wait_loop(ready, wait, deadline, "receiving")) return std::nullopt;
  PipeMessage m;
  m.flags = flags;
  if ((flags & kFlagBlock) == 0) {
    m.bytes = rec;
  } else {
    BlockRef ref{};
    if (rec.size() != sizeof ref) throw core::RingCorrupt("sk::Pipe: a block message has a bad size; the peer is broken");
    std::memcpy(&ref, rec.data(), sizeof ref);
    if (ref.offset == 0 || ref.bytes > max_message() || !arena_.view().contains(ref.offset, ref.bytes == 0 ? 1 : ref.bytes))
      throw core::RingCorrupt("sk::Pipe: a block message points outside the arena (offset " + std::to_string(ref.offset) +
                              ", " + std::to_string(ref.bytes) + " bytes); the peer is broken");
    // consume() frees the block: a reference that overlaps the pipe's own
    // control block or rings would hand them to the next allocation, and the
    // sender would write a message over them. (Found by
    // tests/fuzz/fuzz_pipe_decode: a garbage reference to the PipeBlock got
    // it freed and overwritten; the sender then read a garbage inline_max.)
    const std::uint64_t freed = alloc::blocks::block_size(block_bytes(static_cast<std::size_t>(ref.bytes)), kBlockAlign);
    auto overlaps = [&](const void* obj, std::uint64_t n) {
      const Offset at = arena_.offset_of(obj);
      return obj != nullptr && ref.offset < at + n && at < ref.offset + freed;
    };
    if (overlaps(blk_, sizeof(PipeBlock)) || overlaps(in_, blk_->ring_mem_bytes) || overlaps(out_, blk_->ring_mem_bytes))
      throw core::RingCorrupt("sk::Pipe: a block message (offset " + std::to_string(ref.offset) + ", " +
                              std::to_string(ref.bytes) + " bytes) overlaps the pipe's control block or rings; "
                              "the peer is broken");
    m.block = ref.offset;
    m.block_bytes = static_cast<std::size_t>(ref.bytes);
    m.bytes = {block_data(ref.offset), m.block_bytes};
  }
  holding_ = true;
  return m;
}

void PipeEnd::consume(const PipeMessage& m) noexcept {
  if (m.block != 0) free_block(m.block, m.block_bytes);
  in_->release();
  holding_ = false;
}

void PipeEnd::close() noexcept {
  if (closed_) return;
  closed_ = true;
  if (claimed_as_ == 0 || claimed_as_ != alloc::self_owner().pack()) return;  // never used here
  // SYNC POINT: release pairs with peer_closed_flag()'s acquire; all we
  // published before closing stays receivable.
  blk_->closed[static_cast<int>(role_)].store(1, std::memory_order_release);
  if (out_) out_->close_producer();
  if (in_) in_->close_consumer();
}

}  // namespace sk::ipc
