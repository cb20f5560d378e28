#pragma once
// sk::Log <-> spdlog: the optional component suitkaise::spdlog
// (find_package(suitkaise COMPONENTS spdlog); only programs that link it
// need spdlog). Two directions, usable together:
//
// IN: sk::spdlog_sink(share->log) is a spdlog sink. Any spdlog logger, in
//   any process of the tree, that has it among its sinks writes each record
//   into the shared sk::Log: the record takes its place in the Log's one total
//   order and retention, with its level (mapping below), the spdlog logger's
//   name, the writing pid, spdlog's time stamp and source location
//   (file name, line, function, when the call site gave one: the
//   SPDLOG_LOGGER_* macros do). The payload is stored unformatted: the
//   spdlog pattern is applied by whoever prints it. The sink only stores:
//   it runs none of the Log's process-local sinks (stderr by default), so
//   a record arriving from spdlog is printed by the logger's other sinks (if
//   it has any) and by forwarders, never a second time by the Log itself.
//   The Log's shared level filters these records too (set_level() in one
//   process quiets every process's spdlog calls through the sink).
//
// OUT: sk::LogForwarder fwd(share->log, {rotating_sink, ...}) tails the Log
//   from a cursor in seq order, on a thread of its own, and hands each record
//   to the given spdlog sinks exactly once, as a spdlog log_msg with the
//   record's time, level, logger name and source location, so the sinks'
//   patterns format it as if the call had been made here. log_msg::thread_id
//   carries the WRITING PROCESS's pid (spdlog's %t), since a record from
//   another process has no thread id here (%P would print the forwarder's
//   own pid). What is forwarded is the retained copy: a message longer than
//   sk::Log::kMaxMessageBytes arrives cut, ending with "…".
//
// Who writes what (so nothing is lost or printed twice):
//   * workers: spdlog logger with sk::spdlog_sink (and, optionally, sinks of
//     their own: those print that worker's records only);
//   * one process (usually the parent) runs ONE LogForwarder per output
//     stream: it prints the merged stream of every process, each record once.
//     Two forwarders on the same sinks print everything twice.
//   * the Log's own calls (share->log.info(...)) also reach the forwarder
//     (they are in the same ring); they also run the writing process's Log
//     sinks (stderr by default): call share->log.no_sinks() before forking
//     if the forwarder is the only place they should appear.
//   * a record that left retention before the forwarder reached it (the ring
//     wrapped), or whose writer was killed after taking its place in the
//     order but before storing it, is never forwarded; the forwarder says so
//     through its sinks (a WARNING line with how many, and which seqs) and
//     counts it in skipped() / lost(): never lost silently.
//
// Level mapping (sk::LogLevel <-> spdlog::level): trace <-> trace,
// debug <-> debug, info <-> info, warning <-> warn, error <-> err,
// critical <-> critical; a record logged at spdlog's level::off (a level
// meant for thresholds, not records) is stored as critical.
//
// SpdlogSinkMt serializes the threads of one process on a mutex, as any
// spdlog _mt sink does; SpdlogSinkSt has no mutex and is also safe from any
// number of threads, because sk::Log is lock-free and the sink reads nothing
// else that changes (it ignores its formatter: the Log stores the payload).
// The sink holds a reference to the Log: keep the Share alive while a
// logger uses it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <spdlog/common.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/details/null_mutex.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/sink.h>

#include <sk/slots/log.hpp>

namespace sk {

spdlog::level::level_enum to_spdlog(LogLevel level) noexcept;
LogLevel from_spdlog(spdlog::level::level_enum level) noexcept;

// A spdlog message for record `r` (views into r: keep r alive while it is
// used): r's time, level, logger name, source location and payload;
// thread_id = the writing process's pid.
spdlog::details::log_msg to_spdlog_msg(const LogRecord& r) noexcept;

// Stores one spdlog message in `log` (Log::append: no Log sinks run).
// Returns false when the Log's level filtered it out.
bool append_spdlog_msg(Log& log, const spdlog::details::log_msg& msg);

template <class Mutex>
class SpdlogSink final : public spdlog::sinks::base_sink<Mutex> {
 public:
  explicit SpdlogSink(Log& log) noexcept : log_(log) {}
  Log& log() const noexcept { return log_; }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override { append_spdlog_msg(log_, msg); }
  void flush_() override {}  // a record is in the Share when sink_it_ returns

 private:
  Log& log_;
};
using SpdlogSinkMt = SpdlogSink<std::mutex>;
using SpdlogSinkSt = SpdlogSink<spdlog::details::null_mutex>;

// spdlog -> sk::Log. E.g. spdlog::logger("worker", sk::spdlog_sink(share->log)).
std::shared_ptr<SpdlogSinkMt> spdlog_sink(Log& log);
std::shared_ptr<SpdlogSinkSt> spdlog_sink_st(Log& log);

struct LogForwarderOptions {
  // Start at the oldest retained record (true) or at the next one written (false).
  bool from_start = true;
  // Longest park between two looks at the Log. Writers wake the forwarder
  // when they commit, so this bounds only the rare missed wake-up (a writer
  // killed between its commit and its wake-up).
  std::chrono::milliseconds poll{100};
  // How long a record whose ticket was taken but which was never stored may
  // hold the stream up before it is counted lost (its writer was killed
  // mid-call, or descheduled for that long: then it is reported lost and
  // still appears in Log::records()).
  std::chrono::milliseconds hole_timeout{1000};
  std::size_t batch = 1024;  // records per read_from
};

// sk::Log -> spdlog sinks, on a thread of this process (see the top of this
// file). All sink calls (log and flush) are made from that thread, so _st
// sinks are fine; don't give the same sink to two forwarders.
class LogForwarder {
 public:
  using Options = LogForwarderOptions;
  LogForwarder(const Log& log, std::vector<spdlog::sink_ptr> sinks, Options options = {});
  // Drains (see drain()), stops the thread and flushes the sinks. In a
  // forked child (which has no forwarder thread) it does nothing.
  ~LogForwarder();
  LogForwarder(const LogForwarder&) = delete;
  LogForwarder& operator=(const LogForwarder&) = delete;

  // Returns once every record written to the Log before the call (every
  // ticket taken: seq < log.written()) was handed to the sinks, or counted
  // skipped or lost (so it waits at most hole_timeout per lost record).
  // Rethrows what stopped the forwarder (a corrupt Share: sk::SlotPoisoned).
  void drain();
  // drain(), then flush every sink (on the forwarder's thread).
  void flush();

  std::uint64_t forwarded() const noexcept;  // records handed to the sinks
  std::uint64_t skipped() const noexcept;    // left retention (or cleared) before they were reached
  std::uint64_t lost() const noexcept;       // ticket taken, never stored within hole_timeout
  std::uint64_t position() const noexcept;   // the cursor: every seq below it is done

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace sk
