// sk::Object, sk::List, sk::Log in one process (single-threaded behaviour).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/share.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>
#include <sk/slots/object.hpp>

namespace {

struct Job {
  std::string name;
  std::vector<int> steps;
  std::optional<double> weight;
  friend bool operator==(const Job&, const Job&) = default;
  SK_FIELDS(name, steps, weight)
};

struct Pt {
  int x = 0;
  int y = 0;
  friend bool operator==(const Pt&, const Pt&) = default;
};

struct State {
  sk::Object<std::map<std::string, std::vector<int>>> index;
  sk::Object<std::string> title{std::string("untitled")};
  sk::Object<Job> job;
  sk::List<std::string> names;
  sk::List<long> numbers;
  sk::List<Pt> points;
  sk::List<Job> jobs;
  sk::Log log{"unit"};
};
SK_SHARE(State, index, title, job, names, numbers, points, jobs, log);

// ---- Object -------------------------------------------------------------------

TEST(Object, starts_as_value_initialized_or_given_value) {
  sk::Share<State> s;
  EXPECT_TRUE(s->index.load().empty());
  EXPECT_EQ(s->title.load(), "untitled");
  EXPECT_EQ(s->job.load(), Job{});
}

TEST(Object, store_then_load_round_trips) {
  sk::Share<State> s;
  const std::map<std::string, std::vector<int>> m{{"a", {1, 2}}, {"b", {}}};
  s->index.store(m);
  EXPECT_EQ(s->index.load(), m);
  s->job = Job{"build", {1, 2, 3}, 0.5};
  EXPECT_EQ(static_cast<Job>(s->job), (Job{"build", {1, 2, 3}, 0.5}));
  EXPECT_GT(s->job.encoded_size(), 0u);
}

TEST(Object, update_returns_fn_result_and_is_visible) {
  sk::Share<State> s;
  const std::size_t n = s->index.update([](auto& m) {
    m["x"].push_back(7);
    return m.size();
  });
  EXPECT_EQ(n, 1u);
  s->index.update([](auto& m) { m["x"].push_back(8); });
  EXPECT_EQ(s->index.load().at("x"), (std::vector<int>{7, 8}));
  EXPECT_EQ(s->index.visit([](const auto& m) { return m.at("x").size(); }), 2u);
}

TEST(Object, throwing_update_publishes_nothing) {
  sk::Share<State> s;
  s->title.store("kept");
  const auto v = s->title.version();
  EXPECT_THROW(s->title.update([](std::string& t) {
    t = "lost";
    throw std::runtime_error("no");
  }),
               std::runtime_error);
  EXPECT_EQ(s->title.load(), "kept");
  EXPECT_NE(s->title.version(), v);  // the aborted write moved the version
  EXPECT_EQ(s->title.writer(), 0u);
}

TEST(Object, replaced_blocks_are_reclaimed) {
  sk::Share<State> s;
  s->title.store(std::string(1000, 'a'));
  const std::size_t before = s.arena().used();
  for (int i = 0; i < 2000; ++i) s->title.store(std::string(1000, static_cast<char>('a' + i % 26)));
  EXPECT_LT(s.arena().used(), before + 16 * 1024);  // ~8 retired blocks, not 2000
  EXPECT_EQ(s->title.load(), std::string(1000, static_cast<char>('a' + 1999 % 26)));
}

TEST(Object, outside_a_share_throws) { EXPECT_THROW(sk::Object<std::string>{}, sk::ShareError); }

TEST(Object, describe_shows_value) {
  sk::Share<State> s;
  s->title.store("hi");
  EXPECT_NE(s.describe().find("title: Object"), std::string::npos) << s.describe();
  EXPECT_NE(s.describe().find("\"hi\""), std::string::npos) << s.describe();
}

// ---- List ---------------------------------------------------------------------

TEST(List, append_size_at_snapshot) {
  sk::Share<State> s;
  EXPECT_TRUE(s->names.empty());
  EXPECT_EQ(s->names.append("a"), 0u);
  EXPECT_EQ(s->names.push_back("b"), 1u);
  s->names.extend(std::vector<std::string>{"c", "d"});
  EXPECT_EQ(s->names.size(), 4u);
  EXPECT_EQ(s->names.at(2), "c");
  EXPECT_EQ(s->names[3], "d");
  EXPECT_THROW((void)s->names.at(4), std::out_of_range);
  EXPECT_EQ(s->names.snapshot(), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(List, inline_and_serialized_elements) {
  sk::Share<State> s;
  s->points.append(Pt{1, 2});
  s->points.append(Pt{3, 4});
  EXPECT_EQ(s->points.snapshot(), (std::vector<Pt>{{1, 2}, {3, 4}}));
  s->jobs.append(Job{"j", {1}, std::nullopt});
  EXPECT_EQ(s->jobs.at(0), (Job{"j", {1}, std::nullopt}));
}

TEST(List, grows_over_many_chunks_without_moving) {
  sk::Share<State> s;
  constexpr long kN = 20000;  // chunks 0..8
  for (long i = 0; i < kN; ++i) s->numbers.append(i * 3);
  ASSERT_EQ(s->numbers.size(), static_cast<std::size_t>(kN));
  const auto all = s->numbers.snapshot();
  for (long i = 0; i < kN; ++i) ASSERT_EQ(all[static_cast<std::size_t>(i)], i * 3);
  EXPECT_EQ(s->numbers.at(12345), 12345 * 3);
  long sum = 0;
  s->numbers.for_each([&](long v) { sum += v; });
  EXPECT_EQ(sum, 3 * kN * (kN - 1) / 2);
}

TEST(List, clear_empties_and_frees_blocks) {
  sk::Share<State> s;
  s->names.append("warm");  // first chunk
  s->names.clear();
  const std::size_t before = s.arena().used();
  for (int i = 0; i < 50; ++i) s->names.append(std::string(500, 'x'));
  EXPECT_GT(s.arena().used(), before + 50 * 500);
  s->names.clear();
  EXPECT_EQ(s->names.size(), 0u);
  EXPECT_TRUE(s->names.snapshot().empty());
  EXPECT_LT(s.arena().used(), before + 1024);
  const auto seq = s->names.append("after");
  EXPECT_EQ(seq, 51u);  // sequence numbers keep growing
  EXPECT_EQ(s->names.snapshot(), std::vector<std::string>{"after"});
  EXPECT_EQ(s->names.at(0), "after");
}

// Issue #14: a clear() between a slow live appender (index 1, not yet
// published) and a dead cell above it (index 2, its appender threw) counted
// the dead cell as cleared although it lay above the new base: size() said 2
// while snapshot() had 1 element and at(1) threw.
TEST(List, clear_next_to_a_slow_appender_and_a_dead_cell_keeps_size_at_snapshot_in_agreement) {
  sk::Share<State> s;
  s->names.append("a");
  std::atomic<int> stage{0};
  std::thread slow([&] {
    s->names.append_with([&](std::uint64_t) -> std::string {
      stage = 1;
      while (stage.load() != 2) std::this_thread::yield();
      return "slow";
    });
  });
  while (stage.load() != 1) std::this_thread::yield();
  EXPECT_THROW(s->names.append_with([](std::uint64_t) -> std::string { throw std::runtime_error("no encoding"); }),
               std::runtime_error);
  s->names.clear();
  EXPECT_EQ(s->names.size(), 0u);
  EXPECT_TRUE(s->names.snapshot().empty());
  stage = 2;
  slow.join();
  EXPECT_EQ(s->names.reserved(), 3u);
  const auto all = s->names.snapshot();
  EXPECT_EQ(all, std::vector<std::string>{"slow"});
  EXPECT_EQ(s->names.size(), all.size());
  EXPECT_EQ(s->names.at(0), "slow");
  EXPECT_THROW((void)s->names.at(1), std::out_of_range);
}

// Dead cells in the middle: at(i) skips them (bisection over the dead
// counts) and agrees with snapshot() for every i.
TEST(List, at_skips_dead_cells_and_agrees_with_snapshot) {
  sk::Share<State> s;
  std::vector<long> expect;
  for (long k = 0; k < 3000; ++k) {
    if (k % 7 == 3) {
      EXPECT_THROW(s->numbers.append_with([](std::uint64_t) -> long { throw std::runtime_error("skip"); }),
                   std::runtime_error);
      continue;
    }
    s->numbers.append(k);
    expect.push_back(k);
  }
  EXPECT_EQ(s->numbers.snapshot(), expect);
  ASSERT_EQ(s->numbers.size(), expect.size());
  for (std::size_t i = 0; i < expect.size(); i += 13) ASSERT_EQ(s->numbers.at(i), expect[i]) << i;
  EXPECT_EQ(s->numbers.at(expect.size() - 1), expect.back());
  EXPECT_THROW((void)s->numbers.at(expect.size()), std::out_of_range);
}

// Issue #15: clear() returns chunks and element blocks, so a list that is
// filled and cleared over and over keeps the arena's use flat (chunks used
// to stay for ever, and grew with the index space).
TEST(List, fill_clear_cycles_keep_arena_use_flat) {
  sk::Share<State> s;
  auto cycle = [&](int c) {
    for (int i = 0; i < 1000; ++i) {
      s->names.append(std::string(static_cast<std::size_t>(40 + (i * 7 + c) % 200), 'x'));
      s->numbers.append(i);
    }
    EXPECT_EQ(s->names.size(), 1000u);
    s->names.clear();
    s->numbers.clear();
  };
  std::size_t warm = 0;
  for (int c = 0; c < 20; ++c) {
    cycle(c);
    warm = std::max(warm, s.arena().used());
  }
  std::size_t peak = 0;
  for (int c = 20; c < 400; ++c) {
    cycle(c);
    peak = std::max(peak, s.arena().used());
  }
  std::printf("arena used after clear: warm-up max %zu B, later max %zu B\n", warm, peak);
  EXPECT_LE(peak, warm + (64 << 10));
  EXPECT_TRUE(s->names.empty());
  EXPECT_EQ(s->numbers.append(5), 400u * 1000u);  // sequence numbers still grow
  EXPECT_EQ(s->numbers.snapshot(), std::vector<long>{5});
}

TEST(List, outside_a_share_throws) { EXPECT_THROW(sk::List<int>{}, sk::ShareError); }

// ---- Log ----------------------------------------------------------------------

TEST(Log, records_messages_in_order_with_fields) {
  sk::Share<State> s;
  s->log.no_sinks();
  s->log.info("job {} took {:.1f} s", 7, 1.25);
  s->log.warning("disk at {}%", 91);
  s->log.error("failed: {}", std::string("io"));
  EXPECT_EQ(s->log.messages(), (std::vector<std::string>{"job 7 took 1.2 s", "disk at 91%", "failed: io"}));
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 3u);
  for (std::size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(rs[i].seq, i);
    EXPECT_EQ(rs[i].pid, static_cast<std::uint32_t>(::getpid()));
    EXPECT_EQ(rs[i].logger, "unit");
    EXPECT_GT(rs[i].time_ns, 0);
  }
  EXPECT_EQ(rs[1].level, sk::LogLevel::warning);
  EXPECT_EQ(s->log.name(), "unit");
}

TEST(Log, level_filter_drops_lower_records) {
  sk::Share<State> s;
  s->log.no_sinks();
  s->log.set_level(sk::LogLevel::warning);
  s->log.debug("d");
  s->log.info("i");
  s->log.warning("w");
  s->log.error("e");
  EXPECT_EQ(s->log.messages(), (std::vector<std::string>{"w", "e"}));
  EXPECT_FALSE(s->log.write(sk::LogLevel::info, "x"));
  EXPECT_EQ(s->log.level(), sk::LogLevel::warning);
}

TEST(Log, callable_and_file_sinks) {
  sk::Share<State> s;
  std::vector<std::string> seen;
  s->log.set_sink([&](const sk::LogRecord& r) { seen.push_back(r.message); });
  s->log.info("one");
  s->log.info("two");
  EXPECT_EQ(seen, (std::vector<std::string>{"one", "two"}));

  const std::string path = "/tmp/sk-log-unit-" + std::to_string(::getpid()) + ".log";
  std::remove(path.c_str());
  s->log.sink_to_file(path);
  s->log.error("to file {}", 3);
  s->log.add_sink([&](const sk::LogRecord& r) { seen.push_back(r.message); });
  s->log.info("both");
  std::ifstream f(path);
  std::string l1, l2;
  std::getline(f, l1);
  std::getline(f, l2);
  EXPECT_NE(l1.find("ERROR unit["), std::string::npos) << l1;
  EXPECT_NE(l1.find("#2: to file 3"), std::string::npos) << l1;
  EXPECT_NE(l2.find("INFO unit["), std::string::npos) << l2;
  EXPECT_EQ(seen.back(), "both");
  std::remove(path.c_str());
  EXPECT_THROW(s->log.sink_to_file("/nonexistent-dir/x.log"), sk::Error);
}

TEST(Log, format_record_layout) {
  sk::LogRecord r{5, 42, sk::LogLevel::info, 1'700'000'000'123'000'000, "w", "msg"};
  EXPECT_EQ(sk::format_record(r), "2023-11-14T22:13:20.123Z INFO w[42] #5: msg\n");
}

TEST(Log, describe_and_clear) {
  sk::Share<State> s;
  s->log.no_sinks();
  s->log.info("x");
  EXPECT_NE(s.describe().find("1 record(s)"), std::string::npos) << s.describe();
  s->log.clear();
  EXPECT_EQ(s->log.size(), 0u);
}

}  // namespace
