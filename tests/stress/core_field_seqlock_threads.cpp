// FieldSeqlock under thread contention (run under TSan): writers run
// transactions over overlapping field sets while readers take snapshots of
// all fields and of a subset. Every snapshot is one instant (the counters
// sum to 0, the wide field is whole), and no publish is lost: each field's
// version equals the number of transactions that wrote it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core_field_seqlock_workload.hpp"

namespace {

using coretest::Cells;

// Owner ids: one per thread (the library uses one per process; any unique
// non-zero tag works).
thread_local std::uint64_t t_tag = 0;
std::uint64_t thread_tag() { return t_tag; }
constexpr sk::core::FieldOwners kOwners{&thread_tag, nullptr};  // threads never die alone

// Writers run at least their count of transactions, then go on until the
// readers have read enough while they wrote (at most a few seconds: a loaded
// 2-core machine may otherwise finish the writes before a reader runs).
constexpr std::uint64_t kReadsWanted = 50'000;

struct Run {
  Cells cells{0, 0, 0, coretest::Wide::filled(0)};
  std::chrono::steady_clock::time_point until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  bool want_reads = false;
  std::atomic<std::uint64_t> live_reads{0};  // reads so far (readers add now and then)
  std::atomic<bool> stop{false};
  std::atomic<std::uint32_t> readers_in{0};
  std::atomic<std::uint64_t> bad{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> written[4] = {};  // transactions that wrote each field
};

void reader(Run& run, bool partial) {
  t_tag = 1000;
  std::uint64_t n = 0;
  std::uint64_t bad = 0;
  run.readers_in.fetch_add(1);
  while (n == 0 || !run.stop.load(std::memory_order_acquire)) {
    const bool ok = partial && n % 2 == 1 ? coretest::partial_ok(run.cells, kOwners)
                                           : coretest::snapshot_ok(run.cells, kOwners);
    if (!ok) ++bad;
    if (++n % 256 == 0) run.live_reads.fetch_add(256, std::memory_order_relaxed);
  }
  run.bad.fetch_add(bad);
  run.reads.fetch_add(n);
}

void writer(Run& run, int id, std::uint64_t transactions) {
  t_tag = static_cast<std::uint64_t>(id) + 1;
  std::uint64_t counts[4] = {};
  std::uint32_t x = static_cast<std::uint32_t>(id) * 2654435761u + 1;
  auto more = [&](std::uint64_t n) {
    if (n <= transactions) return true;
    if (!run.want_reads) return false;
    if (n % 256 != 0) return true;  // look at the readers and the clock now and then
    return run.live_reads.load(std::memory_order_relaxed) < kReadsWanted &&
           std::chrono::steady_clock::now() < run.until;
  };
  for (std::uint64_t n = 1; more(n); ++n) {
    x = x * 1664525u + 1013904223u;
    const std::uint64_t mask = coretest::transact(run.cells, static_cast<int>(x >> 30), n, kOwners);
    for (int i = 0; i < 4; ++i) counts[i] += (mask >> i) & 1u;
  }
  for (int i = 0; i < 4; ++i) run.written[i].fetch_add(counts[i]);
}

void run(int writers, int readers, std::uint64_t per_writer) {
  Run r;
  r.want_reads = readers > 0;
  std::vector<std::thread> rs;
  for (int i = 0; i < readers; ++i) rs.emplace_back([&r, i] { reader(r, i % 2 == 1); });
  while (r.readers_in.load() < static_cast<std::uint32_t>(readers)) std::this_thread::yield();
  std::vector<std::thread> ws;
  for (int i = 0; i < writers; ++i) ws.emplace_back([&r, i, per_writer] { writer(r, i, per_writer); });
  for (auto& t : ws) t.join();
  r.stop.store(true, std::memory_order_release);
  for (auto& t : rs) t.join();
  EXPECT_EQ(r.bad.load(), 0u) << "a snapshot mixed two instants or tore the wide field";
  EXPECT_TRUE(coretest::snapshot_ok(r.cells, kOwners));
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(r.cells.version(i), r.written[i].load()) << "field " << i << ": a publish was lost";
    EXPECT_EQ(r.cells.holder(i), 0u);
  }
  if (readers > 0) {
    EXPECT_GT(r.reads.load(), 0u);
  }
}

}  // namespace

TEST(CoreFieldSeqlock, threads_1writer_3readers) { run(1, 3, 100'000); }

TEST(CoreFieldSeqlock, threads_3writers_2readers) { run(3, 2, 40'000); }

TEST(CoreFieldSeqlock, threads_4writers) { run(4, 0, 40'000); }
