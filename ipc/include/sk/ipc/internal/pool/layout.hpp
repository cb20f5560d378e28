#pragma once
// The whole shared layout of one Pool run: one flat MAP_SHARED anonymous
// mapping, created by the parent before it forks the workers (fork mode: one
// per call; persistent mode: one per Pool). Nothing in it is a pointer.
// Internal to the Pool runtime (ipc/src/pool); not part of the public API.
//
//   [RunHeader][Slot x n_slots][Chunk x n_chunks][log: LogEntry x log_cap x n_slots]
//   [offsets: u64 x n (serialized results)][resume: ItemResume x n (pool.map<W>)]
//   [result array][bytes x n_slots][job area]
//
// Who writes what:
// - RunHeader: the parent (geometry before the workers see the run; state,
//   job_seq, sweep_epoch); workers only touch idle, push_epoch and the
//   WaitPoints.
// - Slot: one per worker process, spares for replacements. The worker owning
//   it writes everything but `tag` (the parent's, before the fork).
// - Chunk: items are claimed in chunks of RunHeader::chunk_size consecutive
//   indices. A chunk word is {owner tag, done}: a CAS from {0, d} to
//   {tag, d} claims the items from d on; the owner then stores {tag, d+1}
//   (release) after each item it finished, so at any instant items
//   [0, done) of the chunk have their result or error record complete. Only
//   the parent ever clears the owner, after it reaped the owning process
//   (the kernel tells it, through waitpid, that its child is dead): then it
//   keeps what was done and re-offers the rest.
// - log (per slot, append-only, published by a release store of
//   Slot::log_count): `threw` entries name one item and its error record;
//   `chunk` entries say that the chunk's items from `from` to its end are done
//   (every one not named by a `threw` entry has its result).
// - offsets: for results that are serialized, (slot << 48 | offset) of the
//   item's [u64 length][bytes] in that slot's byte buffer.
// - resume (pool.map<W> runs): where an item continues after the worker
//   running its lifecycle died: the collector writes it before it re-offers
//   the item, and the chunk word's release store publishes it.
// - result array: trivially copyable results, at their index.
// - bytes: per slot bump buffer for serialized results and error records.
// - job area (persistent mode): the callable and the items of the job in
//   flight (job.hpp).
// The mapping is reserved with MAP_NORESERVE: only touched pages cost memory.
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <type_traits>

#include <sk/core/cacheline.hpp>
#include <sk/core/error.hpp>
#include <sk/core/futex.hpp>
#include <sk/ipc/lifecycle_state.hpp>
#include <sk/ipc/internal/pool/ranges.hpp>

