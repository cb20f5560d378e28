#pragma once
// The shared-memory side of one Pool run: one flat MAP_SHARED anonymous
// mapping, created by the parent before it forks the workers (so every worker
// maps it at the same place, but nothing in it is a pointer: offsets only).
//
//   [RunHeader][Slot x n_slots][claim word x n][log x n_slots*n][result x n][bytes x n_slots][job area]
//
// - RunHeader: run state, the WaitPoints workers and parent park on, counters.
// - Slot: one per worker process (spares for replacements): its pid, the item
//   it runs and since when (for timeouts), its range deque, its result log.
// - claim word per item: 0 = free, else the pid of the worker that claimed it.
//   A CAS 0 -> pid is the only way to run an item, so an item runs at most once
//   per claim; the parent resets the claims of a dead worker's unpublished
//   items (retry) and bumps sweep_epoch so that idle workers re-scan.
// - log: per slot, append-only entries {index, kind, offset}, published by a
//   release store of Slot::log_count; the parent consumes them in order.
// - result array: trivially copyable results at their index.
// - bytes: per slot bump buffer for serialized results and error records.
// The mapping is reserved with MAP_NORESERVE: only touched pages cost memory.
#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <sk/core/cacheline.hpp>
#include <sk/core/error.hpp>
#include <sk/core/futex.hpp>
#include <sk/ipc/pool_ranges.hpp>

