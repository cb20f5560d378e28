#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdio>
#include <new>
#include <random>
#include <unordered_map>
#include <utility>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/owner.hpp>
#include <sk/core/backoff.hpp>
#include <sk/core/cacheline.hpp>
#include <sk/core/sample_ring.hpp>
#include <sk/slots/timer.hpp>

namespace sk {

// ---- shared layout -----------------------------------------------------------
//
//   Block  | Buffer 0 | samples 0 | Buffer 1 | samples 1 | ...
//
// Every field is an atomic word; no pointers. A Buffer is written by its owner
// process only (threads of that process take turns through `writer`). Its
// samples are a sk::core::SampleRing (ring head inside the Buffer, the
// `capacity` slots right after it): word 0 is the order stamp, word 1 the
// seconds (double bits). Readers take the newest `window` samples of every
// buffer, each buffer validated by the ring's reader.
struct SharedTimer::Block {
  static constexpr std::uint64_t kMagic = 0x736b74696d657231ull;  // "sktimer1"
  std::uint64_t magic;
  std::uint32_t max_procs;
  std::uint32_t capacity;
  std::uint64_t stride;  // bytes from one Buffer to the next
  std::atomic<std::uint64_t> window;
};

struct alignas(core::kFalseSharingRange) SharedTimer::Buffer {
  std::atomic<std::uint64_t> owner{0};   // OwnerId::pack() of the process writing here; 0 = free
  std::atomic<std::uint32_t> writer{0};  // tid of the thread writing now (owner's threads only)
  core::SampleRingHead ring;             // begin / count of the samples after this Buffer
  std::atomic<std::uint64_t> reset_from{0};  // samples below this index were reset (any process writes it)
};

namespace {

// A sample: word 0 = order stamp (stamp() below, monotonic within a buffer),
// word 1 = the seconds, as double bits.
using Slot = core::SampleSlot<2>;
static_assert(sizeof(Slot) == 16);

constexpr const char* kName = "SharedTimer";

// The ring of a Buffer: its head is in the Buffer, its slots follow it.
// (Templates, so that the private Block and Buffer types are deduced.)
template <class Blk, class Buf>
core::SampleRingWriter<2> writer_of(const Blk* blk, Buf& b) noexcept {
  return {b.ring, reinterpret_cast<Slot*>(reinterpret_cast<std::byte*>(&b) + sizeof(Buf)), blk->capacity};
}
template <class Blk, class Buf>
core::SampleRingReader<2> reader_of(const Blk* blk, const Buf& b) noexcept {
  return {b.ring, reinterpret_cast<const Slot*>(reinterpret_cast<const std::byte*>(&b) + sizeof(Buf)),
          blk->capacity};
}

// An ordering stamp, not a measurement: it only decides which samples are the
// most recent when buffers are merged. The CPU's invariant counter is one
// instruction (a clock_gettime costs 4-8x more on virtualised machines) and
// is synchronised across cores on the machines Linux runs its clock on.
std::int64_t stamp() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return static_cast<std::int64_t>(__builtin_ia32_rdtsc() >> 1);
#elif defined(__aarch64__)
  std::uint64_t v;
  asm volatile("mrs %0, cntvct_el0" : "=r"(v));
  return static_cast<std::int64_t>(v >> 1);
#else
  return std::chrono::steady_clock::now().time_since_epoch().count();
#endif
}

std::uint32_t this_tid() noexcept {
  thread_local const auto tid = static_cast<std::uint32_t>(::syscall(SYS_gettid));
  return tid;
}

std::uint64_t round_up(std::uint64_t n, std::uint64_t a) { return (n + a - 1) / a * a; }

// This thread's open frames, per SharedTimer (by id); dropped after fork so a
// child never closes a frame its parent opened.
timer_detail::FrameStack& frames_of(std::uint64_t id) {
  thread_local std::uint64_t owner = 0;
  thread_local std::unordered_map<std::uint64_t, timer_detail::FrameStack> frames;
  const std::uint64_t me = alloc::self_owner().pack();  // a forked child has a new owner id
  if (owner != me) {
    frames.clear();
    owner = me;
  }
  return frames[id];
}

// One merged read: every valid sample newer than the last reset, oldest first,
// at most `window` of them.
struct Stamped {
  std::int64_t ts;
  double v;
};

}  // namespace

