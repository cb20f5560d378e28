#pragma once
// sk::Log: one totally ordered log shared by every process of a Share.
//
//   struct State { sk::Log log{"worker"}; };
//   share->log.info("job {} done in {:.2f} s", id, secs);   // fmt-style
//   share->log.set_level(sk::LogLevel::warning);             // for every process
//   for (auto& m : share->log.messages()) ...                // all processes, one order
//
// Records {seq, pid, level, time, logger name, message} live in an
// sk::List<LogRecord>; seq is the record's position in the list's single
// order of appends, so every process sees the same total order, consistent
// with each process's program order. A record is published whole (List cell
// state, release) and never tears; a process killed mid-log leaves no record
// (its claimed cell is skipped, see list.hpp).
//
// Sinks run in the writing process, after the record is appended:
// stderr by default (one write(2) per record, so lines of different processes
// never interleave), a file (O_APPEND, one write(2) per record), or any
// callable. Sinks are process-local (set them in each process, or before
// fork: children inherit them); the record list and the level are shared.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include <sk/ipc/serialize.hpp>
#include <sk/slots/list.hpp>

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

  friend bool operator==(const LogRecord&, const LogRecord&) = default;
  SK_FIELDS(seq, pid, level, time_ns, logger, message)
};

// "2026-11-26T23:50:24.123Z INFO worker[4242] #17: message\n"
std::string format_record(const LogRecord& r);

using LogSink = std::function<void(const LogRecord&)>;

class Log {
 public:
  static constexpr std::string_view kind = "Log";
  static constexpr std::size_t kMaxName = 63;

  // name: shown in every record (truncated to 63 bytes).
  explicit Log(std::string_view name = "log", LogLevel level = LogLevel::debug) : level_(static_cast<std::uint8_t>(level)) {
    const std::size_t n = name.size() < kMaxName ? name.size() : kMaxName;
    name.copy(name_, n);
    name_[n] = '\0';
  }
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
  // Appends one record (if level passes the filter) and runs this process's
  // sinks. Returns false when filtered out.
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

  // ---- the shared record list ----
  std::vector<LogRecord> records() const { return records_.snapshot(); }
  std::vector<std::string> messages() const;
  std::size_t size() const { return records_.size(); }
  void clear() { records_.clear(); }

  std::string describe_value() const {
    return std::to_string(size()) + " record(s), level " + std::string(to_string(level()));
  }

 private:
  List<LogRecord> records_;
  std::atomic<std::uint8_t> level_;
  char name_[kMaxName + 1]{};
};

}  // namespace sk
