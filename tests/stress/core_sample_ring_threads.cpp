// SampleRing under thread contention (run under TSan): readers that follow
// the writer with a cursor and readers that take the newest `window` samples
// never see a torn sample or indices out of order, and a cursor reader's
// delivered + lost samples add up to everything written. Writers taking turns
// through a lock (how SharedTimer's threads share their process's ring) are
// one writer to the ring.
//
// The writers keep writing until every reader has made many passes while
// they wrote (on a loaded 2-core machine a fixed number of pushes can finish
// before a reader is ever scheduled, and then nothing overlapped).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core_sample_ring_check.hpp"

namespace {

using coretest::RingCheck;
using coretest::RingSample;
using coretest::sample_for;

constexpr std::uint64_t kCap = 8;  // small: the writer often rewrites a slot a reader is copying
constexpr std::uint64_t kMinPushes = 100'000;
constexpr std::uint64_t kPassesPerReader = 200;  // passes made while a writer was writing
using Region = coretest::RingRegion<kCap>;

struct RingRun {
  Region ring;
  std::chrono::steady_clock::time_point until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::atomic<bool> done{false};
  std::atomic<std::uint32_t> readers_in{0};
  std::atomic<std::uint32_t> readers_satisfied{0};  // readers with kPassesPerReader passes
  std::atomic<std::uint64_t> bad{0};
  std::atomic<std::uint64_t> delivered{0};
};

// Counts passes that saw the ring move (so the writer was running).
struct Passes {
  RingRun& run;
  std::uint64_t n = 0;
  std::uint64_t seen = 0;
  void after_pass(std::uint64_t committed) {
    if (committed != seen && ++n == kPassesPerReader) run.readers_satisfied.fetch_add(1);
    seen = committed;
  }
};

void cursor_reader(RingRun& run, std::uint32_t seed) {
  RingCheck check;
  Passes passes{run};
  run.readers_in.fetch_add(1);
  std::uint32_t x = seed;
  while (!run.done.load(std::memory_order_acquire)) {
    x = x * 1664525u + 1013904223u;
    check.read(run.ring.reader(), (x >> 24) % 64);  // often a little late
    passes.after_pass(check.cursor);
  }
  check.read(run.ring.reader());  // what was committed after the last pass
  const std::uint64_t total = run.ring.reader().committed();
  EXPECT_TRUE(check.accounts_for(total)) << "cursor " << check.cursor << " delivered " << check.delivered
                                         << " lost " << check.lost << " of " << total;
  run.bad.fetch_add(check.bad);
  run.delivered.fetch_add(check.delivered);
}

// SharedTimer's read: the newest `window` samples committed when it looked.
void window_reader(RingRun& run, std::uint64_t window) {
  Passes passes{run};
  run.readers_in.fetch_add(1);
  std::uint64_t bad = 0;
  while (!run.done.load(std::memory_order_acquire)) {
    const auto r = run.ring.reader();
    const std::uint64_t end = r.committed();
    for (std::uint32_t k = 0; k < 32; ++k) sk::core::cpu_relax();  // the writer moves on meanwhile
    std::uint64_t cursor = end > window ? end - window : 0;
    std::uint64_t last = UINT64_MAX;
    r.read(cursor, end, [&](std::uint64_t i, const RingSample& s) {
      if (s != sample_for(i) || (last != UINT64_MAX && i <= last) || i >= end) ++bad;
      last = i;
    });
    passes.after_pass(end);
  }
  run.bad.fetch_add(bad);
}

void await_readers(const RingRun& run, std::uint32_t n) {
  while (run.readers_in.load() < n) std::this_thread::yield();
}

// At least kMinPushes; then until every reader overlapped enough, for at most
// a few seconds (a machine that never schedules them together proves less).
bool keep_writing(const RingRun& run, std::uint64_t pushed, std::uint32_t readers) {
  if (pushed < kMinPushes) return true;
  if (pushed % 1024 != 0) return true;  // look at the clock now and then
  return run.readers_satisfied.load(std::memory_order_relaxed) < readers &&
         std::chrono::steady_clock::now() < run.until;
}

void one_writer(int cursor_readers, int window_readers) {
  RingRun run;
  const auto readers = static_cast<std::uint32_t>(cursor_readers + window_readers);
  std::vector<std::thread> rs;
  for (int i = 0; i < cursor_readers; ++i) rs.emplace_back([&, i] { cursor_reader(run, 1u + i); });
  for (int i = 0; i < window_readers; ++i) rs.emplace_back([&] { window_reader(run, 6); });
  await_readers(run, readers);
  auto w = run.ring.writer();
  for (std::uint64_t i = 0; keep_writing(run, i, readers); ++i) {
    w.push(sample_for(i));
    if (i % 256 == 255) std::this_thread::yield();  // let readers onto a busy machine's cores
  }
  run.done.store(true, std::memory_order_release);
  for (auto& t : rs) t.join();
  EXPECT_EQ(run.bad.load(), 0u);
  if (cursor_readers > 0) {
    EXPECT_GT(run.delivered.load(), 0u);
  }
}

}  // namespace

TEST(CoreSampleRing, threads_1writer_3cursor_readers) { one_writer(3, 0); }

TEST(CoreSampleRing, threads_1writer_2cursor_2window_readers) { one_writer(2, 2); }

// Three threads append through a lock (the hand-over is the lock's
// release/acquire): the ring sees one writer at a time, indices stay dense.
TEST(CoreSampleRing, threads_3writers_take_turns_2readers) {
  RingRun run;
  std::vector<std::thread> rs;
  for (int i = 0; i < 2; ++i) rs.emplace_back([&, i] { cursor_reader(run, 1u + i); });
  await_readers(run, 2);
  std::mutex turn;
  std::vector<std::thread> ws;
  for (int t = 0; t < 3; ++t) {
    ws.emplace_back([&] {
      for (;;) {
        const std::lock_guard<std::mutex> g(turn);
        auto w = run.ring.writer();
        if (!keep_writing(run, w.committed(), 2)) break;
        w.push(sample_for(w.committed()));  // the next index: the ring's count
      }
    });
  }
  for (auto& t : ws) t.join();
  run.done.store(true, std::memory_order_release);
  for (auto& t : rs) t.join();
  EXPECT_EQ(run.bad.load(), 0u);
  EXPECT_GE(run.ring.writer().committed(), kMinPushes);
}
