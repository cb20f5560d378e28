// Arena handles: create / open / unlink of segments, header validation, the
// attach table, ArenaView accessors and the construction scope.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <optional>
#include <thread>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/block_allocator.hpp>
#include <sk/alloc/page_heap.hpp>
#include <sk/alloc/header.hpp>
#include <sk/alloc/segment.hpp>
#include <sk/alloc/sweep.hpp>
#include <sk/core/backoff.hpp>

namespace sk::alloc {

namespace detail {

// One mapping in this process. Named mappings keep their descriptor (and its
// flock) open and occupy one attach-table slot until the last handle goes.
struct Mapping {
  Segment seg;
  std::string name;
  int slot = -1;            // attach-table slot we claimed, -1 = none
  std::uint64_t slot_value = 0;  // what we wrote there (our packed OwnerId)

  ~Mapping() {
    // A forked child that inherited this handle holds no slot of its own:
    // only the process that claimed the slot clears it.
    if (slot >= 0 && seg.base() && registered_owner() == slot_value) {
      std::uint64_t expected = slot_value;
      // SYNC POINT: release orders our last uses of the segment before the
      // slot reads as free to the sweep (which then may remove the name).
      header_of(seg.base())->attach[slot].compare_exchange_strong(expected, 0, std::memory_order_release,
                                                                  std::memory_order_relaxed);
    }
  }
};

}  // namespace detail

namespace {

thread_local const ArenaView* t_constructing = nullptr;

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string quoted_layout(const char* desc, std::uint64_t hash) {
  return "'" + std::string(desc) + "' (hash " + hex(hash) + ")";
}

std::size_t round_capacity(std::size_t capacity) {
  if (capacity > kMaxCapacity)
    throw ArenaError("arena capacity " + std::to_string(capacity) + " bytes is above the limit of " +
                     std::to_string(kMaxCapacity) + " bytes (64 GiB); use several arenas or a smaller capacity");
  if (capacity < kMinCapacity) capacity = kMinCapacity;
  return (capacity + kPageBytes - 1) / kPageBytes * kPageBytes;
}

// Claims an attach-table slot for `me`: a free one, else one whose owner is dead.
int claim_slot(SegmentHeader& h, std::uint64_t me) {
  for (std::size_t i = 0; i < kAttachSlots; ++i) {
    std::uint64_t expected = 0;
    // SYNC POINT: acq_rel: the slot is the sweep's evidence that we use the
    // segment; it must be visible no later than our first use (which follows).
    if (h.attach[i].compare_exchange_strong(expected, me, std::memory_order_acq_rel, std::memory_order_relaxed))
      return static_cast<int>(i);
  }
  for (std::size_t i = 0; i < kAttachSlots; ++i) {
    std::uint64_t v = h.attach[i].load(std::memory_order_relaxed);
    // SYNC POINT: acq_rel as above: taking a dead owner's slot makes it our
    // evidence of use for the sweep before our first use of the segment.
    if (v != 0 && !is_alive(OwnerId::unpack(v)) &&
        h.attach[i].compare_exchange_strong(v, me, std::memory_order_acq_rel, std::memory_order_relaxed))
      return static_cast<int>(i);
  }
  return -1;  // table full of live owners: still usable, the flock protects it from the sweep
}

// Writes the header of a fresh segment (state: initializing).
void write_header(std::byte* base, std::size_t capacity, std::string_view name, const Layout& layout) {
  auto* h = ::new (static_cast<void*>(base)) SegmentHeader{};
  h->version = kFormatVersion;
  h->header_bytes = static_cast<std::uint32_t>(kHeaderBytes);
  h->capacity = capacity;
  h->layout_hash = layout.hash;
  h->creator = self_owner().pack();
  h->data_start = kHeaderBytes;
  std::memcpy(h->name, name.data(), std::min(name.size(), kNameBytes - 1));
  std::string desc = layout.description;
  if (desc.size() > kLayoutDescBytes - 1) desc = desc.substr(0, kLayoutDescBytes - 4) + "...";
  std::memcpy(h->layout_desc, desc.data(), desc.size());
  blocks::init_allocator(*h);
  h->init_state.store(static_cast<std::uint32_t>(InitState::initializing), std::memory_order_relaxed);
  // SYNC POINT: release publishes every identity field above before the
  // magic that tells readers "this is a suitkaise header".
  h->magic.store(kSegmentMagic, std::memory_order_release);
}

void mark(SegmentHeader& h, InitState s) noexcept {
  // SYNC POINT: release publishes everything the creator (and InitFn) wrote
  // into the arena before openers see `ready`; they load it with acquire.
  h.init_state.store(static_cast<std::uint32_t>(s), std::memory_order_release);
  // Openers poll the state with short sleeps (they may not have mapped the
  // segment yet), so h.init_wait is reserved and not notified here.
}

void sleep_step(int& step) {
  std::this_thread::sleep_for(std::min<std::chrono::microseconds>(core::kPollNap * (1 << std::min(step, 6)),
                                                                std::chrono::milliseconds(10)));
  ++step;
}

}  // namespace

// ---- Arena: construction ------------------------------------------------------

struct detail_access {
  static Arena make(std::shared_ptr<detail::Mapping> m) {
    Arena a;
    a.view_ = ArenaView(m->seg.base());
    a.map_ = std::move(m);
    return a;
  }
};

namespace {

// Wraps a mapped, header-written segment into a handle, runs `init`, marks
// the arena ready (or failed, removing a named segment, and rethrows).
Arena finish(std::shared_ptr<detail::Mapping> m, Arena::InitFn& init) {
  SegmentHeader& h = *header_of(m->seg.base());
  Arena a = detail_access::make(m);
  if (init) {
    try {
      init(a);
    } catch (...) {
      mark(h, InitState::failed);
      if (!m->name.empty() && m->seg.still_linked()) ::unlink(m->seg.path().c_str());
      throw;
    }
  }
  mark(h, InitState::ready);
  if (!m->name.empty()) m->seg.downgrade_lock();  // let openers in
  return a;
}

}  // namespace

Arena Arena::create_anonymous(std::size_t capacity, Layout layout, InitFn init) {
  const std::size_t cap = round_capacity(capacity);
  register_self();  // owner words in this arena name us: be checkable before the first one
  auto m = std::make_shared<detail::Mapping>();
  m->seg = Segment::map_anonymous(cap);
  write_header(m->seg.base(), cap, "", layout);
  return finish(std::move(m), init);
}

Arena Arena::create(std::string_view name, std::size_t capacity, Layout layout, InitFn init) {
  const std::string path = segment_path(name);
  const std::size_t cap = round_capacity(capacity);
  register_self();
  sweep_stale_segments();
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::optional<Segment> seg = Segment::create_file(path, cap);
    if (!seg) {
      // (Up to 200 ms for a concurrent sweeper that is looking at it.)
      const SegmentStatus st = check_segment(path, /*remove_if_stale=*/true, std::chrono::milliseconds(200));
      switch (st.verdict) {
        case SegmentVerdict::gone:
        case SegmentVerdict::stale:
          continue;  // removed (by us or someone else): try again
        case SegmentVerdict::in_use:
          throw SegmentError("shared segment '" + std::string(name) + "' (" + path + ") already exists and is in use" +
                             (st.live_pid ? " by pid " + std::to_string(st.live_pid) : std::string()) +
                             "; open it with Arena::open, or choose another name");
        case SegmentVerdict::young:
          throw SegmentError("shared segment '" + std::string(name) + "' (" + path +
                             ") is being created by another process right now; open it with Arena::open, "
                             "or choose another name");
        case SegmentVerdict::foreign:
          throw SegmentError("cannot create shared segment '" + std::string(name) + "': " + path +
                             " already exists and " + st.why + "; remove it yourself or choose another name");
      }
    }
    // (Created under its name at once, without O_TMPFILE:) a sweeper may
    // have removed the name between our open and our lock (it saw an empty,
    // unlocked file). Then this file is nobody's: start over.
    if (seg->published() && !seg->still_linked()) continue;
    auto m = std::make_shared<detail::Mapping>();
    m->seg = std::move(*seg);
    m->name = std::string(name);
    write_header(m->seg.base(), cap, name, layout);
    m->slot_value = self_owner().pack();
    m->slot = claim_slot(*header_of(m->seg.base()), m->slot_value);
    // The name appears only now, with the header written and our exclusive
    // lock held: openers see "initializing" and wait; a creator killed
    // before this line leaves no file at all (see Segment::create_file).
    if (!m->seg.publish()) continue;  // the name was taken meanwhile: drop ours, look at theirs
    return finish(std::move(m), init);
  }
  throw SegmentError("could not create shared segment '" + std::string(name) + "' (" + path +
                     "): another process keeps re-creating it; choose another name");
}

