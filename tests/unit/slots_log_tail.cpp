// sk::Log's records from other loggers (append: origin kept, no sinks run)
// and its cursor over the total order (read_from / wait_from), from the
// public API in one process (threads where a second party is needed).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/log.hpp>

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct State {
  sk::Log log{"svc"};
  sk::Log small{"small", sk::LogLevel::trace, sk::LogRetention{.records = 5}};
  sk::Log none{"none", sk::LogLevel::info, sk::LogRetention{.records = 0}};
};
SK_SHARE(State, log, small, none);

TEST(LogAppend, origin_round_trips_and_no_sink_of_this_process_runs) {
  sk::Share<State> s;
  int sink_calls = 0;
  s->log.set_sink([&](const sk::LogRecord&) { ++sink_calls; });
  const sk::LogOrigin origin{.logger = "db", .file = "/src/app/orders.cpp", .line = 42, .function = "commit",
                             .time_ns = 1'700'000'000'123'456'789};
  ASSERT_TRUE(s->log.append(sk::LogLevel::warning, "slow query", origin));
  EXPECT_EQ(sink_calls, 0) << "append() must not print: the other logger already did";
  s->log.info("native");
  EXPECT_EQ(sink_calls, 1);

  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].seq, 0u);
  EXPECT_EQ(rs[0].level, sk::LogLevel::warning);
  EXPECT_EQ(rs[0].logger, "db");
  EXPECT_EQ(rs[0].message, "slow query");
  EXPECT_EQ(rs[0].file, "orders.cpp");  // the last path component
  EXPECT_EQ(rs[0].line, 42u);
  EXPECT_EQ(rs[0].function, "commit");
  EXPECT_EQ(rs[0].time_ns, 1'700'000'000'123'456'789);
  EXPECT_EQ(rs[0].pid, static_cast<std::uint32_t>(::getpid()));
  EXPECT_FALSE(rs[0].truncated);
  // The Log's own record: its name, no location.
  EXPECT_EQ(rs[1].logger, "svc");
  EXPECT_EQ(rs[1].file, "");
  EXPECT_EQ(rs[1].line, 0u);
  EXPECT_EQ(rs[1].function, "");
}

TEST(LogAppend, empty_origin_means_the_logs_name_and_now) {
  sk::Share<State> s;
  const auto before = std::chrono::system_clock::now().time_since_epoch();
  ASSERT_TRUE(s->log.append(sk::LogLevel::info, "m", sk::LogOrigin{}));
  const auto r = s->log.records().at(0);
  EXPECT_EQ(r.logger, "svc");
  EXPECT_GE(r.time_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(before).count());
  EXPECT_EQ(r.line, 0u);
}

TEST(LogAppend, every_level_round_trips_and_the_shared_level_filters_appends_too) {
  sk::Share<State> s;
  s->small.no_sinks();
  for (auto l : {sk::LogLevel::trace, sk::LogLevel::debug, sk::LogLevel::info, sk::LogLevel::warning,
                 sk::LogLevel::error})
    ASSERT_TRUE(s->small.append(l, std::string(sk::to_string(l)), {}));
  s->small.critical("via {}", "critical()");
  const auto rs = s->small.records();
  ASSERT_EQ(rs.size(), 5u);  // retention 5: the trace record left
  EXPECT_EQ(rs[0].level, sk::LogLevel::debug);
  EXPECT_EQ(rs[0].message, "DEBUG");
  EXPECT_EQ(rs[4].level, sk::LogLevel::critical);
  EXPECT_EQ(rs[4].message, "via critical()");
  EXPECT_EQ(sk::to_string(sk::LogLevel::trace), "TRACE");
  EXPECT_EQ(sk::to_string(sk::LogLevel::critical), "CRITICAL");

  // The default level is INFO, for append() as for info().
  EXPECT_FALSE(s->log.append(sk::LogLevel::debug, "hidden", {}));
  EXPECT_FALSE(s->log.append(sk::LogLevel::trace, "hidden", {}));
  s->log.set_level(sk::LogLevel::error);
  EXPECT_FALSE(s->log.append(sk::LogLevel::warning, "hidden", {}));
  EXPECT_TRUE(s->log.append(sk::LogLevel::critical, "kept", {}));
  ASSERT_EQ(s->log.messages(), std::vector<std::string>{"kept"});
}