// ---- construction ---------------------------------------------------------------
SharedTimer::SharedTimer(std::size_t max_times, std::size_t max_processes)
    : block_rel_(0), block_bytes_(0), self_offset_(0), block_offset_(0), id_(0) {
  if (max_times == 0 || max_times > 0xffff'ffffu || max_processes == 0 || max_processes > 0xffff'ffffu) {
    throw TimerArgumentError("SharedTimer(max_times = " + std::to_string(max_times) +
                             ", max_processes = " + std::to_string(max_processes) +
                             "): both must be between 1 and 4294967295");
  }
  const std::uint64_t stride =
      round_up(sizeof(Buffer) + max_times * sizeof(Slot), core::kFalseSharingRange);
  const std::uint64_t head = round_up(sizeof(Block), core::kFalseSharingRange);
  block_bytes_ = head + stride * max_processes;

  std::byte* mem = nullptr;
  const alloc::ArenaView* scope = alloc::constructing_arena();
  if (scope && scope->contains(scope->offset_of(this), sizeof(SharedTimer))) {
    alloc::ArenaView a = *scope;  // a copy: allocate() is not const
    self_offset_ = a.offset_of(this);
    block_offset_ = a.allocate(block_bytes_, core::kFalseSharingRange);  // throws ArenaFull
    mem = a.ptr<std::byte>(block_offset_);
  } else {
    void* p = ::mmap(nullptr, block_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      throw TimerError("SharedTimer: mmap of " + std::to_string(block_bytes_) +
                       " bytes failed; lower max_times or max_processes");
    }
    mem = static_cast<std::byte*>(p);
  }
  block_rel_ = mem - reinterpret_cast<std::byte*>(this);
  id_ = (std::uint64_t{std::random_device{}()} << 32) ^ std::random_device{}() ^ reinterpret_cast<std::uintptr_t>(this);

  ::new (mem) Block{Block::kMagic, static_cast<std::uint32_t>(max_processes),
                              static_cast<std::uint32_t>(max_times), stride, {max_times}};
  for (std::size_t i = 0; i < max_processes; ++i) {
    std::byte* bm = mem + head + i * stride;
    ::new (bm) Buffer();
    auto* slots = reinterpret_cast<Slot*>(bm + sizeof(Buffer));
    for (std::size_t k = 0; k < max_times; ++k) ::new (slots + k) Slot{{0, 0}};
  }
  // SYNC POINT: the block is published to other processes by whatever
  // publishes this slot (the arena's ready flag / fork); nothing to do here.
}

SharedTimer::~SharedTimer() {
  std::byte* mem = reinterpret_cast<std::byte*>(block());
  if (self_offset_ != 0) {
    alloc::ArenaView::of(this, self_offset_).deallocate(block_offset_, block_bytes_, core::kFalseSharingRange);
  } else {
    ::munmap(mem, block_bytes_);
  }
}

SharedTimer::Block* SharedTimer::block() const noexcept {
  return reinterpret_cast<Block*>(const_cast<std::byte*>(reinterpret_cast<const std::byte*>(this)) + block_rel_);
}

SharedTimer::Buffer* SharedTimer::buffer_at(Block* blk, std::size_t i) noexcept {
  const std::uint64_t head = round_up(sizeof(Block), core::kFalseSharingRange);
  return reinterpret_cast<Buffer*>(reinterpret_cast<std::byte*>(blk) + head + i * blk->stride);
}

std::size_t SharedTimer::capacity() const noexcept { return block()->capacity; }
std::size_t SharedTimer::max_processes() const noexcept { return block()->max_procs; }
std::size_t SharedTimer::max_times() const noexcept {
  return static_cast<std::size_t>(block()->window.load(std::memory_order_relaxed));
}

// ---- the caller's buffer -------------------------------------------------------
SharedTimer::Buffer& SharedTimer::my_buffer() {
  Block* blk = block();
  const alloc::OwnerId self = alloc::self_owner();
  const std::uint64_t me = self.pack();
  // Fast path: the buffer this thread used last time for this block, if this
  // process still owns it.
  struct Cache {
    const Block* blk = nullptr;
    std::uint64_t me = 0;
    Buffer* buf = nullptr;
  };
  thread_local Cache cache;
  // SYNC POINT: acquire pairs with the claim CAS (acq_rel) in find_buffer():
  // still ours, so the ring state we published last is what we build on.
  if (cache.blk == blk && cache.me == me && cache.buf->owner.load(std::memory_order_acquire) == me) return *cache.buf;
  Buffer& b = find_buffer(blk, self);
  cache = Cache{blk, me, &b};
  return b;
}

