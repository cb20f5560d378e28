#pragma once
// The shared-memory arena: one mapped segment (anonymous, inherited by fork,
// or named in /dev/shm) with a validated header and a lock-free, process-safe
// block allocator. Everything inside is addressed by Offset (bytes from the
// arena base), never by pointer, because each process maps the segment at its
// own address.
//
//   auto a = sk::alloc::Arena::create("jobs", 1 << 20, {hash, "Jobs{...}"},
//                                     [](sk::alloc::Arena& a) { a.set_root(a.create_object<Jobs>()); });
//   auto b = sk::alloc::Arena::open("jobs", {hash, "Jobs{...}"});   // another process
//   Jobs* j = b.ptr<Jobs>(b.root());
//
// Arena is a process-local handle (copy = refcount bump); ArenaView is a
// non-owning view made from the base address alone (what objects living inside
// the arena use to find it again: ArenaView::of(this, my_offset)).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sk/alloc/errors.hpp>
#include <sk/alloc/owner.hpp>

namespace sk::alloc {

using Offset = std::uint64_t;  // byte offset from the arena base; 0 = null
inline constexpr Offset kNullOffset = 0;

// What a segment holds. `hash` identifies the layout of every shared struct in
// it (0 = unchecked); `description` is the human-readable form, shown in
// LayoutMismatch messages (stored truncated to 511 bytes).
struct Layout {
  std::uint64_t hash = 0;
  std::string description;
};

class ConstructionScope;

// Non-owning view of an arena mapped in this process. Cheap to copy (one
// pointer). Valid while some Arena handle keeps the mapping alive.
class ArenaView {
 public:
  ArenaView() = default;
  explicit ArenaView(std::byte* base) noexcept : base_(base) {}
  // The view of the arena that contains `object_inside`, which lives at
  // `object_offset` in it (base = object - offset).
  static ArenaView of(const void* object_inside, Offset object_offset) noexcept {
    return ArenaView(const_cast<std::byte*>(static_cast<const std::byte*>(object_inside)) - object_offset);
  }

  explicit operator bool() const noexcept { return base_ != nullptr; }
  std::byte* base() const noexcept { return base_; }
  std::size_t capacity() const noexcept;  // total segment bytes, header included
  std::size_t used() const noexcept;      // bytes handed out (block sizes) and not given back
  // Bytes of the largest block allocate() can hand out now (a run of free
  // pages, fresh or freed). Walks the page map: O(pages), for reports.
  std::size_t largest_free() const noexcept;
  std::string_view name() const noexcept;  // "" when anonymous

  // The object at `off` (branch-free, so it never trips -Wnull-dereference):
  // `off` must be a real offset, not 0 (ptr(0) is the header). For offsets
  // that may be null use ptr_or_null().
  template <class T>
  T* ptr(Offset off) const noexcept {
    return reinterpret_cast<T*>(base_ + off);
  }
  template <class T>
  T* ptr_or_null(Offset off) const noexcept {
    return off == kNullOffset ? nullptr : reinterpret_cast<T*>(base_ + off);
  }
  Offset offset_of(const void* p) const noexcept {
    return p == nullptr ? kNullOffset : static_cast<Offset>(static_cast<const std::byte*>(p) - base_);
  }
  // True if [off, off + bytes) lies inside the allocatable part of the arena.
  bool contains(Offset off, std::size_t bytes = 1) const noexcept;

  // Lock-free; safe from any thread of any process that maps the arena.
  // `align` must be a power of two <= 4096. Throws ArenaFull when no block
  // fits, ArenaError on a bad `align`.
  Offset allocate(std::size_t bytes, std::size_t align = 16);
  // `bytes` (and `align`) as given to allocate(). Offset 0 is a no-op; an
  // offset that is not a block of this arena is ignored.
  void deallocate(Offset off, std::size_t bytes, std::size_t align = 16) noexcept;

  // One well-known object per arena (0 until set).
  Offset root() const noexcept;
  void set_root(Offset off) noexcept;
  // Sets the root only if it still equals `expected` (updated on failure).
  bool compare_exchange_root(Offset& expected, Offset desired) noexcept;

  // allocate + placement new of T inside a ConstructionScope on this arena
  // (so T's constructor can call constructing_arena()). Frees the block if
  // the constructor throws.
  template <class T, class... Args>
  Offset create_object(Args&&... args);
  // ~T() + deallocate.
  template <class T>
  void destroy_object(Offset off) noexcept;

  friend bool operator==(ArenaView, ArenaView) = default;

 private:
  std::byte* base_ = nullptr;
};

namespace detail {
struct Mapping;  // process-local: base, fd, attach slot; unmapped with the last Arena
}
struct detail_access;

// Process-local handle to a mapped arena; copyable (refcounted mapping). The
// mapping goes when the last handle in this process goes; named segments stay
// in /dev/shm until Arena::unlink (or the stale-segment sweep).
class Arena {
 public:
  using InitFn = std::function<void(Arena&)>;  // runs before the arena is marked ready

