#pragma once
// sk::Object<T>: any Serializable T (strings, containers, nested user types),
// stored serialized (sk::ser payload) in an arena block.
//
//   struct State { sk::Object<std::map<std::string, int>> votes; };
//   share->votes.update([](auto& m) { ++m["yes"]; });         // atomic RMW
//   auto m = share->votes.load();                               // snapshot copy
//   share->votes.visit([](const auto& m) { print(m); });
//
// Layout: a two-copy seqlock (sk::core::Seqlock) holding the committed block
// reference {offset, bytes}, plus a small ring of retired blocks.
//
// Writers (store / update) take the seqlock's write lock (a CAS recording
// their pid), decode the committed value, apply fn, encode the result into a
// NEW block, and publish its {offset, bytes} with the seqlock's single
// release CAS. Committed blocks are never written again, so a writer
// SIGKILLed at any instruction leaves the last committed value intact: the
// next writer spins a bounded time, parks in 2 ms slices, sees the holder
// dead (sk::alloc::is_alive) and aborts the dead write (the seqlock never
// publishes it). The dead writer's new block (if it got that far) leaks: at
// most one block per killed writer. An Object is never poisoned.
//
// Readers never block writers: they read the reference through the seqlock,
// copy the block with relaxed atomic 64-bit loads, and accept the copy only
// if no commit happened since they read the reference (version moved by < 2),
// else retry. After 64 failed attempts (writers committing faster than one
// copy) a reader takes the write lock for one read, so a read always ends.
//
// Reclamation: a replaced block is not freed at once. The writer that
// replaced it puts it in an 8-entry ring (one atomic word per entry) and
// frees the entry it evicts, so a block is freed only after about 8 further
// writes. A reader that still copies a freed block (it was descheduled for 8
// writes) reads mapped arena memory with atomic loads and then sees the
// version moved, so it discards the bytes; even bytes accepted by mistake go
// through the bounds-checked decoder (DecodeError, never a crash).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/core/backoff.hpp>
#include <sk/core/fence.hpp>
#include <sk/core/seqlock.hpp>
#include <sk/ipc/serialize.hpp>
#include <sk/share_errors.hpp>
#include <sk/slots/arena_block.hpp>
#include <sk/slots/format.hpp>
#include <sk/slots/value.hpp>

namespace sk {

namespace slots {
// Reference to a committed block; offset 0 = no block (the value is T{}).
struct BlockRef {
  std::uint64_t off = 0;
  std::uint64_t bytes = 0;  // payload bytes (the block is block_bytes(bytes))
};
static_assert(std::is_trivially_copyable_v<BlockRef> && sizeof(BlockRef) == 16);
}  // namespace slots

template <class T>
class Object {
  static_assert(ser::Serializable<T>,
                "sk::Object<T>: T cannot be serialized by sk::ser. For your own struct add SK_FIELDS(member, ...) "
                "inside its body, listing every field (standard containers, strings, optional, variant and "
                "trivially copyable types need nothing); see docs/serialization.md");

 public:
  static constexpr std::string_view kind = "Object";
  // Folded into the Share layout hash: T's SK_FIELDS signature (see sk::Value).
  static constexpr std::uint64_t layout_hash() noexcept { return ser::detail::FieldsAccess::signature<T>(); }
  using value_type = T;
  static constexpr std::size_t kRetired = 8;
  static constexpr int kOptimisticReads = 64;

  // The value starts as T{} (no block until the first write).
  Object() : self_(slots::construction_offset(this, "Object")) {}
  explicit Object(const T& initial) : Object() {
    std::vector<std::byte> bytes;
    ser::encode_payload(initial, bytes);
    ref_.store(slots::BlockRef{write_block(bytes), bytes.size()}, slots::self_tag());
  }
  ~Object() {
    // Runs only when the Share that owns the state is destroyed (no users left).
    const slots::BlockRef r = ref_.load();
    if (r.off != 0) arena().deallocate(r.off, slots::block_bytes(r.bytes), slots::kBlockAlign);
    for (auto& e : retired_) free_packed(e.exchange(0, std::memory_order_relaxed));
  }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  // A snapshot of the committed value. Throws DecodeError only if the arena
  // memory was corrupted by something else.
  // const: `share->m.load().push_back(x)` would change a copy, so it does not compile (use update(fn)).
  const T load() const {
    std::vector<std::byte> buf;
    if (!read_committed(buf)) return T{};
    return ser::decode_payload<T>(buf);
  }
  operator T() const { return load(); }  // NOLINT: reads like the plain variable

  void store(const T& v) {
    write_with([&](T& cur) { cur = v; }, /*need_current=*/false);
  }
  Object& operator=(const T& v) {
    store(v);
    return *this;
  }

  // Atomic read-modify-write against every other writer of this Object (any
  // process). fn(T&) gets the committed value; its result (if any) is
  // returned. If fn throws, nothing is published.
  template <class Fn>
  decltype(auto) update(Fn&& fn) {
    using R = std::remove_cvref_t<std::invoke_result_t<Fn&, T&>>;  // a copy: the value dies here
    if constexpr (std::is_void_v<R>) {
      write_with([&](T& cur) { fn(cur); }, true);
    } else {
      std::optional<R> result;
      write_with([&](T& cur) { result.emplace(fn(cur)); }, true);
      return R(std::move(*result));
    }
  }

  // fn(const T&) on a snapshot; returns fn's result.
  template <class Fn>
  decltype(auto) visit(Fn&& fn) const {
    const T v = load();
    return std::forward<Fn>(fn)(v);
  }