SharedTimer::Buffer& SharedTimer::find_buffer(Block* blk, alloc::OwnerId self) {
  const std::uint64_t me = self.pack();
  const std::uint32_t n = blk->max_procs;
  const std::uint32_t first = static_cast<std::uint32_t>((std::uint64_t{self.slot} * 0x9E3779B1u) % n);
  // SYNC POINT (all owner loads/CAS below): acquire on owner pairs with the
  // acq_rel claim: a process that sees a buffer as its own, or takes over a
  // dead owner's buffer, sees the ring state the previous owner published.
  for (std::uint32_t k = 0; k < n; ++k) {
    Buffer* b = buffer_at(blk, (first + k) % n);
    if (b->owner.load(std::memory_order_acquire) == me) return *b;
  }
  for (std::uint32_t k = 0; k < n; ++k) {
    Buffer* b = buffer_at(blk, (first + k) % n);
    std::uint64_t expected = 0;
    // SYNC POINT: acq_rel claim of a free buffer: acquire sees the ring a
    // released (reset) buffer was left with; release publishes our claim
    // before our first sample. Without acquire we could restart at a stale count.
    if (b->owner.load(std::memory_order_relaxed) == 0 &&
        b->owner.compare_exchange_strong(expected, me, std::memory_order_acq_rel)) {
      return *b;
    }
  }
  for (std::uint32_t k = 0; k < n; ++k) {
    Buffer* b = buffer_at(blk, (first + k) % n);
    // SYNC POINT: acquire load and acq_rel takeover of a dead owner's buffer:
    // we continue its ring at the count it last published (its committed
    // samples stay readable). Without acquire we could overwrite committed
    // samples from a stale count.
    std::uint64_t o = b->owner.load(std::memory_order_acquire);
    if (o != 0 && o != me && !alloc::is_alive(alloc::OwnerId::unpack(o)) &&
        b->owner.compare_exchange_strong(o, me, std::memory_order_acq_rel)) {
      // The dead owner may have died inside a write: its writer word is stale.
      // Its committed samples (count) stay; an uncommitted one is overwritten.
      // SYNC POINT: release, as record()'s unlock: our threads' CAS acquires it.
      b->writer.store(0, std::memory_order_release);
      return *b;
    }
  }
  throw TimerError("SharedTimer: all " + std::to_string(n) +
                   " process buffers are held by live processes, so this process cannot record; "
                   "construct the timer with a larger max_processes (sk::SharedTimer{max_times, max_processes})");
}

void SharedTimer::record(double seconds) {
  Block* blk = block();
  Buffer& b = my_buffer();
  const std::uint32_t tid = this_tid();
  core::Backoff backoff;
  for (;;) {
    std::uint32_t expected = 0;
    // SYNC POINT: acquire pairs with the release store of 0 below: the next
    // thread of this process to write sees the previous one's ring writes.
    if (b.writer.compare_exchange_weak(expected, tid, std::memory_order_acquire, std::memory_order_relaxed)) break;
    backoff.pause();  // only threads of our own process hold it, each for a few stores
  }
  core::SampleRingWriter<2> ring = writer_of(blk, b);
  const auto prev = static_cast<std::int64_t>(ring.newest_word(0));
  const std::int64_t ts = std::max(stamp(), prev);  // monotonic within the buffer
  ring.push({static_cast<std::uint64_t>(ts), std::bit_cast<std::uint64_t>(seconds)});
  // SYNC POINT: pairs with the acquire CAS above (next writer thread).
  b.writer.store(0, std::memory_order_release);
}

// ---- recording --------------------------------------------------------------------
void SharedTimer::add_time(double seconds) {
  timer_detail::check_time(seconds);
  record(seconds);
}

void SharedTimer::reset() {
  // Each buffer forgets the samples committed so far: readers start at
  // reset_from. Writers are not involved; a sample committed concurrently is
  // either before (forgotten) or after (kept) the count read here.
  Block* blk = block();
  for (std::uint32_t i = 0; i < blk->max_procs; ++i) {
    Buffer* b = buffer_at(blk, i);
    // SYNC POINT: acquire on count (committed()) and release on reset_from:
    // a reader that sees this reset_from also sees the samples below it as
    // committed, so it never reads below reset_from past the ring's count.
    const std::uint64_t c = reader_of(blk, *b).committed();
    std::uint64_t cur = b->reset_from.load(std::memory_order_relaxed);
    while (cur < c && !b->reset_from.compare_exchange_weak(cur, c, std::memory_order_release)) {
    }
  }
  frames_of(id_) = {};
}