  Arena() = default;

  // MAP_SHARED|MAP_ANONYMOUS: shared with children forked after this call.
  static Arena create_anonymous(std::size_t capacity, Layout layout = {}, InitFn init = {});
  // /dev/shm/sk-<uid>-<name>, created O_EXCL|O_NOFOLLOW, mode 0600, space
  // reserved with posix_fallocate (a full /dev/shm is a SegmentError now, not
  // a SIGBUS later). Runs sweep_stale_segments() first. A segment of that name
  // whose attachers are all dead is replaced; one in use is a SegmentError.
  // If `init` throws, the segment is removed and the exception propagates.
  static Arena create(std::string_view name, std::size_t capacity, Layout layout = {}, InitFn init = {});
  // Opens an existing named segment, validates it (owner, mode, magic,
  // version, size, layout) and waits up to `init_timeout` for its creator to
  // finish initializing it. BadSegment if the creator died during init.
  static Arena open(std::string_view name, Layout layout = {},
                    std::chrono::milliseconds init_timeout = std::chrono::seconds(5));
  // Removes the name; existing mappings stay valid. No error if absent.
  static void unlink(std::string_view name);
  // True if a segment file of that name exists (says nothing about validity).
  static bool exists(std::string_view name);
  // "/dev/shm/sk-<uid>-<name>" (validates the name).
  static std::string path_for(std::string_view name);

  explicit operator bool() const noexcept { return view_.base() != nullptr; }
  std::byte* base() const noexcept { return view_.base(); }
  std::size_t capacity() const noexcept { return view_.capacity(); }
  std::size_t used() const noexcept { return view_.used(); }
  std::size_t largest_free() const noexcept { return view_.largest_free(); }
  const std::string& name() const noexcept;  // "" when anonymous

  template <class T>
  T* ptr(Offset off) const noexcept {  // off != 0; see ArenaView::ptr
    return view_.ptr<T>(off);
  }
  template <class T>
  T* ptr_or_null(Offset off) const noexcept {
    return view_.ptr_or_null<T>(off);
  }
  Offset offset_of(const void* p) const noexcept { return view_.offset_of(p); }
  Offset allocate(std::size_t bytes, std::size_t align = 16) { return view_.allocate(bytes, align); }
  void deallocate(Offset off, std::size_t bytes, std::size_t align = 16) noexcept {
    view_.deallocate(off, bytes, align);
  }
  Offset root() const noexcept { return view_.root(); }
  void set_root(Offset off) noexcept { view_.set_root(off); }
  template <class T, class... Args>
  Offset create_object(Args&&... args) {
    return view_.create_object<T>(std::forward<Args>(args)...);
  }
  template <class T>
  void destroy_object(Offset off) noexcept {
    view_.destroy_object<T>(off);
  }
  ArenaView view() const noexcept { return view_; }

  // Owners currently registered in the segment's attach table (named only).
  std::vector<OwnerId> attached() const;
  // The process that created the segment.
  OwnerId creator() const noexcept;

 private:
  std::shared_ptr<detail::Mapping> map_;
  ArenaView view_;

  friend struct detail_access;
};

// While a ConstructionScope lives on this thread, objects constructed inside
// the arena (e.g. the slots of a Share's state struct, built by placement new)
// can find their arena and record their own offset:
//   auto* a = constructing_arena(); self_ = a->offset_of(this);
// Scopes nest; the innermost wins.
class ConstructionScope {
 public:
  explicit ConstructionScope(ArenaView arena) noexcept;
  ~ConstructionScope();
  ConstructionScope(const ConstructionScope&) = delete;
  ConstructionScope& operator=(const ConstructionScope&) = delete;

 private:
  ArenaView arena_;
  const ArenaView* previous_;
};
const ArenaView* constructing_arena() noexcept;  // nullptr outside a scope

// Removes this user's /dev/shm/sk-<uid>-* segments that nobody uses any more:
// every attached owner and the creator are dead (or the creator died before
// finishing init). Never removes a segment that a live process maps. Returns
// the number removed. Defined in sweep.cpp (see sk/alloc/sweep.hpp).
std::size_t sweep_stale_segments();

// ---- template definitions ---------------------------------------------------

template <class T, class... Args>
Offset ArenaView::create_object(Args&&... args) {
  const Offset off = allocate(sizeof(T), alignof(T) < 16 ? 16 : alignof(T));
  try {
    ConstructionScope scope(*this);
    ::new (static_cast<void*>(base_ + off)) T(std::forward<Args>(args)...);
  } catch (...) {
    deallocate(off, sizeof(T), alignof(T) < 16 ? 16 : alignof(T));
    throw;
  }
  return off;
}

template <class T>
void ArenaView::destroy_object(Offset off) noexcept {
  if (off == kNullOffset) return;
  ptr<T>(off)->~T();
  deallocate(off, sizeof(T), alignof(T) < 16 ? 16 : alignof(T));
}

}  // namespace sk::alloc
