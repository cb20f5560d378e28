#pragma once
// sk::Log: one totally ordered log shared by every process of a Share, with
// bounded retention.
//
//   struct State { sk::Log log{"worker"}; };
//   share->log.info("job {} done in {:.2f} s", id, secs);   // fmt-style
//   share->log.set_level(sk::LogLevel::warning);             // for every process
//   for (auto& m : share->log.messages()) ...                // the newest records, one order
//
// Level: records below the Log's level are filtered out before they reach a
// sink or the Share. The default level is INFO: trace() and debug() are
// dropped unless the Log is built with a lower level or set_level lowers it.
//
// Retention: the Share keeps the most recent `LogRetention::records` records
// (default 10,000), fewer if `LogRetention::bytes` is set (records =
// bytes / kSlotBytes). Each retained record occupies one 448-byte slot and
// keeps at most kMaxMessageBytes (128) bytes of its message: a longer one is
// cut at a UTF-8 boundary and ends with "…" (LogRecord::truncated is set).
// A record that came from another logger (append(): sk::spdlog_sink) also
// keeps its origin: logger name, source file name (last path component),
// line and function, each cut to kMaxOriginBytes, packed into the
// kTextBytes - message bytes left after the message (at least 56).
// The default bound therefore costs 4.5 MB of the Share's arena, taken at the
// first record (not when the Share is created). Sinks see every record, whole
// and untruncated. Records pushed out of retention are counted by dropped();
// written() counts every record ever written.
//
// Storage: a ring of `capacity` slots in one arena block; slot i holds the
// record whose seq is i (mod capacity). Each slot is a core::Seqlock of a
// fixed-size record (two copies of the record, see seqlock.hpp), so the
// memory of a record is never freed while the Log exists: a reader can only
// ever copy bytes of a slot, never a block that was returned to the arena.
//
// Write (lock-free: a writer never waits for another writer beyond a bounded
// spin): format; install the ring if it is the first record (one installer at
// a time, as sk::List installs chunks); build the slot's record; take a
// ticket seq = next_++ (the record's position in the total order; building
// first keeps the ticket-to-commit window, a tailing reader's wait, short);
// try_begin_write() on slot seq %
// capacity, tagged with our compact owner id. The slot's committed record is
// an older one (displaced: dropped_ += 1) or, if a writer of a later lap got
// there first, a newer one (ours is already out of retention: abort,
// dropped_ += 1). If the slot is held by another writer we spin a bounded
// time; a holder the kernel reports dead has its write aborted (its
// half-written copy never becomes visible); a live holder that still holds
// it after the spin keeps the slot and our record is counted as dropped
// (only possible when `capacity` records are written while one writer is
// descheduled mid-copy).
//
// Read (messages(), records(), size()): hi = next_, window [max(base_,
// hi - capacity), hi); for each seq in it, copy slot seq % capacity with the
// seqlock's try_load and keep the copy only if its seq is the expected one.
// So a read is in strictly increasing seq order, every process sees the same
// order, consistent with each process's program order, and a record is
// returned whole or not at all. A record still being written when a read runs
// is missing from that read and appears in later ones.
//
// Tailing (read_from / wait_from: a cursor over the total order, what
// sk::LogForwarder uses): read_from(from) returns the records with seq >=
// from in seq order and stops at the first seq whose record is not stored
// yet (its writer took the ticket and has not committed: in flight, or
// killed before it took its slot; `waiting` is then set). A seq that left
// retention (window moved past it, displaced by a later lap, or hidden by
// clear()) is counted in `skipped` and passed. So a cursor that follows
// `next` sees every record once, in the one order, or counts it as skipped;
// the caller decides how long a waiting seq may hold it up. Every committing
// writer wakes the processes parked in wait_from() (one seq_cst load of a
// word on the writers' own line when none is parked, after the slot's
// seq_cst commit CAS: the Dekker pair of Seqlock's wake_writers()).
//
// Crash safety: a writer SIGKILLed at any instruction either holds no slot
// (nothing changes, its ticket simply has no record) or holds its slot's
// seqlock; readers then keep reading the slot's previous committed copy
// (older seq: skipped), and the next writer that needs the slot, one lap
// later, finds the holder dead (sk::alloc::is_alive_compact) and aborts the
// write. Nobody waits for the dead process, nothing it half-wrote is read,
// and at most its own in-flight record is lost. A dead ring installer's
// claim is taken back the same way.
//
// Ordering (the seqlock's own SYNC POINTs cover the slot contents):
//  * ring_: release store by the installer, acquire loads by writers and
//    readers. Publishes the constructed slots; without it a process could
//    see the offset before the slots' seqlock words were initialised.
//  * next_, dropped_, base_: relaxed. They publish nothing: what a reader
//    may use from a slot is decided by the slot's seqlock and the seq stored
//    inside the record, so a stale next_ or base_ only yields an older window.
//  * readers_ (WaitPoint): after a successful commit CAS (seq_cst) a writer
//    reads waiters_ with a seq_cst load; a parked reader increments it, fences
//    and re-reads the slot's sequence word. Without the pair a reader could
//    sleep through the commit it waits for (until its timeout).
//
// Sinks run in the writing process, after the record is stored:
// stderr by default (one write(2) per record, so lines of different processes
// never interleave), a file (O_APPEND, one write(2) per record), or any
// callable. Sinks are process-local (set them in each process, or before
// fork: children inherit them); the records, counters and the level are shared.
// append() (records from another logger, e.g. spdlog, which has printed
// them through its own sinks already) stores only: it runs no sink.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <sk/alloc/arena.hpp>
#include <sk/core/cacheline.hpp>
#include <sk/core/futex.hpp>
#include <sk/ipc/serialize.hpp>