void SharedTimer::set_max_times(std::optional<std::size_t> n) {
  Block* blk = block();
  if (n && (*n == 0 || *n > blk->capacity)) {
    throw TimerArgumentError("SharedTimer::set_max_times(" + std::to_string(*n) + "): must be between 1 and " +
                             std::to_string(blk->capacity) +
                             " (the capacity it was built with; construct sk::SharedTimer{n} for more)");
  }
  blk->window.store(n.value_or(blk->capacity), std::memory_order_relaxed);
}

// ---- frames -------------------------------------------------------------------------
double SharedTimer::start() { return frames_of(id_).start(); }
double SharedTimer::stop() {
  const auto c = frames_of(id_).stop(kName);
  record(c.elapsed);
  return c.elapsed;
}
double SharedTimer::lap() {
  const auto c = frames_of(id_).lap(kName);
  record(c.elapsed);
  return c.elapsed;
}
void SharedTimer::discard() { frames_of(id_).discard(kName); }
void SharedTimer::pause() { frames_of(id_).pause(kName); }
void SharedTimer::resume() { frames_of(id_).resume(kName); }
bool SharedTimer::running() const { return frames_of(id_).running(); }

// ---- reading ----------------------------------------------------------------------------
std::vector<double> SharedTimer::times() const {
  Block* blk = block();
  const std::uint64_t cap = blk->capacity;
  const std::uint64_t window = std::min<std::uint64_t>(blk->window.load(std::memory_order_relaxed), cap);
  std::vector<Stamped> all;
  for (std::uint32_t i = 0; i < blk->max_procs; ++i) {
    Buffer* b = buffer_at(blk, i);
    const core::SampleRingReader<2> ring = reader_of(blk, *b);
    const std::uint64_t c1 = ring.committed();
    // SYNC POINT: acquire pairs with reset()'s release of reset_from (which
    // it wrote after reading count >= reset_from), so lo <= committed samples.
    std::uint64_t lo = std::max(c1 > window ? c1 - window : 0, b->reset_from.load(std::memory_order_acquire));
    ring.read(lo, c1, [&](std::uint64_t, const core::Sample<2>& smp) {
      all.push_back({static_cast<std::int64_t>(smp[0]), std::bit_cast<double>(smp[1])});
    });
  }
  std::stable_sort(all.begin(), all.end(), [](const Stamped& a, const Stamped& b) { return a.ts < b.ts; });
  const std::size_t skip = all.size() > window ? all.size() - window : 0;
  std::vector<double> v;
  v.reserve(all.size() - skip);
  for (std::size_t i = skip; i < all.size(); ++i) v.push_back(all[i].v);
  return v;
}

TimerStats SharedTimer::stats() const { return TimerStats::from(times(), 0.0); }

Sktimer SharedTimer::to_sktimer() const {
  Sktimer t(max_times());
  for (double x : times()) t.add_time(x);
  return t;
}

std::size_t SharedTimer::num_times() const { return times().size(); }
std::optional<double> SharedTimer::most_recent() const { return timer_detail::get_time(times(), -1); }
std::optional<double> SharedTimer::total_time() const { return timer_detail::sum(times()); }
std::optional<double> SharedTimer::mean() const { return timer_detail::mean(times()); }
std::optional<double> SharedTimer::median() const { return timer_detail::median(times()); }
std::optional<double> SharedTimer::min() const { return stats().min; }
std::optional<double> SharedTimer::max() const { return stats().max; }
std::optional<double> SharedTimer::stdev() const { return timer_detail::stdev(times()); }
std::optional<double> SharedTimer::variance() const { return timer_detail::variance(times()); }
std::optional<double> SharedTimer::percentile(double p) const { return timer_detail::percentile(times(), p); }
std::optional<double> SharedTimer::get_time(long i) const { return timer_detail::get_time(times(), i); }

std::string SharedTimer::describe_value() const {
  const TimerStats s = stats();
  char buf[160];
  if (s.num_times == 0) {
    std::snprintf(buf, sizeof buf, "no times (window %zu)", max_times());
  } else {
    std::snprintf(buf, sizeof buf, "%zu times, mean %gs, min %gs, max %gs", s.num_times, *s.mean, *s.min, *s.max);
  }
  return buf;
}

}  // namespace sk
