// SampleRing in MAP_SHARED memory between forked processes (run under ASan):
// one writer process, reader processes following it with cursors; then
// writers SIGKILLed at random points, each followed by a successor that
// continues at the ring's count (how a Skprocess worker's next incarnation
// continues the timer ring). No reader ever sees a torn sample.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core_procs.hpp"
#include "core_sample_ring_check.hpp"

namespace {

using coretest::RingCheck;
using coretest::sample_for;

struct Region {
  coretest::RingRegion<16> ring;  // small: the writer often rewrites a slot a reader is copying
  std::atomic<std::uint32_t> readers_in{0};
  std::atomic<std::uint32_t> done{0};
  std::atomic<std::uint32_t> stop_writing{0};
  std::atomic<std::uint64_t> moving_passes{0};  // reader passes that found new samples
  std::atomic<std::uint64_t> delivered{0};
};

// Exit 0 when every sample it read was intact, in order, and delivered +
// lost covers everything committed.
bool reader(Region& r) {
  RingCheck check;
  r.readers_in.fetch_add(1);
  std::uint32_t x = static_cast<std::uint32_t>(::getpid());
  while (r.done.load(std::memory_order_acquire) == 0) {
    x = x * 1664525u + 1013904223u;
    const std::uint64_t before = check.cursor;
    check.read(r.ring.reader(), (x >> 24) % 64);  // often a little late: the writer rewrites what we copy
    if (check.cursor != before) r.moving_passes.fetch_add(1, std::memory_order_relaxed);
  }
  check.read(r.ring.reader());
  r.delivered.fetch_add(check.delivered);
  const std::uint64_t total = r.ring.reader().committed();
  if (check.bad != 0 || !check.accounts_for(total)) {
    std::fprintf(stderr, "reader %d: bad %llu, cursor %llu, delivered %llu + lost %llu of %llu\n",
                 static_cast<int>(::getpid()), static_cast<unsigned long long>(check.bad),
                 static_cast<unsigned long long>(check.cursor), static_cast<unsigned long long>(check.delivered),
                 static_cast<unsigned long long>(check.lost), static_cast<unsigned long long>(total));
    return false;
  }
  return true;
}

// Appends the next index until `until` samples are committed or it is told
// to stop.
bool writer(Region& r, std::uint64_t until) {
  auto w = r.ring.writer();
  while (w.committed() < until && r.stop_writing.load(std::memory_order_relaxed) == 0) {
    w.push(sample_for(w.committed()));
  }
  return true;
}

std::vector<pid_t> start_readers(coretest::Children& kids, Region& r, int n) {
  std::vector<pid_t> rs;
  for (int i = 0; i < n; ++i) rs.push_back(kids.fork([&r] { return reader(r); }));
  EXPECT_TRUE(coretest::eventually([&] { return r.readers_in.load() == static_cast<std::uint32_t>(n); }));
  return rs;
}

void finish_readers(coretest::Children& kids, Region& r, const std::vector<pid_t>& rs) {
  r.done.store(1, std::memory_order_release);
  for (pid_t p : rs) EXPECT_EQ(kids.wait(p), 0) << "reader " << p << " saw a torn sample or lost count";
  EXPECT_GT(r.delivered.load(), 0u);
}

}  // namespace

TEST(CoreSampleRing, procs_1writer_3readers) {
  coretest::SharedObject<Region> r;
  coretest::Children kids;
  const auto rs = start_readers(kids, *r, 3);
  const pid_t w = kids.fork([&r] { return writer(*r, UINT64_MAX); });
  // Until the readers have read many times while the writer wrote (at most a
  // few seconds on a machine too loaded to run them together).
  coretest::eventually([&] { return r->ring.reader().committed() > 300'000 && r->moving_passes.load() > 3'000; },
                       std::chrono::seconds(3));
  r->stop_writing.store(1);
  EXPECT_EQ(kids.wait(w), 0);
  finish_readers(kids, *r, rs);
}

TEST(CoreSampleRing, procs_writers_killed_at_random_points_2readers) {
  coretest::SharedObject<Region> r;
  coretest::Children kids;
  const auto rs = start_readers(kids, *r, 2);
  std::mt19937 rng(7);
  for (int round = 0; round < 30; ++round) {
    const std::uint64_t before = r->ring.reader().committed();
    const pid_t w = kids.fork([&r] { return writer(*r, UINT64_MAX); });
    // Let it write a while, then kill it wherever it is (often mid-push).
    ASSERT_TRUE(coretest::eventually([&] { return r->ring.reader().committed() > before + 1000; }));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 2000));
    ::kill(w, SIGKILL);
    EXPECT_EQ(kids.wait(w), 128 + SIGKILL);
  }
  // The last successor ends cleanly: indices stayed dense through every death.
  const std::uint64_t end = r->ring.reader().committed() + 5000;
  const pid_t w = kids.fork([&r, end] { return writer(*r, end); });
  EXPECT_EQ(kids.wait(w), 0);
  finish_readers(kids, *r, rs);
  EXPECT_EQ(r->ring.reader().committed(), end);
}