TEST(LogAppend, long_origin_fields_are_cut_and_share_the_room_left_by_the_message) {
  sk::Share<State> s;
  const std::string logger(40, 'L');
  const std::string file = "/very/deep/path/" + std::string(30, 'f') + "_tail.cpp";  // basename 39 bytes
  const std::string function(40, 'F');
  // A short message: each field is cut to kMaxOriginBytes (31); the file keeps its end.
  s->log.append(sk::LogLevel::info, "short", {.logger = logger, .file = file, .line = 7, .function = function});
  // A message over kMaxMessageBytes: 128 bytes kept, 56 left for the origin.
  s->log.append(sk::LogLevel::info, std::string(300, 'm'), {.logger = logger, .file = file, .line = 8,
                                                             .function = function});
  // Multi-byte characters are never split.
  const std::string e_acute = "\xC3\xA9";
  std::string accented;
  for (int i = 0; i < 20; ++i) accented += e_acute;  // 40 bytes
  s->log.append(sk::LogLevel::info, "utf8", {.logger = accented, .file = accented, .line = 9});
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 3u);
  static_assert(sk::Log::kMaxOriginBytes == 31);
  EXPECT_EQ(rs[0].logger, std::string(31, 'L'));
  EXPECT_EQ(rs[0].file, std::string(22, 'f') + "_tail.cpp");
  EXPECT_EQ(rs[0].function, std::string(31, 'F'));
  EXPECT_TRUE(rs[1].truncated);
  EXPECT_EQ(rs[1].message.size(), sk::Log::kMaxMessageBytes);
  EXPECT_EQ(rs[1].logger, std::string(31, 'L'));                                    // 31 of 56
  EXPECT_EQ(rs[1].file, std::string(16, 'f') + "_tail.cpp");                       // the other 25
  EXPECT_EQ(rs[1].function, "");                                                   // nothing left
  EXPECT_EQ(rs[1].line, 8u);
  std::string thirty;  // 15 whole characters (30 bytes): a 16th would need 32
  for (int i = 0; i < 15; ++i) thirty += e_acute;
  EXPECT_EQ(rs[2].logger, thirty);
  EXPECT_EQ(rs[2].file, thirty);
}

TEST(LogAppend, format_record_shows_the_source_location) {
  sk::LogRecord r{5, 42, sk::LogLevel::warning, 1'700'000'000'123'000'000, "db", "slow", false, "orders.cpp", 42,
                  "commit"};
  EXPECT_EQ(sk::format_record(r), "2023-11-14T22:13:20.123Z WARNING db[42] #5 orders.cpp:42: slow\n");
}

TEST(LogTail, read_from_returns_each_record_once_in_order_in_batches) {
  sk::Share<State> s;
  s->log.no_sinks();
  auto b = s->log.read_from(0);
  EXPECT_TRUE(b.records.empty());
  EXPECT_EQ(b.next, 0u);
  EXPECT_EQ(b.skipped, 0u);
  EXPECT_FALSE(b.waiting);
  for (int i = 0; i < 100; ++i) s->log.info("r{}", i);
  std::uint64_t at = 0;
  std::vector<std::string> seen;
  for (int calls = 0; at < 100; ++calls) {
    ASSERT_LT(calls, 100);
    b = s->log.read_from(at, 7);
    ASSERT_LE(b.records.size(), 7u);
    for (const auto& r : b.records) {
      EXPECT_EQ(r.seq, seen.size());
      seen.push_back(r.message);
    }
    EXPECT_EQ(b.skipped, 0u);
    EXPECT_FALSE(b.waiting);
    at = b.next;
  }
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[i], "r" + std::to_string(i));
  b = s->log.read_from(at);
  EXPECT_TRUE(b.records.empty());
  EXPECT_EQ(b.next, 100u);
  // Starting at written(): only what comes next.
  b = s->log.read_from(s->log.written());
  EXPECT_TRUE(b.records.empty());
  s->log.info("next");
  b = s->log.read_from(100);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].message, "next");
  EXPECT_EQ(b.records[0].seq, 100u);
}