Arena Arena::open(std::string_view name, Layout layout, std::chrono::milliseconds init_timeout) {
  const std::string path = segment_path(name);
  register_self();
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + init_timeout;
  const auto waited_ms = [&] {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count());
  };
  const std::string who = "shared segment '" + std::string(name) + "' (" + path + ")";
  int step = 0;
  OwnerId waited_for{};  // the creator we saw initializing it, if any
  for (;;) {
    std::optional<Segment> opened;
    try {
      opened.emplace(Segment::open_file(path));  // checks type, owner, mode; throws if absent
    } catch (const BadSegment&) {
      throw;
    } catch (const SegmentError&) {
      // It vanished while we waited for its initialization: the sweep (or
      // the creator's failure path) removed it.
      if (!waited_for.empty())
        throw BadSegment(who + ": its creator (" + describe_owner(waited_for) + ") " +
                         (is_alive(waited_for) ? "gave up" : "died during initialization") +
                         " and the segment was removed while we waited; create it again");
      throw;
    }
    Segment& seg = *opened;
    // The creator holds the lock exclusively until the segment is ready.
    const bool locked = seg.try_lock_shared();
    const bool late = std::chrono::steady_clock::now() >= deadline;

    unsigned char raw[sizeof(SegmentHeader)];
    const HeaderSnapshot h = decode_header(raw, seg.read_at(raw, sizeof raw, 0));
    const std::size_t size = seg.file_size();
    const OwnerId creator = OwnerId::unpack(h.creator);

    if (h.bytes == 0 || h.magic == 0) {
      if (!locked && !late) {  // its creator is between creating the file and writing the header
        sleep_step(step);
        continue;
      }
      if (size == 0 || h.magic == 0)
        throw BadSegment(who + " has no header: " +
                         (locked ? std::string("its creator died before initializing it (or it is an empty file)")
                                 : "it was not initialized within " + waited_ms() + " ms") +
                         "; remove it with sk::alloc::Arena::unlink(\"" + std::string(name) +
                         "\") or sk::alloc::sweep_stale_segments()");
    }
    if (h.magic != kSegmentMagic)
      throw BadSegment(who + " is not a suitkaise segment (magic " + hex(h.magic) + ", expected " +
                       hex(kSegmentMagic) + "); another program uses this name: choose another name");
    if (h.version != kFormatVersion)
      throw BadSegment(who + " has format version " + std::to_string(h.version) + ", this build reads version " +
                       std::to_string(kFormatVersion) +
                       "; it was made by another suitkaise release: use the same build on both sides, "
                       "or unlink it and create it again");
    if (!h.complete() || size < kHeaderBytes)
      throw BadSegment(who + " is truncated: the file has " + std::to_string(size) + " bytes but the header alone needs " +
                       std::to_string(kHeaderBytes) + "; unlink it and create it again");
    if (layout.hash != 0 && h.layout_hash != layout.hash)
      throw LayoutMismatch(who + " holds layout " + quoted_layout(h.layout_desc, h.layout_hash) +
                           ", but this program expects layout " +
                           quoted_layout(layout.description.c_str(), layout.hash) +
                           ": the shared types differ (rebuild both programs from the same code) or the name "
                           "is reused by another program (choose another name)");

    const auto state = static_cast<InitState>(h.init_state);
    if (state == InitState::failed)
      throw BadSegment(who + ": its creator (" + describe_owner(creator) +
                       ") failed to initialize it; create it again");
    if (state == InitState::initializing) {
      if (locked || !is_alive(creator))
        throw BadSegment(who + ": its creator (" + describe_owner(creator) +
                         ") died during initialization; remove it with sk::alloc::Arena::unlink(\"" +
                         std::string(name) + "\") or sk::alloc::sweep_stale_segments() and create it again");
      waited_for = creator;
      if (late)
        throw SegmentError(who + " is still being initialized by " + describe_owner(creator) + " after " +
                           waited_ms() + " ms; pass a longer init_timeout to Arena::open");
      sleep_step(step);
      continue;
    }
    if (state != InitState::ready)
      throw BadSegment(who + " has an unknown init state " + std::to_string(h.init_state) + "; it is corrupt");
    if (!locked) {  // ready but exclusively locked: a sweeper looking at it; retry shortly
      if (late) throw SegmentError(who + " stayed locked for " + waited_ms() + " ms; try again");
      sleep_step(step);
      continue;
    }
    if (size < h.capacity)
      throw BadSegment(who + " is truncated: the file has " + std::to_string(size) +
                       " bytes but its header records a capacity of " + std::to_string(h.capacity) +
                       "; unlink it and create it again");
    // create() rounds every capacity to whole pages; one that is not (fuzz:
    // a patched capacity cut the last small-block page in half) is damage.
    if (h.capacity > kMaxCapacity || h.capacity < kMinCapacity || h.capacity % kPageBytes != 0)
      throw BadSegment(who + " records an impossible capacity " + std::to_string(h.capacity) +
                       " (not a whole number of " + std::to_string(kPageBytes) + "-byte pages in [" +
                       std::to_string(kMinCapacity) + ", " + std::to_string(kMaxCapacity) +
                       "]); it is corrupt: unlink it and create it again");
    if (!seg.still_linked()) {  // unlinked or replaced after we opened it
      if (late) throw SegmentError(who + " was removed while we opened it; create it again");
      continue;
    }
    seg.map(h.capacity);
    SegmentHeader& mh = *header_of(seg.base());
    // SYNC POINT: acquire pairs with mark(ready)'s release in the creator:
    // everything its InitFn wrote is visible to us from here on.
    (void)mh.init_state.load(std::memory_order_acquire);
    // The allocatable range starts at data_start: a value other than the
    // header size this build writes would let offsets reach into the header
    // (or past the capacity). Found by tests/fuzz/fuzz_segment_attach: it was
    // not checked, and a patched data_start made contains() and allocate()
    // disagree about what lies inside the arena.
    if (mh.header_bytes != kHeaderBytes || mh.data_start != kHeaderBytes)
      throw BadSegment(who + " has a corrupt header (header size " + std::to_string(mh.header_bytes) +
                       ", data start " + std::to_string(mh.data_start) + ", expected " +
                       std::to_string(kHeaderBytes) + "); unlink it and create it again");
    // Every allocator word must lie inside what we mapped before anything
    // follows it (issue #14: a capacity below the allocated mark or a root
    // past the data crashed the opener with SIGSEGV).
    const std::uint64_t bump = mh.bump.load(std::memory_order_relaxed);
    const std::uint64_t used = mh.used.load(std::memory_order_relaxed);
    const std::uint64_t root = mh.root.load(std::memory_order_relaxed);
    const auto corrupt = [&](const std::string& what) {
      return BadSegment(who + " has a corrupt header: " + what + " (capacity " + std::to_string(h.capacity) +
                        "); it was damaged or written by something else: unlink it and create it again");
    };
    if (mh.capacity != h.capacity) throw corrupt("its capacity changed while it was opened");
    const pages::Geometry geo = pages::geometry(h.capacity);
    if (bump < geo.first_page * kPageBytes || bump > geo.limit_page * kPageBytes || bump % kPageBytes != 0)
      throw corrupt("the allocation mark " + std::to_string(bump) + " is outside [" +
                    std::to_string(geo.first_page * kPageBytes) + ", " + std::to_string(geo.limit_page * kPageBytes) +
                    "] or not a multiple of the page size " + std::to_string(kPageBytes));
    if (used > h.capacity) throw corrupt("the used byte count " + std::to_string(used) + " exceeds the capacity");
    if (root != kNullOffset && (root < kHeaderBytes || root >= geo.limit_page * kPageBytes || root % kMinBlock != 0))
      throw corrupt("the root offset " + std::to_string(root) + " is not inside the data pages [" +
                    std::to_string(kHeaderBytes) + ", " + std::to_string(geo.limit_page * kPageBytes) +
                    ") or is misaligned");
    // Pages from the allocation mark up to the small-block pages are fresh:
    // no block was ever handed out there, so a live root cannot lie in them.
    // A mark patched below the root (HeaderCorruption, bump = 4096) would
    // hand the root's own pages out again, and the slots' words inside them
    // be overwritten by the next allocation.
    const std::uint64_t small_top = __atomic_load_n(&mh.heap.small_top, __ATOMIC_RELAXED);
    if (root != kNullOffset && root >= bump && root < small_top * kPageBytes)
      throw corrupt("the root offset " + std::to_string(root) + " lies in fresh pages [" + std::to_string(bump) +
                    ", " + std::to_string(small_top * kPageBytes) + ") above the allocation mark");
    auto m = std::make_shared<detail::Mapping>();
    m->seg = std::move(seg);
    m->name = std::string(name);
    m->slot_value = self_owner().pack();
    m->slot = claim_slot(mh, m->slot_value);
    return detail_access::make(std::move(m));
  }
}

