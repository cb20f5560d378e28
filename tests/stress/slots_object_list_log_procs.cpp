// sk::Object / sk::List / sk::Log from 2, 4 and 8 forked processes at once:
// exact totals, every append exactly once, one log order consistent with each
// process's program order.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>
#include <sk/slots/object.hpp>

#include "test_fork.hpp"

namespace {

struct State {
  sk::Object<std::map<std::string, long>> tally;
  sk::List<long> numbers;
  sk::List<std::string> words;
  sk::Log log{"procs"};
};
SK_SHARE(State, tally, numbers, words, log);

// Runs body(i) in n forked children; true if all exited 0.
template <class Body>
bool run_children(int n, Body&& body) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    const pid_t pid = sktest::fork();
    if (pid == 0) {
      int rc = 0;
      try {
        body(i);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", i, e.what());
        rc = 1;
      }
      ::_exit(rc);
    }
    pids.push_back(pid);
  }
  bool ok = true;
  for (const pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return ok;
}

void object_exact_totals(int procs) {
  constexpr int kUpdates = 300;
  sk::Share<State> s;
  ASSERT_TRUE(run_children(procs, [&](int i) {
    for (int k = 0; k < kUpdates; ++k) {
      s->tally.update([&](auto& m) {
        ++m["total"];
        ++m["p" + std::to_string(i)];
      });
      if (k % 50 == 0) (void)s->tally.load();  // readers interleaved with writers
    }
  }));
  const auto m = s->tally.load();
  EXPECT_EQ(m.at("total"), procs * kUpdates);
  for (int i = 0; i < procs; ++i) EXPECT_EQ(m.at("p" + std::to_string(i)), kUpdates);
}

void list_every_append_once(int procs) {
  constexpr long kAppends = 3000;
  sk::Share<State> s(64 << 20);
  ASSERT_TRUE(run_children(procs, [&](int i) {
    for (long k = 0; k < kAppends; ++k) {
      s->numbers.append(i * kAppends + k);
      if (k % 4 == 0) s->words.append("p" + std::to_string(i) + ":" + std::to_string(k));
      if (k % 500 == 0) (void)s->numbers.size();
    }
  }));
  auto nums = s->numbers.snapshot();
  ASSERT_EQ(nums.size(), static_cast<std::size_t>(procs * kAppends));
  std::sort(nums.begin(), nums.end());
  for (long v = 0; v < procs * kAppends; ++v) ASSERT_EQ(nums[static_cast<std::size_t>(v)], v);
  const auto words = s->words.snapshot();
  EXPECT_EQ(words.size(), static_cast<std::size_t>(procs * kAppends / 4));
  EXPECT_EQ(std::set<std::string>(words.begin(), words.end()).size(), words.size());
}

// 16 appenders cross chunk boundaries together in an arena with room for the
// list's chunks and little more: chunk growth must install
// each chunk once (one process allocates, the others wait for it). When every
// racer allocated its own copy and freed the losers', this ran out of memory
// (ArenaFull in an arena that was mostly free).
struct Longs {
  sk::List<long> items;
};
SK_SHARE(Longs, items);

void list_chunks_installed_once(int procs) {
  // Chunks 0..9 hold 64 * (2^10 - 1) = 65472 cells of 16 B: 1023 KiB in all,
  // the last one 512 KiB. The arena has 1152 KiB: one copy of each chunk
  // fits, two racing copies of chunk 9 do not.
  constexpr long kCells = 64 * ((1 << 10) - 1);
  const long per_proc = kCells / procs;
  sk::Share<Longs> s(std::size_t{1152} << 10);
  ASSERT_TRUE(run_children(procs, [&](int i) {
    for (long k = 0; k < per_proc; ++k) s->items.append(i * per_proc + k);
  }));
  auto all = s->items.snapshot();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(procs * per_proc));
  std::sort(all.begin(), all.end());
  for (long v = 0; v < procs * per_proc; ++v) ASSERT_EQ(all[static_cast<std::size_t>(v)], v);
}

void log_one_order(int procs) {
  constexpr int kRecords = 400;
  sk::Share<State> s(64 << 20);
  s->log.no_sinks();  // inherited by the children
  ASSERT_TRUE(run_children(procs, [&](int i) {
    for (int k = 0; k < kRecords; ++k) s->log.info("{} {}", i, k);
  }));
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), static_cast<std::size_t>(procs * kRecords));
  std::map<int, int> next;  // per process: the next k expected
  for (std::size_t j = 0; j < rs.size(); ++j) {
    EXPECT_EQ(rs[j].seq, j);  // one total order, no gaps
    int i = -1, k = -1;
    ASSERT_EQ(std::sscanf(rs[j].message.c_str(), "%d %d", &i, &k), 2);
    EXPECT_EQ(k, next[i]) << "process " << i << " out of program order";
    next[i] = k + 1;
  }
  EXPECT_EQ(next.size(), static_cast<std::size_t>(procs));
}

TEST(ObjectProcs, procs_2writers_exact_totals) { object_exact_totals(2); }
TEST(ObjectProcs, procs_4writers_exact_totals) { object_exact_totals(4); }
TEST(ObjectProcs, procs_8writers_exact_totals) { object_exact_totals(8); }
TEST(ListProcs, procs_2appenders_each_value_once) { list_every_append_once(2); }
TEST(ListProcs, procs_4appenders_each_value_once) { list_every_append_once(4); }
TEST(ListProcs, procs_8appenders_each_value_once) { list_every_append_once(8); }
TEST(ListProcs, procs_16appenders_tight_arena_each_chunk_installed_once) { list_chunks_installed_once(16); }
TEST(LogProcs, procs_2loggers_one_order) { log_one_order(2); }
TEST(LogProcs, procs_4loggers_one_order) { log_one_order(4); }
TEST(LogProcs, procs_8loggers_one_order) { log_one_order(8); }

}  // namespace
