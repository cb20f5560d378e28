// sk::List and sk::Object from several threads at once (run under TSan):
// appenders, readers and a clearer on one list; updaters and readers on one
// Object.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/object.hpp>

namespace {

struct State {
  sk::List<long> numbers;
  sk::List<std::string> words;
  sk::Object<std::vector<long>> seq;
};
SK_SHARE(State, numbers, words, seq);

TEST(ListThreads, threads_4appenders_2readers) {
  constexpr long kPer = 5000;
  constexpr int kWriters = 4;
  sk::Share<State> s(64 << 20);
  std::atomic<bool> done{false};
  std::vector<std::thread> ts;
  for (int w = 0; w < kWriters; ++w) {
    ts.emplace_back([&, w] {
      for (long k = 0; k < kPer; ++k) {
        s->numbers.append(w * kPer + k);
        if (k % 8 == 0) s->words.append(std::to_string(w * kPer + k));
      }
    });
  }
  std::atomic<long> reads{0};
  for (int r = 0; r < 2; ++r) {
    ts.emplace_back([&] {
      std::size_t last = 0;
      do {  // at least one pass, even if the writers finish first
        const std::size_t n = s->numbers.size();
        EXPECT_GE(n, last);  // the published prefix only grows
        last = n;
        if (n > 0) (void)s->numbers.at(n - 1);
        const auto words = s->words.snapshot();
        for (const auto& word : words) EXPECT_FALSE(word.empty());
        reads.fetch_add(1);
      } while (!done.load());
    });
  }
  for (int w = 0; w < kWriters; ++w) ts[static_cast<std::size_t>(w)].join();
  done = true;
  for (std::size_t t = kWriters; t < ts.size(); ++t) ts[t].join();
  auto all = s->numbers.snapshot();
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kWriters * kPer));
  std::sort(all.begin(), all.end());
  for (long v = 0; v < kWriters * kPer; ++v) ASSERT_EQ(all[static_cast<std::size_t>(v)], v);
  EXPECT_EQ(s->words.size(), static_cast<std::size_t>(kWriters * kPer / 8));
  EXPECT_GT(reads.load(), 0);
}

TEST(ListThreads, threads_2appenders_1clearer_1reader) {
  sk::Share<State> s(64 << 20);
  std::atomic<bool> done{false};
  std::vector<std::thread> ts;
  for (int w = 0; w < 2; ++w) {
    ts.emplace_back([&] {
      for (int k = 0; k < 3000; ++k) s->words.append(std::string(40, static_cast<char>('a' + k % 26)));
    });
  }
  std::thread clearer([&] {
    while (!done.load()) {
      s->words.clear();
      std::this_thread::yield();
    }
  });
  std::thread reader([&] {
    while (!done.load()) {
      for (const auto& w : s->words.snapshot()) ASSERT_EQ(w.size(), 40u);
    }
  });
  for (auto& t : ts) t.join();
  done = true;
  clearer.join();
  reader.join();
  s->words.clear();
  EXPECT_EQ(s->words.size(), 0u);
  s->words.append("x");
  EXPECT_EQ(s->words.snapshot(), std::vector<std::string>{"x"});
}

// clear() returns chunks and blocks while readers copy (issue #15): readers
// validate every element (a returned block is reused by the Object churn
// with other bytes); every appended word is well-formed and each appender's
// words stay in order. Under TSan this also checks the reader-floor protocol.
TEST(ListThreads, threads_2appenders_2readers_1clearer_1churner_reclaim_under_readers) {
  sk::Share<State> s(64 << 20);
  std::atomic<bool> done{false};
  auto word = [](int w, int k) { return std::to_string(w) + ":" + std::to_string(k) + ":" + std::string(k % 97, 'q'); };
  std::vector<std::thread> ts;
  for (int w = 0; w < 2; ++w)
    ts.emplace_back([&, w] {
      for (int k = 0; k < 6000; ++k) s->words.append(word(w, k));
    });
  std::atomic<long> checked{0};
  for (int r = 0; r < 2; ++r)
    ts.emplace_back([&] {
      do {
        int last[2] = {-1, -1};
        for (const auto& x : s->words.snapshot()) {
          int w = -1, k = -1;
          ASSERT_EQ(std::sscanf(x.c_str(), "%d:%d:", &w, &k), 2) << x.substr(0, 30);
          ASSERT_TRUE(w == 0 || w == 1) << x.substr(0, 30);
          ASSERT_EQ(x, word(w, k));
          ASSERT_GT(k, last[w]);
          last[w] = k;
          checked.fetch_add(1, std::memory_order_relaxed);
        }
      } while (!done.load());
    });
  std::thread clearer([&] {
    while (!done.load()) {
      s->words.clear();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::thread churn([&] {
    for (int i = 0; !done.load(); ++i) s->seq.store(std::vector<long>(static_cast<std::size_t>(1 + i % 700), -1));
  });
  ts[0].join();
  ts[1].join();
  done = true;
  for (std::size_t t = 2; t < ts.size(); ++t) ts[t].join();
  clearer.join();
  churn.join();
  EXPECT_GT(checked.load(), 0);
  s->words.clear();
  EXPECT_EQ(s->words.size(), 0u);
}

TEST(ObjectThreads, threads_3updaters_2readers) {
  constexpr int kPer = 400;
  sk::Share<State> s(64 << 20);
  std::atomic<bool> done{false};
  std::vector<std::thread> ws;
  for (int w = 0; w < 3; ++w) {
    ws.emplace_back([&] {
      for (int k = 0; k < kPer; ++k) s->seq.update([](std::vector<long>& v) { v.push_back(static_cast<long>(v.size())); });
    });
  }
  std::vector<std::thread> rs;
  for (int r = 0; r < 2; ++r) {
    rs.emplace_back([&] {
      while (!done.load()) {
        const auto v = s->seq.load();  // never torn: v[i] == i
        for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], static_cast<long>(i));
      }
    });
  }
  for (auto& t : ws) t.join();
  done = true;
  for (auto& t : rs) t.join();
  EXPECT_EQ(s->seq.load().size(), static_cast<std::size_t>(3 * kPer));
}

}  // namespace
