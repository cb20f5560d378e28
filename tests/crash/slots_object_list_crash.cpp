// Writers SIGKILLed in the middle of sk::Object / sk::List / sk::Log writes:
// nobody hangs, the last committed value stays intact, dead cells are skipped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>
#include <sk/slots/object.hpp>
#include <sk/alloc/owner.hpp>

#include "test_fork.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct State {
  sk::Object<std::vector<long>> seq;
  sk::Object<std::string> text;
  sk::List<std::string> words;
  sk::List<long> numbers;
  sk::Log log{"crash"};
};
SK_SHARE(State, seq, text, words, numbers, log);

void append_next(std::vector<long>& v) { v.push_back(static_cast<long>(v.size())); }

bool consistent(const std::vector<long>& v) {
  for (std::size_t i = 0; i < v.size(); ++i)
    if (v[i] != static_cast<long>(i)) return false;
  return true;
}

pid_t fork_child(const std::function<void()>& body) {
  const pid_t pid = sktest::fork();
  if (pid == 0) {
    body();
    ::_exit(0);
  }
  return pid;
}

void reap(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
}

TEST(ObjectCrash, writer_killed_holding_lock_readers_never_block_writers_recover) {
  sk::Share<State> s;
  s->text.store("committed");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = fork_child([&] {
    s->text.update([&](std::string& t) {
      t = "half-done";
      const char c = 'x';
      (void)!::write(ready[1], &c, 1);
      for (;;) ::pause();  // holds the write lock until killed
    });
  });
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  EXPECT_EQ(s->text.writer(), sk::alloc::owner_of_child(child).compact());
  // Readers do not wait for the lock holder.
  const auto t0 = Clock::now();
  EXPECT_EQ(s->text.load(), "committed");
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
  ::kill(child, SIGKILL);
  reap(child);
  // The next writer notices the dead holder within a bounded time.
  const auto t1 = Clock::now();
  s->text.update([](std::string& t) { t += "+next"; });
  EXPECT_LT(Clock::now() - t1, std::chrono::seconds(2));
  EXPECT_EQ(s->text.load(), "committed+next");
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(ObjectCrash, writers_killed_at_random_points_never_tear_the_value) {
  sk::Share<State> s(64 << 20);
  std::mt19937 rng(7);
  for (int round = 0; round < 12; ++round) {
    std::vector<pid_t> kids;
    for (int w = 0; w < 3; ++w)
      kids.push_back(fork_child([&] {
        for (;;) s->seq.update(append_next);
      }));
    std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 3000));
    for (const pid_t k : kids) ::kill(k, SIGKILL);
    for (const pid_t k : kids) reap(k);
    const auto before = s->seq.load();
    ASSERT_TRUE(consistent(before)) << "round " << round;
    const auto t0 = Clock::now();
    s->seq.update(append_next);  // recovers from a lock held by a dead writer
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
    const auto after = s->seq.load();
    ASSERT_TRUE(consistent(after));
    ASSERT_EQ(after.size(), before.size() + 1);
  }
}

TEST(ListCrash, appender_killed_after_reserving_is_skipped) {
  sk::Share<State> s;
  s->words.append("before");
  const pid_t child = fork_child([&] {
    s->words.append_with([](std::uint64_t) -> const std::string& {
      ::raise(SIGKILL);  // dies holding a reserved, unpublished cell
      static const std::string never = "never";
      return never;
    });
  });
  reap(child);
  EXPECT_EQ(s->words.reserved(), 2u);
  const auto t0 = Clock::now();
  s->words.append("after");
  EXPECT_EQ(s->words.snapshot(), (std::vector<std::string>{"before", "after"}));
  EXPECT_EQ(s->words.size(), 2u);
  EXPECT_EQ(s->words.at(1), "after");
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(1));
}

TEST(ListCrash, appenders_killed_at_random_points_leave_a_readable_list) {
  sk::Share<State> s(64 << 20);
  std::mt19937 rng(11);
  long expected_min = 0;
  s->log.no_sinks();  // inherited by the children
  for (int round = 0; round < 8; ++round) {
    std::vector<pid_t> kids;
    for (int w = 0; w < 3; ++w)
      kids.push_back(fork_child([&, w] {
        for (long k = 0;; ++k) {
          s->numbers.append(k);
          s->log.write(sk::LogLevel::info, std::to_string(w));
        }
      }));
    std::this_thread::sleep_for(std::chrono::microseconds(300 + rng() % 2000));
    for (const pid_t k : kids) ::kill(k, SIGKILL);
    for (const pid_t k : kids) reap(k);
    const auto t0 = Clock::now();
    const auto nums = s->numbers.snapshot();
    EXPECT_GE(static_cast<long>(nums.size()), expected_min);
    expected_min = static_cast<long>(nums.size());
    const auto msgs = s->log.messages();
    for (const auto& m : msgs) ASSERT_TRUE(m == "0" || m == "1" || m == "2") << m;
    s->numbers.append(-1);
    EXPECT_EQ(s->numbers.at(s->numbers.size() - 1), -1);
    ++expected_min;
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  }
}

// One process at a time installs a List chunk (allocate, zero, publish). A
// process SIGKILLed while installing must not stop anyone else from growing
// the list: the next appender sees the installer is dead, takes the claim
// over and installs the chunk itself (the dead one's copy leaks).
struct Page {
  long words[512];  // 4 KiB: a cell is 4104 B, so chunk 5 is 8.4 MB and zeroing it takes a while
};
struct Pages {
  sk::List<Page> pages;
  sk::Atomic<int> ready;
};
SK_SHARE(Pages, pages, ready);

TEST(ListCrash, chunk_installer_killed_mid_install_next_appender_takes_over) {
  constexpr std::size_t kBefore = 64 * ((1 << 5) - 1);  // cells in chunks 0..4; the next append installs chunk 5
  constexpr std::size_t kChunk5 = (std::size_t{64} << 5) * (8 + sizeof(Page));
  int landed = 0;
  for (int attempt = 0; attempt < 12 && landed < 2; ++attempt) {
    sk::Share<Pages> s(std::size_t{64} << 20);
    Page p{};
    for (std::size_t i = 0; i < kBefore; ++i) {
      p.words[0] = static_cast<long>(i);
      s->pages.append(p);
    }
    const std::size_t used_before = s.arena().used();
    const pid_t child = fork_child([&] {
      Page q{};
      q.words[0] = -1;
      s->ready = 1;
      s->pages.append(q);  // installs chunk 5
      s->ready = 2;
      for (;;) ::pause();
    });
    while (s->ready.load() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(100 * attempt));
    ::kill(child, SIGKILL);
    reap(child);
    const std::size_t used_killed = s.arena().used();
    const auto t0 = Clock::now();
    p.words[0] = 12345;
    s->pages.append(p);  // must not wait for the dead installer
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
    const std::size_t used_after = s.arena().used();
    // The kill landed inside the install when the child had allocated chunk 5
    // but not published it: then our append allocated a second copy.
    if (used_killed >= used_before + kChunk5 && used_after >= used_killed + kChunk5) ++landed;
    const auto all = s->pages.snapshot();
    ASSERT_GE(all.size(), kBefore + 1);
    for (std::size_t i = 0; i < kBefore; ++i) ASSERT_EQ(all[i].words[0], static_cast<long>(i));
    EXPECT_EQ(all.back().words[0], 12345);
  }
  std::printf("kills that landed inside a chunk install: %d\n", landed);
  EXPECT_GE(landed, 1) << "no kill landed inside a chunk install in 12 attempts; the test did not exercise the takeover";
}

}  // namespace
