// Writers SIGKILLed in the middle of sk::Object / sk::List / sk::Log writes:
// nobody hangs, the last committed value stays intact, dead cells are skipped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>
#include <sk/slots/object.hpp>

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
  const pid_t pid = ::fork();
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
  EXPECT_EQ(s->text.writer(), static_cast<std::uint32_t>(child));
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

}  // namespace
