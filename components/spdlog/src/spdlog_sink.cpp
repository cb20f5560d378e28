// spdlog -> sk::Log: the level mapping, the sink's one call into the Log,
// and the record -> log_msg conversion the forwarder uses (design:
// sk/spdlog.hpp).
#include <sk/spdlog.hpp>

#include <chrono>
#include <string_view>

namespace sk {

spdlog::level::level_enum to_spdlog(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::trace: return spdlog::level::trace;
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warning: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
    case LogLevel::critical: return spdlog::level::critical;
  }
  return spdlog::level::critical;
}

LogLevel from_spdlog(spdlog::level::level_enum level) noexcept {
  switch (level) {
    case spdlog::level::trace: return LogLevel::trace;
    case spdlog::level::debug: return LogLevel::debug;
    case spdlog::level::info: return LogLevel::info;
    case spdlog::level::warn: return LogLevel::warning;
    case spdlog::level::err: return LogLevel::error;
    case spdlog::level::critical: return LogLevel::critical;
    default: return LogLevel::critical;  // level::off is a threshold; a record logged "at" it is kept as critical
  }
}

spdlog::details::log_msg to_spdlog_msg(const LogRecord& r) noexcept {
  const spdlog::log_clock::time_point time{
      std::chrono::duration_cast<spdlog::log_clock::duration>(std::chrono::nanoseconds(r.time_ns))};
  // source_loc wants C strings (or nullptr): the record's strings are.
  const spdlog::source_loc loc = r.line == 0 && r.file.empty()
                                     ? spdlog::source_loc{}
                                     : spdlog::source_loc{r.file.c_str(), static_cast<int>(r.line),
                                                          r.function.empty() ? nullptr : r.function.c_str()};
  spdlog::details::log_msg msg(time, loc, spdlog::string_view_t(r.logger.data(), r.logger.size()), to_spdlog(r.level),
                               spdlog::string_view_t(r.message.data(), r.message.size()));
  msg.thread_id = r.pid;  // %t: the writing process (see sk/spdlog.hpp)
  return msg;
}

bool append_spdlog_msg(Log& log, const spdlog::details::log_msg& msg) {
  LogOrigin origin;
  origin.logger = std::string_view(msg.logger_name.data(), msg.logger_name.size());
  if (msg.source.filename != nullptr) origin.file = msg.source.filename;
  origin.line = msg.source.line > 0 ? static_cast<std::uint32_t>(msg.source.line) : 0;
  if (msg.source.funcname != nullptr) origin.function = msg.source.funcname;
  origin.time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(msg.time.time_since_epoch()).count();
  return log.append(from_spdlog(msg.level), std::string_view(msg.payload.data(), msg.payload.size()), origin);
}

std::shared_ptr<SpdlogSinkMt> spdlog_sink(Log& log) { return std::make_shared<SpdlogSinkMt>(log); }
std::shared_ptr<SpdlogSinkSt> spdlog_sink_st(Log& log) { return std::make_shared<SpdlogSinkSt>(log); }

}  // namespace sk