  // +2 per committed write, +4 per aborted one (see sk::core::Seqlock).
  std::uint64_t version() const noexcept { return ref_.version(); }
  // Compact owner id (sk::alloc::OwnerId::compact()) of the process writing
  // right now, 0 if none.
  std::uint32_t writer() const noexcept { return ref_.holder(); }
  // Serialized size of the committed value in bytes.
  std::size_t encoded_size() const noexcept { return static_cast<std::size_t>(ref_.load().bytes); }

  std::string describe_value() const { return slots::format_value(load()); }

 private:
  alloc::ArenaView arena() const noexcept { return alloc::ArenaView::of(this, self_); }

  // Copies the committed payload into buf; false if there is no block (T{}).
  bool read_committed(std::vector<std::byte>& buf) const {
    core::Backoff backoff;
    for (int attempt = 0; attempt < kOptimisticReads; ++attempt) {
      const std::uint64_t ticket = ref_.read_begin();
      slots::BlockRef r;
      ref_.read_copy(ticket, r);
      if (!ref_.read_valid(ticket)) {
        backoff.pause();
        continue;
      }
      if (r.off == 0) return false;
      copy_block(r, buf);
      // SYNC POINT: acquire fence orders the block's word loads before the
      // version re-read. A block is freed only after the commit that
      // replaced it (and ~8 more retirements), so "no commit since" proves it
      // was not freed before the re-read; with the fence, words stored into
      // the block after its reuse (ordered after the replacing commit by the
      // allocator's release/acquire free list) make the re-read see that
      // commit. Without it a copy of a recycled block could be accepted.
      core::fence(std::memory_order_acquire);
      const auto v0 = static_cast<std::uint32_t>(ticket) & ~std::uint32_t{1};
      const auto now = static_cast<std::uint32_t>(ref_.version());
      if (static_cast<std::uint32_t>(now - v0) < 2u) return true;  // no commit since we read the reference
      backoff.pause();
    }
    // Writers keep overtaking us: read once under the write lock (the guard
    // aborts on destruction, which publishes nothing).
    auto w = ref_.begin_write(slots::self_tag(), &slots::tag_owner_dead);
    const slots::BlockRef r = w.committed();
    if (r.off == 0) return false;
    copy_block(r, buf);
    return true;
  }

  void copy_block(const slots::BlockRef& r, std::vector<std::byte>& buf) const {
    alloc::ArenaView a = arena();
    if (!a.contains(r.off, slots::block_bytes(r.bytes)))
      throw SlotPoisoned("sk::Object<" + std::string(ser::type_name<T>()) + ">: committed block reference (offset " +
                         std::to_string(r.off) + ", " + std::to_string(r.bytes) +
                         " bytes) lies outside the arena; the shared memory was overwritten by something else");
    buf.resize(static_cast<std::size_t>(r.bytes));
    slots::load_words(a.base() + r.off, buf.size(), buf.data());
  }

  alloc::Offset write_block(std::span<const std::byte> bytes) {
    if (bytes.size() > (std::uint64_t{1} << 35))
      throw SerializationError("sk::Object<" + std::string(ser::type_name<T>()) + ">: value encodes to " +
                               std::to_string(bytes.size()) + " bytes, more than the 32 GiB a slot block can hold");
    alloc::ArenaView a = arena();
    const alloc::Offset off = a.allocate(slots::block_bytes(bytes.size()), slots::kBlockAlign);
    slots::store_words(a.base() + off, bytes);
    return off;
  }

  template <class Apply>
  void write_with(Apply&& apply, bool need_current) {
    auto w = ref_.begin_write(slots::self_tag(), &slots::tag_owner_dead);
    const slots::BlockRef cur = w.committed();
    T value{};
    if (need_current && cur.off != 0) {
      std::vector<std::byte> buf;
      copy_block(cur, buf);  // stable: only a commit (which needs our lock) replaces it
      value = ser::decode_payload<T>(buf);
    }
    apply(value);  // may throw: the guard aborts, nothing is published
    std::vector<std::byte> bytes;
    ser::encode_payload(value, bytes);
    const alloc::Offset off = write_block(bytes);
    w.write(slots::BlockRef{off, bytes.size()});
    if (!w.commit()) {
      arena().deallocate(off, slots::block_bytes(bytes.size()), slots::kBlockAlign);
      throw SlotPoisoned("sk::Object<" + std::string(ser::type_name<T>()) +
                         ">: another writer took over the write lock, judging this process dead; the value was "
                         "not published");
    }
    if (cur.off != 0) retire(cur);
  }

  // Packs a block into one word: offset / 16 (32 bits) | block words (32 bits).
  static std::uint64_t pack(const slots::BlockRef& r) noexcept {
    return (r.off / slots::kBlockAlign) | (std::uint64_t{slots::block_bytes(r.bytes) / 8} << 32);
  }
  void free_packed(std::uint64_t e) noexcept {
    if (e == 0) return;
    arena().deallocate((e & 0xFFFFFFFFu) * slots::kBlockAlign, (e >> 32) * 8, slots::kBlockAlign);
  }
  void retire(const slots::BlockRef& r) noexcept {
    const std::uint64_t at = retire_count_.fetch_add(1, std::memory_order_relaxed);
    // SYNC POINT: acq_rel exchange: every entry is handed to exactly one
    // evictor, which frees it (no double free); a writer killed between the
    // two atomics only leaks the block.
    free_packed(retired_[at % kRetired].exchange(pack(r), std::memory_order_acq_rel));
  }

  alloc::Offset self_;
  mutable core::Seqlock<slots::BlockRef> ref_;  // mutable: a starved reader takes the write lock
  std::atomic<std::uint64_t> retire_count_{0};
  std::atomic<std::uint64_t> retired_[kRetired]{};
};

}  // namespace sk
