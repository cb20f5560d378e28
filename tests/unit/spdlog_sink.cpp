// suitkaise::spdlog in one process: spdlog calls through sk::spdlog_sink
// keep level, logger name, pid, time and source location; they are stored
// only (the Log's own sinks do not print them again); sk::LogForwarder hands
// each record to spdlog sinks once, drains and flushes on request and on
// destruction, and reports records that left retention before it got there.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include <sk/share.hpp>
#include <sk/spdlog.hpp>

#include "spdlog_capture.hpp"

namespace {

using namespace std::chrono_literals;

struct State {
  sk::Log log{"svc", sk::LogLevel::trace};
  sk::Log small{"small", sk::LogLevel::info, sk::LogRetention{.records = 10}};
};
SK_SHARE(State, log, small);

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using spdlogtest::Capture;
using spdlogtest::TempFileSink;

TEST(SpdlogLevels, mapping_both_ways) {
  const std::pair<sk::LogLevel, spdlog::level::level_enum> pairs[] = {
      {sk::LogLevel::trace, spdlog::level::trace}, {sk::LogLevel::debug, spdlog::level::debug},
      {sk::LogLevel::info, spdlog::level::info},   {sk::LogLevel::warning, spdlog::level::warn},
      {sk::LogLevel::error, spdlog::level::err},   {sk::LogLevel::critical, spdlog::level::critical}};
  for (auto [ours, theirs] : pairs) {
    EXPECT_EQ(sk::to_spdlog(ours), theirs);
    EXPECT_EQ(sk::from_spdlog(theirs), ours);
  }
  EXPECT_EQ(sk::from_spdlog(spdlog::level::off), sk::LogLevel::critical);
}

TEST(SpdlogSink, level_name_pid_time_and_source_location_round_trip) {
  sk::Share<State> s;
  s->log.no_sinks();
  spdlog::logger lg("worker", sk::spdlog_sink(s->log));
  lg.set_level(spdlog::level::trace);
  const std::int64_t before = now_ns();
  const int line = __LINE__ + 1;
  SPDLOG_LOGGER_CALL((&lg), spdlog::level::trace, "t {}", 1);
  SPDLOG_LOGGER_CALL((&lg), spdlog::level::debug, "d {}", 2);
  SPDLOG_LOGGER_CALL((&lg), spdlog::level::info, "i {}", 3);
  SPDLOG_LOGGER_CALL((&lg), spdlog::level::warn, "w {}", 4);
  SPDLOG_LOGGER_CALL((&lg), spdlog::level::err, "e {}", 5);
  SPDLOG_LOGGER_CALL((&lg), spdlog::level::critical, "c {}", 6);
  lg.info("no location");
  const std::int64_t after = now_ns();

  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 7u);
  const sk::LogLevel levels[] = {sk::LogLevel::trace, sk::LogLevel::debug, sk::LogLevel::info,
                                 sk::LogLevel::warning, sk::LogLevel::error, sk::LogLevel::critical};
  const char* texts[] = {"t 1", "d 2", "i 3", "w 4", "e 5", "c 6"};
  for (std::size_t i = 0; i < 6; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(rs[i].level, levels[i]);
    EXPECT_EQ(rs[i].message, texts[i]);
    EXPECT_EQ(rs[i].logger, "worker");
    EXPECT_EQ(rs[i].pid, static_cast<std::uint32_t>(::getpid()));
    EXPECT_EQ(rs[i].file, "spdlog_sink.cpp");
    EXPECT_EQ(rs[i].line, static_cast<std::uint32_t>(line + static_cast<int>(i)));
    EXPECT_EQ(rs[i].function, "TestBody");
    EXPECT_GE(rs[i].time_ns, before);
    EXPECT_LE(rs[i].time_ns, after);
  }
  EXPECT_EQ(rs[6].line, 0u);
  EXPECT_EQ(rs[6].file, "");
  EXPECT_EQ(rs[6].function, "");
}

TEST(SpdlogSink, stores_only_the_logs_own_sinks_do_not_print_it_again) {
  sk::Share<State> s;
  int log_sink_calls = 0;
  s->log.set_sink([&](const sk::LogRecord&) { ++log_sink_calls; });
  Capture own("%v");  // the logger's other sink prints it once
  spdlog::logger lg("worker", {sk::spdlog_sink(s->log), own.sink});
  lg.info("once");
  EXPECT_EQ(log_sink_calls, 0);
  EXPECT_EQ(own.lines(), std::vector<std::string>{"once"});
  EXPECT_EQ(s->log.messages(), std::vector<std::string>{"once"});
}

TEST(SpdlogSink, the_logs_shared_level_filters_spdlog_records_too) {
  sk::Share<State> s;
  s->log.no_sinks();
  spdlog::logger lg("worker", sk::spdlog_sink(s->log));
  lg.set_level(spdlog::level::trace);
  s->log.set_level(sk::LogLevel::warning);
  lg.info("filtered by the Log");
  lg.warn("kept");
  lg.set_level(spdlog::level::err);
  lg.warn("filtered by spdlog");
  EXPECT_EQ(s->log.messages(), std::vector<std::string>{"kept"});
}

TEST(SpdlogSink, st_variant_and_the_default_logger_name) {
  sk::Share<State> s;
  s->log.no_sinks();
  spdlog::logger named("db", sk::spdlog_sink_st(s->log));
  spdlog::logger unnamed("", sk::spdlog_sink_st(s->log));
  named.error("e");
  unnamed.info("i");
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].logger, "db");
  EXPECT_EQ(rs[1].logger, "svc");  // spdlog's unnamed (default) logger: the Log's name
}

