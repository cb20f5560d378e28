// sk::Log with bounded retention from threads (the TSan build runs this):
// 4 writer threads wrap a small ring many times while the main thread reads
// records() over and over; every read is in order and no record is torn.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <sk/share.hpp>
#include <sk/slots/log.hpp>

#include "log_bounded_check.hpp"

namespace {

constexpr std::size_t kRing = 256;
constexpr std::size_t kTinyRing = 2;  // every slot rewritten all the time: the reader races each copy
struct State {
  sk::Log log{"threads", sk::LogLevel::info, sk::LogRetention{.records = kRing}};
  sk::Log tiny{"tiny", sk::LogLevel::info, sk::LogRetention{.records = kTinyRing}};
};
SK_SHARE(State, log, tiny);

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr std::uint64_t kPerWriter = 5'000;
#else
constexpr std::uint64_t kPerWriter = 50'000;
#endif

void writers_and_a_reader(sk::Log State::*which, std::size_t ring) {
  constexpr int kWriters = 4;
  sk::Share<State> s;
  sk::Log& log = (*s).*which;
  log.no_sinks();
  std::atomic<int> running{kWriters};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w)
    writers.emplace_back([&, w] {
      for (std::uint64_t k = 0; k < kPerWriter; ++k) log.info("{}", logtest::message(w, k));
      running.fetch_sub(1);
    });
  std::uint64_t reads = 0, seen = 0;
  std::string bad;
  while (running.load() > 0 && bad.empty()) {
    const auto rs = log.records();
    bad = logtest::check_read(rs, ring);
    seen += rs.size();
    ++reads;
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(bad, "");
  const auto rs = log.records();
  ASSERT_EQ(logtest::check_read(rs, ring), "");
  std::printf("%llu reads while writing, %llu records seen; final %zu kept, %llu dropped\n",
              static_cast<unsigned long long>(reads), static_cast<unsigned long long>(seen), rs.size(),
              static_cast<unsigned long long>(log.dropped()));
  EXPECT_GT(reads, 0u);
  EXPECT_EQ(log.written(), kWriters * kPerWriter);
  // Near full: only a record whose slot a descheduled writer still held is missing.
  if (ring >= 64) {
    EXPECT_GE(rs.size(), ring / 2);
  }
  // Every record but the one left in each (now full) slot was counted once.
  EXPECT_EQ(log.dropped(), kWriters * kPerWriter - ring);
}

TEST(LogBoundedThreads, threads_4writers_1reader_every_read_in_order_never_torn) {
  writers_and_a_reader(&State::log, kRing);
}
TEST(LogBoundedThreads, threads_4writers_1reader_tiny_ring_every_copy_raced_never_torn) {
  writers_and_a_reader(&State::tiny, kTinyRing);
}

}  // namespace
