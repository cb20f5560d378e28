// suitkaise::spdlog across processes: 4 processes x 10,000 spdlog calls
// through sk::spdlog_sink while the parent's sk::LogForwarder tails the Log
// into a file. The Log holds every record once, in one order consistent with
// each process's own order; the file holds each record exactly once, in the
// same order; level, logger name, pid and source location survive the trip.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/spdlog.h>

#include <sk/share.hpp>
#include <sk/spdlog.hpp>

#include "share_procs.hpp"
#include "spdlog_capture.hpp"

namespace {

constexpr int kProcs = 4;
constexpr int kCalls = 10'000;

struct State {
  // Retention = every record of the test: none may leave before it is checked.
  sk::Log log{"svc", sk::LogLevel::info, sk::LogRetention{.records = kProcs * kCalls}};
};
SK_SHARE(State, log);

// "w k": writer w's k-th call.
bool parse(const std::string& m, int& w, int& k) { return std::sscanf(m.c_str(), "%d %d", &w, &k) == 2; }

template <class MakeSink>
void four_writers_every_record_once_in_order(MakeSink make_sink) {
  sk::Share<State> s(std::size_t{48} << 20);
  s->log.no_sinks();
  spdlogtest::TempFileSink file("procs", "%t %n %v");
  sk::LogForwarder fwd(s->log, {file.sink});  // tails while the workers write

  ASSERT_TRUE(sktest::run_children(kProcs, [&](int w) {
    spdlog::logger lg("w" + std::to_string(w), make_sink(s->log));
    for (int k = 0; k < kCalls; ++k) lg.info("{} {}", w, k);
    return true;
  }));
  EXPECT_EQ(s->log.written(), std::uint64_t{kProcs} * kCalls);
  EXPECT_EQ(s->log.dropped(), 0u);

  // The Log: every record once, seq 0..N-1, each writer in its own order.
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), std::size_t{kProcs} * kCalls);
  std::map<int, int> next_k;
  std::map<int, std::uint32_t> pid_of;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    ASSERT_EQ(rs[i].seq, i);
    int w = -1, k = -1;
    ASSERT_TRUE(parse(rs[i].message, w, k)) << rs[i].message;
    ASSERT_EQ(k, next_k[w]++) << "writer " << w << " out of its own order at seq " << i;
    ASSERT_EQ(rs[i].logger, "w" + std::to_string(w));
    auto [it, fresh] = pid_of.try_emplace(w, rs[i].pid);
    ASSERT_EQ(it->second, rs[i].pid) << "writer " << w << " changed pid";
  }
  ASSERT_EQ(next_k.size(), std::size_t{kProcs});
  for (auto [w, n] : next_k) EXPECT_EQ(n, kCalls) << "writer " << w;
  EXPECT_EQ(s->log.messages().size(), rs.size());

  // The forwarded file: each record exactly once, in the Log's order.
  fwd.flush();
  EXPECT_EQ(fwd.forwarded(), rs.size());
  EXPECT_EQ(fwd.skipped(), 0u);
  EXPECT_EQ(fwd.lost(), 0u);
  const auto lines = file.lines();
  ASSERT_EQ(lines.size(), rs.size());
  std::set<std::string> unique(lines.begin(), lines.end());
  EXPECT_EQ(unique.size(), lines.size());
  for (std::size_t i = 0; i < rs.size(); ++i)
    ASSERT_EQ(lines[i], std::to_string(rs[i].pid) + " " + rs[i].logger + " " + rs[i].message) << "line " << i;
}

TEST(SpdlogProcs, procs_4writers_10000_calls_mt_sink_every_record_once_in_one_order_forwarded_once) {
  four_writers_every_record_once_in_order([](sk::Log& log) { return sk::spdlog_sink(log); });
}

TEST(SpdlogProcs, procs_4writers_10000_calls_st_sink_every_record_once_in_one_order_forwarded_once) {
  four_writers_every_record_once_in_order([](sk::Log& log) { return sk::spdlog_sink_st(log); });
}

TEST(SpdlogProcs, procs_1writer_level_name_pid_and_source_location_round_trip_to_the_parents_sinks) {
  sk::Share<State> s(std::size_t{48} << 20);
  s->log.no_sinks();
  constexpr int line = __LINE__ + 3;  // the SPDLOG_LOGGER_CALL below
  const pid_t child = sktest::spawn([&] {
    spdlog::logger lg("db", sk::spdlog_sink(s->log));
    SPDLOG_LOGGER_CALL((&lg), spdlog::level::err, "lost connection {}", 7);
    return true;
  });
  ASSERT_EQ(sktest::reap(child), 0);
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].pid, static_cast<std::uint32_t>(child));
  EXPECT_EQ(rs[0].logger, "db");
  EXPECT_EQ(rs[0].level, sk::LogLevel::error);
  EXPECT_EQ(rs[0].file, "spdlog_sink_procs.cpp");
  EXPECT_EQ(rs[0].line, static_cast<std::uint32_t>(line));
  EXPECT_EQ(rs[0].function, "operator()");
  EXPECT_EQ(rs[0].message, "lost connection 7");

  spdlogtest::Capture cap("[%n] [%l] [%t] %s:%# %v");
  {
    sk::LogForwarder fwd(s->log, {cap.sink});
  }
  EXPECT_EQ(cap.out.str(), "[db] [error] [" + std::to_string(child) + "] spdlog_sink_procs.cpp:" +
                               std::to_string(line) + " lost connection 7\n");
}

TEST(SpdlogProcs, procs_children_forked_while_forwarding_to_a_buffered_file_never_write_its_lines_again) {
  // spdlog's file sinks buffer in a FILE*; a child that flushes stdio (as
  // exit() does) while it holds a copy of unflushed forwarded lines would
  // append them a second time.
  sk::Share<State> s(std::size_t{48} << 20);
  s->log.no_sinks();
  spdlogtest::TempFileSink file("fork", "%v");
  sk::LogForwarder fwd(s->log, {file.sink});
  std::atomic<bool> done{false};
  std::thread writer([&] {  // keeps the forwarder busy filling the file's buffer
    for (int k = 0; !done.load(std::memory_order_relaxed); ++k) s->log.info("record {}", k);
  });
  for (int i = 0; i < 100; ++i) {
    const pid_t child = ::fork();
    if (child == 0) {  // what exit() does to stdio (without exit()'s leak check under ASan)
      std::fflush(nullptr);
      ::_exit(0);
    }
    int st = 0;
    ::waitpid(child, &st, 0);
  }
  done.store(true);
  writer.join();
  fwd.flush();
  std::vector<std::string> lines;  // the records (the writer may outrun retention: those are reported, not lines)
  for (auto& l : file.lines())
    if (l.rfind("sk::LogForwarder:", 0) != 0) lines.push_back(std::move(l));
  EXPECT_EQ(lines.size(), fwd.forwarded());
  EXPECT_EQ(fwd.forwarded(), s->log.written() - fwd.skipped());
  std::set<std::string> unique(lines.begin(), lines.end());
  EXPECT_EQ(unique.size(), lines.size()) << "a forked child wrote forwarded lines again";
}

}  // namespace