void Arena::unlink(std::string_view name) {
  const std::string path = segment_path(name);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw SegmentError("cannot remove shared segment " + path + ": " + std::strerror(errno));
}

bool Arena::exists(std::string_view name) { return ::access(segment_path(name).c_str(), F_OK) == 0; }

std::string Arena::path_for(std::string_view name) { return segment_path(name); }

const std::string& Arena::name() const noexcept {
  static const std::string empty;
  return map_ ? map_->name : empty;
}

std::vector<OwnerId> Arena::attached() const {
  std::vector<OwnerId> out;
  if (!map_) return out;
  for (const auto& s : header_of(base())->attach) {
    if (const std::uint64_t v = s.load(std::memory_order_relaxed)) out.push_back(OwnerId::unpack(v));
  }
  return out;
}

OwnerId Arena::creator() const noexcept {
  return map_ ? OwnerId::unpack(header_of(base())->creator) : OwnerId{};
}

// ---- ArenaView ----------------------------------------------------------------

std::size_t ArenaView::capacity() const noexcept { return base_ ? header_of(base_)->capacity : 0; }

std::size_t ArenaView::used() const noexcept {
  return base_ ? header_of(base_)->used.load(std::memory_order_relaxed) : 0;
}

std::string_view ArenaView::name() const noexcept {
  if (!base_) return {};
  const char* n = header_of(base_)->name;
  return {n, ::strnlen(n, kNameBytes)};
}