namespace sk {

// Python's levels plus spdlog's trace and critical (sk/spdlog.hpp maps them).
enum class LogLevel : std::uint8_t { trace = 0, debug = 1, info = 2, warning = 3, error = 4, critical = 5 };
// "TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"
std::string_view to_string(LogLevel level) noexcept;

struct LogRecord {
  std::uint64_t seq = 0;      // position in the log's total order
  std::uint32_t pid = 0;      // writing process
  LogLevel level = LogLevel::info;
  std::int64_t time_ns = 0;   // system_clock, ns since the epoch
  std::string logger;         // the Log's name, or the other logger's (append())
  std::string message;
  bool truncated = false;     // retained copy cut to Log::kMaxMessageBytes (sinks get it whole)
  // Source location, when the record came with one (append()); line 0 = none.
  std::string file{};         // last path component of the source file
  std::uint32_t line = 0;
  std::string function{};

  friend bool operator==(const LogRecord&, const LogRecord&) = default;
  SK_FIELDS(seq, pid, level, time_ns, logger, message, truncated, file, line, function)
};

// "2026-11-26T23:50:24.123Z INFO worker[4242] #17: message\n"; with a
// source location: "... #17 main.cpp:42: message\n".
std::string format_record(const LogRecord& r);

// Where a record written with Log::append() comes from. Empty views / 0
// mean "not given": logger = the Log's name, time = now.
struct LogOrigin {
  std::string_view logger{};
  std::string_view file{};      // a path: its last component is kept
  std::uint32_t line = 0;
  std::string_view function{};
  std::int64_t time_ns = 0;     // system_clock, ns since the epoch
};

// One step of a cursor over the total order (Log::read_from).
struct LogBatch {
  std::vector<LogRecord> records;  // seq >= from, increasing, none twice
  std::uint64_t next = 0;          // where the next read_from should start
  std::uint64_t skipped = 0;       // seqs in [from, next) with no record returned: they left
                                   // retention (or were cleared) before this read
  bool waiting = false;            // stopped at `next`: its ticket was taken, its record is not
                                   // stored yet (in flight, or its writer died first)
};

using LogSink = std::function<void(const LogRecord&)>;

// How many records the Share keeps (see the top of this file).
struct LogRetention {
  std::size_t records = 10'000;  // the newest `records` records; 0 keeps none (sinks only)
  std::size_t bytes = 0;         // if non-zero: at most bytes / Log::kSlotBytes records
};

class Log {
 public:
  static constexpr std::string_view kind = "Log";
  static constexpr std::size_t kMaxName = 63;
  static constexpr std::size_t kDefaultRecords = LogRetention{}.records;
  static constexpr std::size_t kMaxMessageBytes = 128;  // kept per record; longer ones end with "…"
  static constexpr std::size_t kTextBytes = 184;        // message + origin fields, per record
  static constexpr std::size_t kMaxOriginBytes = 31;    // logger name, file name, function: each
  static constexpr std::size_t kSlotBytes = 448;        // arena bytes per retained record
  // Folded into the Share layout hash: the slot format (see reflect.hpp).
  static constexpr std::uint64_t layout_hash() noexcept {
    return 0x4C4F4752494E4732ULL /* "LOGRING2" */ ^ (kSlotBytes << 24) ^ (kTextBytes << 12) ^
           (kMaxOriginBytes << 8) ^ kMaxMessageBytes;
  }

  // name: shown in every record (truncated to 63 bytes). Must be constructed
  // inside a Share (a member of its State); throws sk::ShareError otherwise.
  explicit Log(std::string_view name = "log", LogLevel level = LogLevel::info, LogRetention retention = {});
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  std::string_view name() const noexcept { return name_; }