TEST(LogTail, records_that_left_retention_or_were_cleared_are_counted_skipped) {
  sk::Share<State> s;
  s->small.no_sinks();
  for (int i = 0; i < 12; ++i) s->small.info("r{}", i);
  auto b = s->small.read_from(0);
  EXPECT_EQ(b.skipped, 7u);
  ASSERT_EQ(b.records.size(), 5u);
  EXPECT_EQ(b.records.front().seq, 7u);
  EXPECT_EQ(b.records.back().message, "r11");
  EXPECT_EQ(b.next, 12u);
  // From inside the window: no skip.
  b = s->small.read_from(9);
  EXPECT_EQ(b.skipped, 0u);
  EXPECT_EQ(b.records.size(), 3u);
  // clear() hides everything so far: a cursor below it skips to it.
  s->small.clear();
  s->small.info("after");
  b = s->small.read_from(10);
  EXPECT_EQ(b.skipped, 2u);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(b.records[0].message, "after");
  EXPECT_EQ(b.records[0].seq, 12u);
  // A Log that keeps nothing: every record is skipped at once.
  s->none.no_sinks();
  for (int i = 0; i < 3; ++i) s->none.info("x");
  b = s->none.read_from(0);
  EXPECT_EQ(b.skipped, 3u);
  EXPECT_TRUE(b.records.empty());
  EXPECT_EQ(b.next, 3u);
}

TEST(LogTail, wait_from_times_out_when_nothing_comes_and_wakes_on_a_commit) {
  sk::Share<State> s;
  s->log.no_sinks();
  auto t0 = Clock::now();
  EXPECT_FALSE(s->log.wait_from(0, 30ms));
  EXPECT_GE(Clock::now() - t0, 25ms);

  s->log.info("first");
  EXPECT_TRUE(s->log.wait_from(0, 10s));  // already there: at once

  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    s->log.info("second");
  });
  t0 = Clock::now();
  EXPECT_TRUE(s->log.wait_from(1, 10s));
  EXPECT_LT(Clock::now() - t0, 5s) << "the commit did not wake the reader";
  writer.join();
  EXPECT_EQ(s->log.read_from(1).records.at(0).message, "second");
}

TEST(LogTail, wait_from_returns_when_interrupted) {
  sk::Share<State> s;
  std::atomic<bool> stop{false};
  std::thread waker([&] {
    std::this_thread::sleep_for(50ms);
    stop.store(true);
    s->log.wake_readers();
  });
  const auto t0 = Clock::now();
  EXPECT_TRUE(s->log.wait_from(0, 10s, &stop));
  EXPECT_LT(Clock::now() - t0, 5s);
  waker.join();
}

TEST(LogTail, threads_4writers_1tailer_sees_every_record_once_in_one_order) {
  sk::Share<State> s;
  s->log.no_sinks();
  constexpr int kWriters = 4;
  constexpr int kEach = 2000;  // 8,000 < the default retention: nothing may be skipped
  std::vector<std::thread> ws;
  for (int w = 0; w < kWriters; ++w)
    ws.emplace_back([&, w] {
      for (int k = 0; k < kEach; ++k) s->log.info("{} {}", w, k);
    });
  std::vector<int> next_k(kWriters, 0);
  std::uint64_t at = 0;
  const auto deadline = Clock::now() + 60s;
  while (at < std::uint64_t{kWriters} * kEach && Clock::now() < deadline) {
    const auto b = s->log.read_from(at, 256);
    ASSERT_EQ(b.skipped, 0u);
    for (const auto& r : b.records) {
      ASSERT_EQ(r.seq, at++);
      int w = -1, k = -1;
      ASSERT_EQ(std::sscanf(r.message.c_str(), "%d %d", &w, &k), 2);
      ASSERT_EQ(k, next_k.at(static_cast<std::size_t>(w))) << "writer " << w << " out of its program order";
      ++next_k[static_cast<std::size_t>(w)];
    }
    if (b.records.empty()) s->log.wait_from(at, 100ms);
  }
  for (auto& t : ws) t.join();
  EXPECT_EQ(at, std::uint64_t{kWriters} * kEach);
  for (int w = 0; w < kWriters; ++w) EXPECT_EQ(next_k[static_cast<std::size_t>(w)], kEach);
}

}  // namespace
