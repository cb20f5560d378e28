// sk::Log with bounded retention from 4 forked processes: they wrap a small
// ring many times while the parent reads records() over and over; every read
// is in seq order, no record is torn, each writer's records keep its program
// order, and afterwards every record but the newest N is counted as dropped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/log.hpp>

#include "log_bounded_check.hpp"
#include "share_procs.hpp"

namespace {

constexpr std::size_t kRing = 512;
constexpr std::size_t kTinyRing = 2;  // every slot rewritten all the time: the reader races each copy
struct State {
  sk::Log log{"procs", sk::LogLevel::info, sk::LogRetention{.records = kRing}};
  sk::Log tiny{"tiny", sk::LogLevel::info, sk::LogRetention{.records = kTinyRing}};
  sk::Atomic<int> done;
};
SK_SHARE(State, log, tiny, done);

#if defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kPerWriter = 5'000;
#else
constexpr std::uint64_t kPerWriter = 40'000;
#endif

void writers_and_a_reader(sk::Log State::*which, std::size_t ring) {
  constexpr int kWriters = 4;
  sk::Share<State> s;
  sk::Log& log = (*s).*which;
  log.no_sinks();  // inherited by the children
  log.info("{}", logtest::message(kWriters, 0));  // the ring exists before the children fork
  std::vector<pid_t> kids;
  for (int w = 0; w < kWriters; ++w)
    kids.push_back(sktest::spawn([&s, &log, w] {
      for (std::uint64_t k = 0; k < kPerWriter; ++k) log.info("{}", logtest::message(w, k));
      s->done += 1;
      return true;
    }));
  std::uint64_t reads = 0, seen = 0;
  std::string bad;
  while (s->done.load() < kWriters && bad.empty()) {
    const auto rs = log.records();
    bad = logtest::check_read(rs, ring);
    seen += rs.size();
    ++reads;
  }
  for (const pid_t k : kids) EXPECT_EQ(sktest::reap(k, std::chrono::seconds(60)), 0);
  ASSERT_EQ(bad, "") << "after " << reads << " reads";
  const auto rs = log.records();
  ASSERT_EQ(logtest::check_read(rs, ring), "");
  const std::uint64_t total = kWriters * kPerWriter + 1;
  std::printf("%llu reads while writing (%llu records seen); final %zu kept, %llu dropped of %llu\n",
              static_cast<unsigned long long>(reads), static_cast<unsigned long long>(seen), rs.size(),
              static_cast<unsigned long long>(log.dropped()), static_cast<unsigned long long>(total));
  EXPECT_GT(reads, 1u);
  EXPECT_EQ(log.written(), total);
  EXPECT_LE(rs.size(), ring);
  if (ring >= 64) {
    EXPECT_GE(rs.size(), ring / 2);  // only records whose slot a descheduled writer held are missing
  }
  // Every record but the one left in each (now full) slot was counted once.
  EXPECT_EQ(log.dropped(), total - ring);
}

TEST(LogBoundedProcs, procs_4writers_1reader_every_read_in_order_never_torn) {
  writers_and_a_reader(&State::log, kRing);
}
TEST(LogBoundedProcs, procs_4writers_1reader_tiny_ring_every_copy_raced_never_torn) {
  writers_and_a_reader(&State::tiny, kTinyRing);
}

}  // namespace
