// sk::Log's cursor across processes: a commit in one process wakes a reader
// parked in another; a writer killed between its ticket and its commit
// leaves a hole that read_from() reports as `waiting` (and never skips on
// its own), while the records after it are all readable.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/log.hpp>

#include "log_hole.hpp"
#include "share_procs.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct State {
  sk::Log log{"tail"};
};
SK_SHARE(State, log);

TEST(LogTailProcs, procs_1writer_1waiter_a_commit_in_another_process_wakes_the_waiter) {
  sk::Share<State> s;
  s->log.no_sinks();
  for (int round = 0; round < 5; ++round) {
    const std::uint64_t at = s->log.written();
    const pid_t child = sktest::spawn([&] {
      std::this_thread::sleep_for(30ms);
      s->log.info("from the child {}", round);
      return true;
    });
    const auto t0 = Clock::now();
    EXPECT_TRUE(s->log.wait_from(at, 20s));
    EXPECT_LT(Clock::now() - t0, 10s);
    EXPECT_EQ(sktest::reap(child), 0);
    const auto b = s->log.read_from(at);
    ASSERT_EQ(b.records.size(), 1u);
    EXPECT_EQ(b.records[0].message, "from the child " + std::to_string(round));
    EXPECT_NE(b.records[0].pid, static_cast<std::uint32_t>(::getpid()));
  }
}

TEST(LogTailProcs, procs_each_record_carries_its_writers_pid_also_in_children_of_a_process_that_logged) {
  sk::Share<State> s;
  s->log.no_sinks();
  s->log.info("parent");  // the parent's pid is known (cached) before the forks
  const pid_t child = sktest::spawn([&] {
    s->log.info("child");
    const pid_t grandchild = sktest::spawn([&] { return s->log.append(sk::LogLevel::info, "grandchild", {}); });
    return sktest::reap(grandchild) == 0;
  });
  ASSERT_EQ(sktest::reap(child), 0);
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].pid, static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(rs[1].pid, static_cast<std::uint32_t>(child));
  EXPECT_NE(rs[2].pid, static_cast<std::uint32_t>(child));
  EXPECT_NE(rs[2].pid, static_cast<std::uint32_t>(::getpid()));
  EXPECT_EQ(rs[2].message, "grandchild");
}

TEST(LogTailProcs, procs_writer_killed_between_ticket_and_commit_leaves_a_reported_hole) {
  sk::Share<State> s;
  s->log.no_sinks();
  const logtest::Hole hole = logtest::kill_writer_mid_record(s->log, [&] { s->log.info("child record"); });
  ASSERT_NE(hole.seq, UINT64_MAX) << "never caught the child mid-record in " << hole.tries << " stops";
  std::printf("caught the writer mid-record after %d stops, at seq %llu\n", hole.tries,
              static_cast<unsigned long long>(hole.seq));
  for (int i = 0; i < 3; ++i) s->log.info("after {}", i);

  // The hole holds a cursor (the reader decides how long to wait for it) ...
  auto b = s->log.read_from(hole.seq);
  EXPECT_TRUE(b.waiting);
  EXPECT_EQ(b.next, hole.seq);
  EXPECT_TRUE(b.records.empty());
  EXPECT_FALSE(s->log.wait_from(hole.seq, 20ms));
  // ... and everything after it is there, in order (one killed writer: one hole).
  b = s->log.read_from(hole.seq + 1, 1 << 20);
  EXPECT_FALSE(b.waiting);
  EXPECT_EQ(b.skipped, 0u);
  EXPECT_EQ(b.next, s->log.written());
  std::vector<std::string> after;
  for (const auto& r : b.records)
    if (r.message.rfind("after", 0) == 0) after.push_back(r.message);
  EXPECT_EQ(after, (std::vector<std::string>{"after 0", "after 1", "after 2"}));
  // records() skips the hole.
  const auto rs = s->log.records();
  for (const auto& r : rs) EXPECT_NE(r.seq, hole.seq);
  EXPECT_EQ(rs.back().message, "after 2");
}

}  // namespace