TEST(LogForwarder, forwards_each_record_once_with_its_time_level_name_pid_and_location) {
  sk::Share<State> s;
  s->log.no_sinks();
  spdlog::logger lg("worker", sk::spdlog_sink(s->log));
  Capture cap("%E.%F|%n|%l|%t|%s|%#|%!|%v");
  const int line = __LINE__ + 1;
  SPDLOG_LOGGER_CALL((&lg), spdlog::level::warn, "slow {}", 1);
  s->log.error("native {}", 2);  // the Log's own calls are in the same stream
  {
    sk::LogForwarder fwd(s->log, {cap.sink});
    fwd.drain();
    EXPECT_EQ(fwd.forwarded(), 2u);
    EXPECT_EQ(fwd.position(), 2u);
  }
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 2u);
  auto stamp = [](std::int64_t ns) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(ns / 1'000'000'000),
                  static_cast<long long>(ns % 1'000'000'000));
    return std::string(buf);
  };
  const std::string pid = std::to_string(::getpid());
  EXPECT_EQ(cap.lines(),
            (std::vector<std::string>{
                stamp(rs[0].time_ns) + "|worker|warning|" + pid + "|spdlog_sink.cpp|" + std::to_string(line) +
                    "|TestBody|slow 1",
                stamp(rs[1].time_ns) + "|svc|error|" + pid + "||||native 2"}));
}

TEST(LogForwarder, drain_returns_once_everything_written_before_it_was_forwarded) {
  sk::Share<State> s;
  s->log.no_sinks();
  spdlog::logger lg("worker", sk::spdlog_sink(s->log));
  Capture cap("%v");
  sk::LogForwarder fwd(s->log, {cap.sink});
  for (int round = 1; round <= 5; ++round) {
    for (int i = 0; i < 1000; ++i) lg.info("r{} {}", round, i);
    fwd.drain();
    EXPECT_EQ(fwd.forwarded(), static_cast<std::uint64_t>(round) * 1000);
    EXPECT_EQ(fwd.position(), s->log.written());
    const auto lines = cap.lines();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(round) * 1000);
    EXPECT_EQ(lines.back(), "r" + std::to_string(round) + " 999");
  }
  EXPECT_EQ(fwd.skipped(), 0u);
  EXPECT_EQ(fwd.lost(), 0u);
}

TEST(LogForwarder, flush_makes_a_buffered_file_sink_complete_on_disk) {
  sk::Share<State> s;
  s->log.no_sinks();
  TempFileSink file("flush", "%v");
  sk::LogForwarder fwd(s->log, {file.sink});
  spdlog::logger lg("worker", sk::spdlog_sink(s->log));
  for (int i = 0; i < 3000; ++i) lg.info("line {}", i);
  fwd.flush();
  const auto lines = file.lines();
  ASSERT_EQ(lines.size(), 3000u);
  EXPECT_EQ(lines.front(), "line 0");
  EXPECT_EQ(lines.back(), "line 2999");
}

TEST(LogForwarder, destructor_drains_and_flushes) {
  sk::Share<State> s;
  s->log.no_sinks();
  TempFileSink file("dtor", "%v");
  {
    sk::LogForwarder fwd(s->log, {file.sink});
    for (int i = 0; i < 500; ++i) s->log.info("x{}", i);
  }
  EXPECT_EQ(file.lines().size(), 500u);
}

TEST(LogForwarder, from_start_false_forwards_only_what_comes_next) {
  sk::Share<State> s;
  s->log.no_sinks();
  for (int i = 0; i < 5; ++i) s->log.info("old {}", i);
  Capture cap("%v");
  sk::LogForwarder fwd(s->log, {cap.sink}, {.from_start = false});
  s->log.info("new");
  fwd.drain();
  EXPECT_EQ(cap.lines(), std::vector<std::string>{"new"});
  EXPECT_EQ(fwd.skipped(), 0u);
}

TEST(LogForwarder, records_that_left_retention_before_forwarding_are_reported_not_silently_lost) {
  sk::Share<State> s;
  s->small.no_sinks();
  for (int i = 0; i < 100; ++i) s->small.info("r{}", i);  // retention 10: 90 gone before the forwarder starts
  Capture cap("%l|%n|%v");
  sk::LogForwarder fwd(s->small, {cap.sink});
  fwd.drain();
  EXPECT_EQ(fwd.skipped(), 90u);
  EXPECT_EQ(fwd.forwarded(), 10u);
  const auto lines = cap.lines();
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(lines[0],
            "warning|small|sk::LogForwarder: 90 record(s) between seq 0 and 99 left the Log's retention (or were "
            "cleared) before they could be forwarded (give the Log a larger sk::LogRetention, or forward sooner)");
  EXPECT_EQ(lines[1], "info|small|r90");
  EXPECT_EQ(lines[10], "info|small|r99");
}

TEST(LogForwarder, sink_levels_are_respected_and_several_sinks_each_get_each_record) {
  sk::Share<State> s;
  s->log.no_sinks();
  Capture all("%v"), warn_up("%v");
  warn_up.sink->set_level(spdlog::level::warn);
  sk::LogForwarder fwd(s->log, {all.sink, warn_up.sink});
  s->log.info("a");
  s->log.warning("b");
  s->log.debug("c");
  s->log.critical("d");
  fwd.drain();
  EXPECT_EQ(all.lines(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(warn_up.lines(), (std::vector<std::string>{"b", "d"}));
}

}  // namespace
