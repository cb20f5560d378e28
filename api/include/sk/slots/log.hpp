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
// sink or the Share. The default level is INFO: debug() is dropped unless the
// Log is built with LogLevel::debug or set_level(LogLevel::debug) is called.
//
// Retention: the Share keeps the most recent `LogRetention::records` records
// (default 10,000), fewer if `LogRetention::bytes` is set (records =
// bytes / kSlotBytes). Each retained record occupies one 320-byte slot and
// keeps at most kMaxMessageBytes (128) bytes of its message: a longer one is
// cut at a UTF-8 boundary and ends with "…" (LogRecord::truncated is set).
// The default bound therefore costs 3.2 MB of the Share's arena, taken at the
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
// a time, as sk::List installs chunks); take a ticket seq = next_++ (the
// record's position in the total order); try_begin_write() on slot seq %
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
//
// Sinks run in the writing process, after the record is stored:
// stderr by default (one write(2) per record, so lines of different processes
// never interleave), a file (O_APPEND, one write(2) per record), or any
// callable. Sinks are process-local (set them in each process, or before
// fork: children inherit them); the records, counters and the level are shared.
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
#include <sk/ipc/serialize.hpp>

namespace sk {

enum class LogLevel : std::uint8_t { debug = 0, info = 1, warning = 2, error = 3 };
std::string_view to_string(LogLevel level) noexcept;  // "DEBUG", "INFO", "WARNING", "ERROR"

struct LogRecord {
  std::uint64_t seq = 0;      // position in the log's total order
  std::uint32_t pid = 0;      // writing process
  LogLevel level = LogLevel::info;
  std::int64_t time_ns = 0;   // system_clock, ns since the epoch
  std::string logger;         // the Log's name
  std::string message;
  bool truncated = false;     // retained copy cut to Log::kMaxMessageBytes (sinks get it whole)

  friend bool operator==(const LogRecord&, const LogRecord&) = default;
  SK_FIELDS(seq, pid, level, time_ns, logger, message, truncated)
};

// "2026-11-26T23:50:24.123Z INFO worker[4242] #17: message\n"
std::string format_record(const LogRecord& r);

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
  static constexpr std::size_t kSlotBytes = 320;        // arena bytes per retained record
  // Folded into the Share layout hash: the slot format (see reflect.hpp).
  static constexpr std::uint64_t layout_hash() noexcept {
    return 0x4C4F4752494E4731ULL /* "LOGRING1" */ ^ (kSlotBytes << 8) ^ kMaxMessageBytes;
  }

  // name: shown in every record (truncated to 63 bytes). Must be constructed
  // inside a Share (a member of its State); throws sk::ShareError otherwise.
  explicit Log(std::string_view name = "log", LogLevel level = LogLevel::info, LogRetention retention = {});
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  std::string_view name() const noexcept { return name_; }

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
  // Stores one record (if level passes the filter) and runs this process's
  // sinks. Returns false when filtered out. Throws sk::alloc::ArenaFull if
  // the first record finds no room for the ring (capacity() * kSlotBytes).
  bool write(LogLevel level, std::string message);

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

  std::size_t capacity() const noexcept { return static_cast<std::size_t>(capacity_); }  // the bound
  std::uint64_t written() const noexcept { return next_.load(std::memory_order_relaxed); }
  // Records that left retention: displaced by newer ones (or, rarely, never
  // stored because their slot was held by a descheduled writer).
  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

  std::string describe_value() const;

 private:
  struct Slot;  // log.cpp: a core::Seqlock of a fixed-size record
  template <class Fn>
  void for_each_retained(Fn&& fn) const;
  const Slot* ring() const noexcept;
  Slot* ring_or_install();
  void store(const LogRecord& rec);
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
};

}  // namespace sk