  template <class... Args>
  void trace(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(LogLevel::trace)) write(LogLevel::trace, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(LogLevel::debug)) write(LogLevel::debug, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(LogLevel::info)) write(LogLevel::info, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void warning(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(LogLevel::warning)) write(LogLevel::warning, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void error(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(LogLevel::error)) write(LogLevel::error, fmt::format(f, std::forward<Args>(args)...));
  }
  template <class... Args>
  void critical(fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(LogLevel::critical)) write(LogLevel::critical, fmt::format(f, std::forward<Args>(args)...));
  }
  // Stores one record (if level passes the filter) and runs this process's
  // sinks. Returns false when filtered out. Throws sk::alloc::ArenaFull if
  // the first record finds no room for the ring (capacity() * kSlotBytes).
  bool write(LogLevel level, std::string message);
  // Stores one record that another logger already formatted and printed
  // (sk::spdlog_sink): with its own logger name, time and source location,
  // filtered by the Log's level like write(), but this process's sinks are
  // NOT run (so a record is not printed a second time). Returns false when
  // filtered out. Throws like write().
  bool append(LogLevel level, std::string_view message, const LogOrigin& origin);

  // Records below `level` are dropped (in every process).
  void set_level(LogLevel level) noexcept { level_.store(static_cast<std::uint8_t>(level), std::memory_order_relaxed); }
  LogLevel level() const noexcept { return static_cast<LogLevel>(level_.load(std::memory_order_relaxed)); }
  bool enabled(LogLevel l) const noexcept { return static_cast<std::uint8_t>(l) >= level_.load(std::memory_order_relaxed); }

  // ---- sinks of this process ----
  void sink_to_stderr();                       // the default
  void sink_to_file(const std::string& path);  // appends; throws sk::Error if it cannot open it
  void set_sink(LogSink sink);                 // replaces this process's sinks with one callable
  void add_sink(LogSink sink);                 // adds to them
  void no_sinks();                             // records are only kept in the log

  // ---- the retained records (any process, concurrently with writers) ----
  std::vector<LogRecord> records() const;      // the newest records, in seq order
  std::vector<std::string> messages() const;   // their messages
  std::size_t size() const;                    // how many records() would return now
  // Hides every record written so far (not counted as dropped).
  void clear() noexcept;

  // ---- a cursor over the total order (see "Tailing" above) ----
  // The records with seq >= from, at most max_records of them, in seq order,
  // up to the first one still being written. Start at 0 (everything
  // retained) or written() (only what comes next); continue at `next`.
  LogBatch read_from(std::uint64_t from, std::size_t max_records = 4096) const;
  // Parks (futex, no spinning) until read_from(from) would return a record
  // or a skip, `*interrupt` (if given) is true, or `timeout` passed: true
  // unless it timed out. Writers in any process wake it when they commit.
  bool wait_from(std::uint64_t from, std::chrono::nanoseconds timeout,
                 const std::atomic<bool>* interrupt = nullptr) const;
  // Wakes every wait_from() of this Log in every process (they re-check);
  // set the interrupt first to make one return.
  void wake_readers() const noexcept { readers_.notify_all(); }

  std::size_t capacity() const noexcept { return static_cast<std::size_t>(capacity_); }  // the bound
  std::uint64_t written() const noexcept { return next_.load(std::memory_order_relaxed); }
  // Records that left retention: displaced by newer ones (or, rarely, never
  // stored because their slot was held by a descheduled writer).
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

  std::string describe_value() const;

 private:
  struct SlotRecord;  // log.cpp: one retained record, fixed size
  struct Slot;        // log.cpp: a core::Seqlock of a SlotRecord
  template <class Fn>
  void for_each_retained(Fn&& fn) const;
  const Slot* ring() const noexcept;
  Slot* ring_or_install();
  // Builds the record, takes a ticket and stores it; returns its seq.
  std::uint64_t put(LogLevel level, std::string_view message, const LogOrigin* origin, std::uint32_t pid,
                    std::int64_t time_ns);
  void store(const SlotRecord& rec);
  void check(const SlotRecord& rec) const;  // throws SlotPoisoned on impossible lengths / level
  LogRecord decode(const SlotRecord& rec) const;
  bool readable_at(std::uint64_t seq) const noexcept;  // read_from(seq) would return a record or a skip
  alloc::ArenaView arena() const noexcept { return alloc::ArenaView::of(this, self_); }

  // Written once, by the creating process's constructor.
  alloc::Offset self_;
  std::uint64_t capacity_;
  char name_[kMaxName + 1]{};
  // Shared settings and the ring: level_ by set_level(), base_ by clear(),
  // ring_ / installer_ once, by the first writer.
  std::atomic<std::uint8_t> level_;
  std::atomic<std::uint64_t> base_{0};       // records with seq < base_ are cleared
  std::atomic<std::uint64_t> ring_{0};       // offset of the slot array, 0 until the first record
  std::atomic<std::uint64_t> installer_{0};  // OwnerId of the process installing the ring, 0 = none
  // Every writer: tickets and the drop count, together on their own lines
  // (one line transfer per record instead of two).
  alignas(core::kFalseSharingRange) std::atomic<std::uint64_t> next_{0};  // next seq
  std::atomic<std::uint64_t> dropped_{0};
  // Tailing readers park here (wait_from); writers check it after each
  // commit. On the writers' line: the check costs no extra line transfer.
  mutable core::WaitPoint readers_;
};

}  // namespace sk
