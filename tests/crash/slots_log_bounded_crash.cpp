// Writers SIGKILLed in a loop of sk::Log writes on a small ring (so killed
// writers leave slots locked that later writers need): nobody hangs, every
// read stays in order and untorn, and the log keeps working: afterwards the
// parent's own records fill the whole ring.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/log.hpp>

#include "log_bounded_check.hpp"
#include "share_procs.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kRing = 64;
struct State {
  sk::Log log{"crash", sk::LogLevel::info, sk::LogRetention{.records = kRing}};
};
SK_SHARE(State, log);

TEST(LogBoundedCrash, writers_killed_mid_log_never_hang_or_tear_and_the_log_keeps_working) {
  sk::Share<State> s;
  s->log.no_sinks();  // inherited by the children
  std::mt19937 rng(15);
  constexpr int kParent = 9;  // writer id of the parent's records
  std::uint64_t parent_k = 0;
  for (int round = 0; round < 30; ++round) {
    std::vector<pid_t> kids;
    for (int w = 0; w < 3; ++w)
      kids.push_back(sktest::spawn([&s, w] {
        for (std::uint64_t k = 0;; ++k) s->log.info("{}", logtest::message(w, k));
        return true;
      }));
    std::this_thread::sleep_for(std::chrono::microseconds(300 + rng() % 2000));
    for (const pid_t k : kids) ::kill(k, SIGKILL);
    for (const pid_t k : kids) alloctest::reap(k);

    const auto t0 = Clock::now();
    ASSERT_EQ(logtest::check_read(s->log.records(), kRing), "") << "round " << round;
    // Three laps of the ring: every slot a dead writer still holds is needed
    // (and taken back) on the way.
    const std::uint64_t first = s->log.written();
    for (std::size_t i = 0; i < 3 * kRing; ++i) s->log.info("{}", logtest::message(kParent, parent_k++));
    EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2)) << "round " << round;
    const auto rs = s->log.records();
    ASSERT_EQ(logtest::check_read(rs, kRing), "") << "round " << round;
    ASSERT_EQ(rs.size(), kRing) << "round " << round << ": a slot was not recovered";
    for (std::size_t j = 0; j < kRing; ++j) {
      EXPECT_EQ(rs[j].seq, first + 2 * kRing + j);
      EXPECT_EQ(rs[j].message, logtest::message(kParent, parent_k - kRing + j));
    }
  }
}

}  // namespace