namespace sk::ipc::pool {

inline constexpr std::uint64_t kRunMagic = 0x736b2d706f6f6c32ull;  // "sk-pool2"

enum RunState : std::uint32_t { kIdle = 0, kRunning = 1, kFinished = 2, kCancelled = 3, kShutdown = 4 };
enum LogKind : std::uint32_t { kChunkDone = 0, kThrew = 1 };
enum RunFlags : std::uint32_t {
  kNotifyEach = 1,  // wake the parent at every published chunk (imap, progress)
  kTimed = 2,       // per-item timeout: workers record the item they run and since when
  kSerialized = 4,  // results go to the byte buffers (offsets), not the result array
  kLifecycle = 8,   // items are Skprocess lifecycles (pool.map<W>): hook deadlines, lives, resume
};
enum SlotFlags : std::uint32_t { kSlotRetired = 1 };

inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

struct LogEntry {
  std::uint32_t index;   // kChunkDone: the chunk; kThrew: the item
  std::uint32_t kind;    // LogKind
  std::uint64_t offset;  // kChunkDone: first item of the chunk it covers (relative); kThrew: error record
};
static_assert(sizeof(LogEntry) == 16 && std::is_trivially_copyable_v<LogEntry>);

// A chunk word: owner tag in the high half (0 = nobody), items done in the low.
struct ChunkWord {
  std::uint32_t owner = 0;
  std::uint32_t done = 0;
  constexpr std::uint64_t pack() const noexcept { return (std::uint64_t{owner} << 32) | done; }
  static constexpr ChunkWord unpack(std::uint64_t w) noexcept {
    return ChunkWord{static_cast<std::uint32_t>(w >> 32), static_cast<std::uint32_t>(w)};
  }
};

// Owner tags name a slot and the incarnation of the worker in it, never a
// pid: (generation << 16) | (slot + 1). Generations start at 1, so 0 is "none".
inline constexpr std::uint32_t make_tag(std::uint32_t slot, std::uint32_t generation) noexcept {
  return (generation << 16) | ((slot + 1) & 0xffffu);
}
inline constexpr std::uint32_t tag_slot(std::uint32_t tag) noexcept { return (tag & 0xffffu) - 1; }

// Where a pool.map<W> item continues after the worker running it died
// (lifecycle.hpp's after_death decides; the collector records it here).
struct ItemResume {
  enum Mode : std::uint8_t { kFresh = 0, kRestart = 1, kErrorOnly = 2 };
  std::uint8_t mode;          // Mode
  std::uint8_t failure_kind;  // kErrorOnly: FailureInfo::Kind of what error() receives
  std::uint8_t hook;          // kErrorOnly: its HookId
  std::uint8_t pad;
  std::uint32_t lives_left;   // kRestart: lives the next attempt has
  std::uint64_t run;          // the run index to continue at / that failed
  std::int64_t start_ns;      // join_in keeps counting from the first start
  std::int32_t signal;        // kErrorOnly, a crash: the fatal signal
  std::int32_t exit_code;     // kErrorOnly, a crash without a signal
  std::int64_t limit_ms;      // kErrorOnly, a timeout: the hook's limit
};
static_assert(sizeof(ItemResume) == 40 && std::is_trivially_copyable_v<ItemResume>);

struct alignas(sk::core::kFalseSharingRange) RunHeader {
  // ---- written by the parent before workers see the run (fork, or job_seq) ----
  std::uint64_t magic;
  std::uint32_t n_items;
  std::uint32_t n_slots;
  std::uint32_t n_chunks;
  std::uint32_t chunk_size;
  std::uint32_t result_size;     // bytes per trivially copyable result
  std::uint32_t flags;           // RunFlags
  std::uint64_t capacity_items;  // what the mapping was laid out for
  std::uint64_t log_capacity;    // entries per slot log
  std::uint64_t buf_capacity;    // bytes per slot buffer
  std::uint64_t job_capacity;    // bytes of the job area (persistent mode)
  std::uint64_t off_slots, off_chunks, off_logs, off_offsets, off_resume, off_results, off_bufs, off_job;
  std::uint32_t job_kind;        // persistent mode: index into the worker-side job table
  std::uint32_t job_pad;
  // ---- run state: the parent writes state/job_seq/sweep_epoch, workers the rest ----
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint32_t> state;  // RunState
  std::atomic<std::uint32_t> job_seq;       // bumps when a new job is published (persistent)
  std::atomic<std::uint32_t> sweep_epoch;   // bumps after the parent re-offered a dead worker's items
  std::atomic<std::uint32_t> push_epoch;    // bumps when an owner offers a split range
  std::atomic<std::uint32_t> idle;          // workers that found no work
  std::atomic<std::uint32_t> pad0;
  sk::core::WaitPoint work_wp;              // workers park here
  alignas(sk::core::kFalseSharingRange) sk::core::WaitPoint done_wp;  // the parent parks here
};
static_assert(std::is_standard_layout_v<RunHeader>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

struct alignas(sk::core::kFalseSharingRange) Slot {
  // ---- the parent, before forking the slot's worker ----
  std::atomic<std::uint32_t> tag;         // owner tag of the worker now in this slot; 0 = none
  std::atomic<std::uint32_t> flags;       // SlotFlags
  // ---- the worker ----
  std::atomic<std::uint32_t> current;     // item index + 1 it runs now (timed runs only); 0 = none
  std::atomic<std::uint32_t> acked_job;   // last job_seq this worker finished with (persistent)
  std::atomic<std::uint64_t> started_ns;  // steady clock (CLOCK_MONOTONIC, system-wide) at that item
  std::atomic<std::uint64_t> log_count;   // entries published in this slot's log
  std::uint64_t buf_used;                 // owner-private bump pointer into its byte buffer
  alignas(sk::core::kFalseSharingRange) RangeDeque deque;
  // The lifecycle of the pool.map<W> item this worker runs now: the engine
  // writes it as it would a Skprocess's control block; the collector watches
  // its hook deadline and reads it after a death (lifecycle.hpp).
  alignas(sk::core::kFalseSharingRange) LifecycleState life;
};
static_assert(std::is_standard_layout_v<Slot>);

inline constexpr std::size_t align_up(std::size_t v, std::size_t a) noexcept { return (v + a - 1) / a * a; }

// Where everything sits for a run of up to `items` items over `slots` slots.
struct RunLayout {
  std::uint64_t off_slots, off_chunks, off_logs, off_offsets, off_resume, off_results, off_bufs, off_job, total;
  std::uint64_t log_capacity, buf_capacity, job_capacity;

  // result_bytes: room for the trivially copyable result array.
  static RunLayout compute(std::uint64_t items, std::uint32_t slots, std::uint64_t result_bytes,
                           std::uint64_t buf_capacity, std::uint64_t job_capacity) noexcept {
    constexpr std::size_t kPage = 4096;
    RunLayout l{};
    // A slot logs at most one entry per chunk and one per item that threw;
    // chunks are never fewer than one item, so 2 * items bounds both.
    l.log_capacity = 2 * items + 1;
    l.off_slots = align_up(sizeof(RunHeader), kPage);
    l.off_chunks = align_up(l.off_slots + slots * sizeof(Slot), kPage);
    l.off_logs = align_up(l.off_chunks + items * sizeof(std::uint64_t), kPage);
    l.off_offsets = align_up(l.off_logs + std::uint64_t{slots} * l.log_capacity * sizeof(LogEntry), kPage);
    l.off_resume = align_up(l.off_offsets + items * sizeof(std::uint64_t), kPage);
    l.off_results = align_up(l.off_resume + items * sizeof(ItemResume), kPage);
    l.off_bufs = align_up(l.off_results + result_bytes, kPage);
    l.buf_capacity = align_up(buf_capacity, kPage);
    l.off_job = align_up(l.off_bufs + std::uint64_t{slots} * l.buf_capacity, kPage);
    l.job_capacity = align_up(job_capacity, kPage);
    l.total = l.off_job + l.job_capacity;
    return l;
  }
};

// Process-local view of a run mapping: everything is reached through the
// header's offsets.
class RunView {
 public:
  RunView() = default;
  explicit RunView(std::byte* base) noexcept : base_(base) {}
  std::byte* base() const noexcept { return base_; }
  RunHeader& hdr() const noexcept { return *reinterpret_cast<RunHeader*>(base_); }
  Slot& slot(std::uint32_t s) const noexcept { return reinterpret_cast<Slot*>(base_ + hdr().off_slots)[s]; }
  std::atomic<std::uint64_t>& chunk(std::uint32_t c) const noexcept {
    return reinterpret_cast<std::atomic<std::uint64_t>*>(base_ + hdr().off_chunks)[c];
  }
  // Items [chunk_begin(c), chunk_end(c)) form chunk c.
  std::uint32_t chunk_begin(std::uint32_t c) const noexcept { return c * hdr().chunk_size; }
  std::uint32_t chunk_end(std::uint32_t c) const noexcept {
    const std::uint64_t e = std::uint64_t{c + 1} * hdr().chunk_size;
    return e < hdr().n_items ? static_cast<std::uint32_t>(e) : hdr().n_items;
  }
  LogEntry* log(std::uint32_t s) const noexcept {
    return reinterpret_cast<LogEntry*>(base_ + hdr().off_logs) + std::uint64_t{s} * hdr().log_capacity;
  }
  std::uint64_t& offset(std::uint32_t i) const noexcept {
    return reinterpret_cast<std::uint64_t*>(base_ + hdr().off_offsets)[i];
  }
  ItemResume& resume(std::uint32_t i) const noexcept {
    return reinterpret_cast<ItemResume*>(base_ + hdr().off_resume)[i];
  }
  std::byte* result(std::uint32_t i) const noexcept {
    return base_ + hdr().off_results + std::uint64_t{i} * hdr().result_size;
  }
  std::byte* buf(std::uint32_t s) const noexcept { return base_ + hdr().off_bufs + std::uint64_t{s} * hdr().buf_capacity; }
  std::byte* job() const noexcept { return base_ + hdr().off_job; }

 private:
  std::byte* base_ = nullptr;
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free && sizeof(std::atomic<std::uint32_t>) == 4);
static_assert(sizeof(std::atomic<std::uint64_t>) == 8);

// Owns the mapping. Move-only.
class Mapping {
 public:
  Mapping() = default;
  explicit Mapping(std::size_t bytes) : size_(bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      throw sk::Error("sk::Pool: cannot reserve " + std::to_string(bytes) +
                      " bytes of shared memory for the run (mmap: " + std::strerror(e) +
                      "); use fewer items per call or fewer workers");
    }
    base_ = static_cast<std::byte*>(p);
  }
  Mapping(Mapping&& o) noexcept : base_(o.base_), size_(o.size_) {
    o.base_ = nullptr;
    o.size_ = 0;
  }
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      base_ = o.base_;
      size_ = o.size_;
      o.base_ = nullptr;
      o.size_ = 0;
    }
    return *this;
  }
  ~Mapping() { reset(); }
  void reset() noexcept {
    if (base_) ::munmap(base_, size_);
    base_ = nullptr;
    size_ = 0;
  }
  std::byte* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
};

// Lays out a fresh run in `m` (zero pages from mmap) and returns its view.
inline RunView init_run(const Mapping& m, const RunLayout& l, std::uint64_t capacity_items, std::uint32_t slots,
                        std::uint32_t result_size) noexcept {
  auto* h = new (m.base()) RunHeader{};
  h->magic = kRunMagic;
  h->capacity_items = capacity_items;
  h->n_slots = slots;
  h->result_size = result_size;
  h->log_capacity = l.log_capacity;
  h->buf_capacity = l.buf_capacity;
  h->job_capacity = l.job_capacity;
  h->off_slots = l.off_slots;
  h->off_chunks = l.off_chunks;
  h->off_logs = l.off_logs;
  h->off_offsets = l.off_offsets;
  h->off_resume = l.off_resume;
  h->off_results = l.off_results;
  h->off_bufs = l.off_bufs;
  h->off_job = l.off_job;
  RunView v(m.base());
  for (std::uint32_t s = 0; s < slots; ++s) new (&v.slot(s)) Slot{};
  return v;
}

}  // namespace sk::ipc::pool