bool ArenaView::contains(Offset off, std::size_t bytes) const noexcept {
  if (!base_) return false;
  const SegmentHeader& h = *header_of(base_);
  return off >= h.data_start && off + bytes >= off && off + bytes <= pages::geometry(h.capacity).limit_page * kPageBytes;
}

std::size_t ArenaView::largest_free() const noexcept {
  return base_ ? pages::stats(*header_of(base_), base_).largest_free * kPageBytes : 0;
}

Offset ArenaView::allocate(std::size_t bytes, std::size_t align) {
  if (!base_) throw ArenaError("allocate on an empty arena handle; create or open an Arena first");
  return blocks::allocate(base_, bytes, align);
}

void ArenaView::deallocate(Offset off, std::size_t bytes, std::size_t align) noexcept {
  blocks::deallocate(base_, off, bytes, align);
}

Offset ArenaView::root() const noexcept {
  // SYNC POINT: acquire pairs with set_root's release: the root object's
  // contents are visible once its offset is.
  return base_ ? header_of(base_)->root.load(std::memory_order_acquire) : 0;
}

void ArenaView::set_root(Offset off) noexcept {
  // SYNC POINT: release publishes the root object's construction (above).
  if (base_) header_of(base_)->root.store(off, std::memory_order_release);
}

bool ArenaView::compare_exchange_root(Offset& expected, Offset desired) noexcept {
  if (!base_) return false;
  // SYNC POINT: acq_rel: publishes our object on success, acquires theirs on failure.
  return header_of(base_)->root.compare_exchange_strong(expected, desired, std::memory_order_acq_rel,
                                                        std::memory_order_acquire);
}

// ---- construction scope ---------------------------------------------------------

ConstructionScope::ConstructionScope(ArenaView arena) noexcept : arena_(arena), previous_(t_constructing) {
  t_constructing = &arena_;
}

ConstructionScope::~ConstructionScope() { t_constructing = previous_; }

const ArenaView* constructing_arena() noexcept { return t_constructing; }

}  // namespace sk::alloc
