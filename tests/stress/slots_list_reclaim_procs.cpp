// sk::List::clear() returns chunks and element blocks to the arena while
// other processes append and read (issue #15). Appenders, readers, a clearer
// and a process that churns the arena (so that returned memory is handed out
// again at once and overwritten with 0xEE bytes) run together; readers check
// every element they copy. A reader that read returned memory would see a
// wrong number or a string that is not one of the appended ones. Run under
// the asan preset too (ASan + UBSan on every process).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/object.hpp>

#include "share_procs.hpp"

namespace {

struct State {
  sk::List<std::string> words;
  sk::List<long> numbers;
  sk::Object<std::string> junk;
  sk::Atomic<int> stop;
  sk::Atomic<long> checked;
};
SK_SHARE(State, words, numbers, junk, stop, checked);

constexpr long kStride = 1'000'000'000L;

std::string word(int w, long k) {
  return "w" + std::to_string(w) + ":" + std::to_string(k) + ":" +
         std::string(static_cast<std::size_t>(k % 300), static_cast<char>('a' + (w * 31 + k) % 26));
}

// True if s is word(w, k) for some w < appenders; sets w and k.
bool parse_word(const std::string& s, int appenders, int& w, long& k) {
  if (std::sscanf(s.c_str(), "w%d:%ld:", &w, &k) != 2 || w < 0 || w >= appenders || k < 0) return false;
  return s == word(w, k);
}

bool fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "reader %d: %s: %s\n", static_cast<int>(::getpid()), what, detail.c_str());
  std::fflush(stderr);
  return false;
}

// One pass of a reader: every element valid, each appender's in order.
bool check_once(sk::Share<State>& s, int appenders) {
  std::vector<long> last(static_cast<std::size_t>(appenders), -1);
  for (const std::string& x : s->words.snapshot()) {
    int w = 0;
    long k = 0;
    if (!parse_word(x, appenders, w, k)) return fail("not an appended word", x.substr(0, 40));
    if (k <= last[static_cast<std::size_t>(w)]) return fail("words out of order", x.substr(0, 40));
    last[static_cast<std::size_t>(w)] = k;
  }
  std::vector<long> lastn(static_cast<std::size_t>(appenders), -1);
  const auto nums = s->numbers.snapshot();
  for (const long v : nums) {
    const long w = v / kStride;
    const long k = v % kStride;
    if (v < 0 || w >= appenders) return fail("not an appended number", std::to_string(v));
    if (k <= lastn[static_cast<std::size_t>(w)]) return fail("numbers out of order", std::to_string(v));
    lastn[static_cast<std::size_t>(w)] = k;
  }
  const std::size_t n = s->words.size();
  if (n > 0) {
    try {
      int w = 0;
      long k = 0;
      const std::string x = s->words.at(n - 1);
      if (!parse_word(x, appenders, w, k)) return fail("at() returned a foreign word", x.substr(0, 40));
    } catch (const std::out_of_range&) {
      // cleared between size() and at(): fine
    }
  }
  s->checked += static_cast<long>(nums.size());
  return true;
}

void reclaim_under_readers(int appenders, int readers, std::chrono::milliseconds run_for) {
  sk::Share<State> s(std::size_t{64} << 20);
  s->words.append("warm");
  s->numbers.append(0);
  s->words.clear();
  s->numbers.clear();
  const std::size_t start_used = s.arena().used();
  std::vector<pid_t> kids;
  for (int w = 0; w < appenders; ++w)
    kids.push_back(sktest::spawn([&s, w] {
      for (long k = 0; s->stop.load() == 0; ++k) {
        s->words.append(word(w, k));
        s->numbers.append(w * kStride + k);
        // Bursts: a reader pins what it may read for as long as it copies,
        // so the list must not outgrow the arena during one long snapshot.
        if (k % 200 == 199) std::this_thread::sleep_for(std::chrono::microseconds(300));
      }
      return true;
    }));
  for (int r = 0; r < readers; ++r)
    kids.push_back(sktest::spawn([&s, appenders] {
      while (s->stop.load() == 0)
        if (!check_once(s, appenders)) return false;
      return true;
    }));
  kids.push_back(sktest::spawn([&s] {  // the clearer
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    while (s->stop.load() == 0) {
      s->words.clear();
      s->numbers.clear();
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 1500));
    }
    return true;
  }));
  kids.push_back(sktest::spawn([&s] {  // reuses whatever the arena gets back
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    while (s->stop.load() == 0) s->junk.store(std::string(1 + rng() % 30000, '\xEE'));
    return true;
  }));
  std::this_thread::sleep_for(run_for);
  s->stop = 1;
  for (const pid_t k : kids) EXPECT_EQ(sktest::reap(k), 0);
  EXPECT_TRUE(check_once(s, appenders));
  EXPECT_GT(s->checked.load(), 0);
  // Everything cleared goes back once no reader is inside.
  s->junk.store("");
  s->words.clear();
  s->numbers.clear();
  const std::size_t end_used = s.arena().used();
  std::printf("elements checked by readers: %ld; arena used %zu B at start, %zu B after the last clear()\n",
              s->checked.load(), start_used, end_used);
  // What may stay: the chunk holding each list's last cleared cell, the
  // Object's few retired blocks.
  EXPECT_LE(end_used, start_used + (std::size_t{4} << 20));
}

TEST(ListReclaimProcs, procs_2appenders_2readers_1clearer_1churner_never_read_returned_memory) {
  reclaim_under_readers(2, 2, std::chrono::seconds(3));
}

TEST(ListReclaimProcs, procs_4appenders_4readers_1clearer_1churner_never_read_returned_memory) {
  reclaim_under_readers(4, 4, std::chrono::seconds(3));
}

}  // namespace