namespace sk::ipc::pool {

inline constexpr std::uint64_t kRunMagic = 0x736b2d706f6f6c31ull;  // "sk-pool1"

enum RunState : std::uint32_t { kIdle = 0, kRunning = 1, kFinished = 2, kCancelled = 3, kShutdown = 4 };
enum LogKind : std::uint32_t { kOk = 0, kThrew = 1 };
enum RunFlags : std::uint32_t { kNotifyEach = 1, kTimed = 2 };
enum SlotFlags : std::uint32_t { kSlotRetired = 1 };

inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

struct LogEntry {
  std::uint32_t index;
  std::uint32_t kind;    // LogKind
  std::uint64_t offset;  // into the slot's byte buffer (serialized result / error record)
};
static_assert(sizeof(LogEntry) == 16 && std::is_trivially_copyable_v<LogEntry>);

struct alignas(sk::core::kFalseSharingRange) RunHeader {
  // ---- written once by the parent before workers see the run ----
  std::uint64_t magic;
  std::uint32_t n_items;
  std::uint32_t n_slots;
  std::uint32_t result_size;  // bytes per trivially copyable result; 0 = serialized into bytes
  std::uint32_t flags;        // RunFlags
  std::uint64_t capacity_items;  // what the mapping was laid out for
  std::uint64_t buf_capacity;    // bytes per slot buffer
  std::uint64_t job_capacity;    // bytes of the job area (persistent mode)
  std::uint64_t off_slots, off_claims, off_logs, off_results, off_bufs, off_job;
  // ---- persistent mode: the job in flight (published by job_seq) ----
  std::uint32_t job_kind;      // index into the worker-side job table
  std::uint32_t job_pad;
  std::uint64_t job_len;       // bytes used in the job area
  alignas(sk::core::kFalseSharingRange) std::atomic<std::uint32_t> state;  // RunState
  std::atomic<std::uint32_t> job_seq;       // bumps when a new job is published
  std::atomic<std::uint32_t> sweep_epoch;   // bumps after the parent freed claims
  std::atomic<std::uint32_t> push_epoch;    // bumps when an owner offers a split range
  std::atomic<std::uint32_t> idle;          // workers that found no work
  std::atomic<std::uint32_t> pad0;
  sk::core::WaitPoint work_wp;              // workers park here
  alignas(sk::core::kFalseSharingRange) sk::core::WaitPoint done_wp;  // the parent parks here
};
static_assert(std::is_standard_layout_v<RunHeader>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

struct alignas(sk::core::kFalseSharingRange) Slot {
  std::atomic<std::uint32_t> pid;         // worker process owning this slot; 0 = unused
  std::atomic<std::uint32_t> current;     // item index + 1 it runs now; 0 = none
  std::atomic<std::uint64_t> started_ns;  // steady clock (CLOCK_MONOTONIC, system-wide) at claim
  std::atomic<std::uint64_t> log_count;   // entries published in this slot's log
  std::atomic<std::uint32_t> acked_job;   // last job_seq this worker finished with (persistent)
  std::atomic<std::uint32_t> flags;       // SlotFlags
  std::uint64_t buf_used;                 // owner-private bump pointer into its byte buffer
  alignas(sk::core::kFalseSharingRange) RangeDeque deque;
};
static_assert(std::is_standard_layout_v<Slot>);

inline constexpr std::size_t align_up(std::size_t v, std::size_t a) noexcept { return (v + a - 1) / a * a; }

// Where everything sits for a run of `items` items over `slots` worker slots.
struct RunLayout {
  std::uint64_t off_slots, off_claims, off_logs, off_results, off_bufs, off_job, total;
  std::uint64_t buf_capacity, job_capacity;

  // result_bytes: room for the trivially copyable result array (items * size).
  static RunLayout compute(std::uint64_t items, std::uint32_t slots, std::uint64_t result_bytes,
                           std::uint64_t buf_capacity, std::uint64_t job_capacity) noexcept {
    constexpr std::size_t kPage = 4096;
    RunLayout l{};
    l.off_slots = align_up(sizeof(RunHeader), kPage);
    l.off_claims = align_up(l.off_slots + slots * sizeof(Slot), kPage);
    l.off_logs = align_up(l.off_claims + items * sizeof(std::uint32_t), kPage);
    l.off_results = align_up(l.off_logs + std::uint64_t{slots} * items * sizeof(LogEntry), kPage);
    l.off_bufs = align_up(l.off_results + result_bytes, kPage);
    l.buf_capacity = align_up(buf_capacity, kPage);
    l.off_job = align_up(l.off_bufs + std::uint64_t{slots} * l.buf_capacity, kPage);
    l.job_capacity = align_up(job_capacity, kPage);
    l.total = l.off_job + l.job_capacity;
    return l;
  }
};

// Process-local view of a run mapping (the base differs per process only if
// the mapping was not inherited; everything is reached through offsets).
class RunView {
 public:
  RunView() = default;
  explicit RunView(std::byte* base) noexcept : base_(base) {}
  std::byte* base() const noexcept { return base_; }
  RunHeader& hdr() const noexcept { return *reinterpret_cast<RunHeader*>(base_); }
  Slot& slot(std::uint32_t s) const noexcept {
    return reinterpret_cast<Slot*>(base_ + hdr().off_slots)[s];
  }
  std::atomic<std::uint32_t>& claim(std::uint32_t i) const noexcept {
    return reinterpret_cast<std::atomic<std::uint32_t>*>(base_ + hdr().off_claims)[i];
  }
  LogEntry* log(std::uint32_t s) const noexcept {
    return reinterpret_cast<LogEntry*>(base_ + hdr().off_logs) + std::uint64_t{s} * hdr().capacity_items;
  }
  std::byte* result(std::uint32_t i) const noexcept {
    return base_ + hdr().off_results + std::uint64_t{i} * hdr().result_size;
  }
  std::byte* buf(std::uint32_t s) const noexcept {
    return base_ + hdr().off_bufs + std::uint64_t{s} * hdr().buf_capacity;
  }
  std::byte* job() const noexcept { return base_ + hdr().off_job; }

 private:
  std::byte* base_ = nullptr;
};

static_assert(std::atomic<std::uint32_t>::is_always_lock_free && sizeof(std::atomic<std::uint32_t>) == 4);

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
  Mapping(Mapping&& o) noexcept : base_(o.base_), size_(o.size_) { o.base_ = nullptr; o.size_ = 0; }
  Mapping& operator=(Mapping&& o) noexcept {
    if (this != &o) {
      reset();
      base_ = o.base_; size_ = o.size_;
      o.base_ = nullptr; o.size_ = 0;
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
  h->buf_capacity = l.buf_capacity;
  h->job_capacity = l.job_capacity;
  h->off_slots = l.off_slots;
  h->off_claims = l.off_claims;
  h->off_logs = l.off_logs;
  h->off_results = l.off_results;
  h->off_bufs = l.off_bufs;
  h->off_job = l.off_job;
  RunView v(m.base());
  for (std::uint32_t s = 0; s < slots; ++s) new (&v.slot(s)) Slot{};
  return v;
}

// ---------------------------------------------------------------------------
// Worker side: publishing results.

// Offset of an error record that did not fit its worker's buffer.
inline constexpr std::uint64_t kNoRecord = ~std::uint64_t{0};

// Appends results and error records of one worker (one slot) to the run.
class SlotWriter {
 public:
  SlotWriter(RunView v, std::uint32_t slot) noexcept : v_(v), slot_(slot) {}

  std::uint32_t slot() const noexcept { return slot_; }
  RunView view() const noexcept { return v_; }

  // Trivially copyable result: stored at its index.
  void ok_trivial(std::uint32_t index, const void* value, std::size_t size) noexcept {
    std::memcpy(v_.result(index), value, size);
    append(index, kOk, 0);
  }
  // Serialized result: [u64 length][bytes] in this slot's buffer. Returns false
  // when it does not fit (the caller then reports an error for the item).
  bool ok_bytes(std::uint32_t index, std::span<const std::byte> bytes) noexcept {
    const std::uint64_t off = reserve(sizeof(std::uint64_t) + bytes.size());
    if (off == kNoRoom) return false;
    const std::uint64_t len = bytes.size();
    std::memcpy(v_.buf(slot_) + off, &len, sizeof len);
    if (!bytes.empty()) std::memcpy(v_.buf(slot_) + off + sizeof len, bytes.data(), bytes.size());
    append(index, kOk, off);
    return true;
  }
  // Error record: [u32 type length][type][u32 what length][what] (what is cut
  // to fit when the buffer is nearly full).
  void threw(std::uint32_t index, std::string_view type, std::string_view what) noexcept {
    type = type.substr(0, 1024);
    what = what.substr(0, 16384);
    std::uint64_t off = reserve(8 + type.size() + what.size(), /*for_error=*/true);
    if (off == kNoRecord) {  // buffer exhausted: the parent reports the item with a generic message
      append(index, kThrew, kNoRecord);
      return;
    }
    std::byte* p = v_.buf(slot_) + off;
    const auto tl = static_cast<std::uint32_t>(type.size());
    const auto wl = static_cast<std::uint32_t>(what.size());
    std::memcpy(p, &tl, 4);
    std::memcpy(p + 4, type.data(), tl);
    std::memcpy(p + 4 + tl, &wl, 4);
    std::memcpy(p + 8 + tl, what.data(), wl);
    append(index, kThrew, off);
  }

 private:
  static constexpr std::uint64_t kNoRoom = kNoRecord;
  // Results may fill the buffer up to its last kErrorReserve bytes, which are
  // kept for error records.
  static constexpr std::uint64_t kErrorReserve = 64 * 1024;

  std::uint64_t reserve(std::uint64_t n, bool for_error = false) noexcept {
    Slot& s = v_.slot(slot_);
    const std::uint64_t off = align_up(s.buf_used, 8);
    const std::uint64_t cap = v_.hdr().buf_capacity;
    const std::uint64_t limit = for_error ? cap : (cap > kErrorReserve ? cap - kErrorReserve : 0);
    if (off + n > limit) return kNoRoom;
    s.buf_used = off + n;
    return off;
  }

  void append(std::uint32_t index, std::uint32_t kind, std::uint64_t offset) noexcept {
    Slot& s = v_.slot(slot_);
    const std::uint64_t n = s.log_count.load(std::memory_order_relaxed);  // only we write it
    v_.log(slot_)[n] = LogEntry{index, kind, offset};
    // SYNC POINT: publishes the log entry, the result bytes / array element and
    // the error record to the parent's acquire load of log_count; without it
    // the parent could read a half-written result.
    s.log_count.store(n + 1, std::memory_order_release);
    // The parent is woken per item only when it streams (imap, progress) or
    // on errors; otherwise when a worker runs out of work (scheduler).
    RunHeader& h = v_.hdr();
    if ((h.flags & kNotifyEach) || kind != kOk) h.done_wp.notify_all();
  }

  RunView v_;
  std::uint32_t slot_;
};

// Reads a published error record.
inline void read_error(RunView v, std::uint32_t slot, std::uint64_t off, std::string& type, std::string& what) {
  if (off == kNoRecord) {
    type = "sk::PoolError";
    what = "the item threw, but its error record did not fit the worker's result buffer";
    return;
  }
  const std::byte* p = v.buf(slot) + off;
  std::uint32_t tl = 0, wl = 0;
  std::memcpy(&tl, p, 4);
  type.assign(reinterpret_cast<const char*>(p + 4), tl);
  std::memcpy(&wl, p + 4 + tl, 4);
  what.assign(reinterpret_cast<const char*>(p + 8 + tl), wl);
}

// Reads a published serialized result.
inline std::span<const std::byte> read_bytes(RunView v, std::uint32_t slot, std::uint64_t off) noexcept {
  const std::byte* p = v.buf(slot) + off;
  std::uint64_t len = 0;
  std::memcpy(&len, p, sizeof len);
  return {p + sizeof len, static_cast<std::size_t>(len)};
}

}  // namespace sk::ipc::pool
