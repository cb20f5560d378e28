// FieldSeqlock in MAP_SHARED memory between forked processes (run under
// ASan): writer processes run transactions over overlapping field sets while
// reader processes check that every snapshot is one instant; no publish is
// lost (each field's version = the transactions that wrote it).
#include <atomic>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "core_field_seqlock_workload.hpp"
#include "core_procs.hpp"

namespace {

using coretest::Cells;

constexpr sk::core::FieldOwners kOwners{&coretest::pid_tag, &coretest::process_gone};

struct Region {
  Cells cells{0, 0, 0, coretest::Wide::filled(0)};
  std::atomic<std::uint32_t> go{0};
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint32_t> readers_in{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> written[4] = {};
};

bool reader(Region& r, bool partial) {
  std::uint64_t n = 0;
  bool ok = true;
  r.readers_in.fetch_add(1);
  while (n == 0 || r.stop.load(std::memory_order_acquire) == 0) {
    ok = ok && (partial && n % 2 == 1 ? coretest::partial_ok(r.cells, kOwners) : coretest::snapshot_ok(r.cells, kOwners));
    ++n;
  }
  r.reads.fetch_add(n);
  return ok;
}

bool writer(Region& r, std::uint64_t transactions) {
  coretest::eventually([&] { return r.go.load(std::memory_order_acquire) != 0; });
  std::uint64_t counts[4] = {};
  auto x = static_cast<std::uint32_t>(::getpid());
  for (std::uint64_t n = 1; n <= transactions; ++n) {
    x = x * 1664525u + 1013904223u;
    const std::uint64_t mask = coretest::transact(r.cells, static_cast<int>(x >> 30), n, kOwners);
    for (int i = 0; i < 4; ++i) counts[i] += (mask >> i) & 1u;
  }
  for (int i = 0; i < 4; ++i) r.written[i].fetch_add(counts[i]);
  return true;
}

void run(int writers, int readers, std::uint64_t per_writer) {
  coretest::SharedObject<Region> r;
  coretest::Children kids;
  std::vector<pid_t> rs, ws;
  for (int i = 0; i < readers; ++i) rs.push_back(kids.fork([&r, i] { return reader(*r, i % 2 == 1); }));
  ASSERT_TRUE(coretest::eventually([&] { return r->readers_in.load() == static_cast<std::uint32_t>(readers); }));
  for (int i = 0; i < writers; ++i) ws.push_back(kids.fork([&r, per_writer] { return writer(*r, per_writer); }));
  r->go.store(1, std::memory_order_release);
  for (pid_t p : ws) EXPECT_EQ(kids.wait(p), 0) << "writer " << p;
  r->stop.store(1, std::memory_order_release);
  for (pid_t p : rs) EXPECT_EQ(kids.wait(p), 0) << "reader " << p << " saw a snapshot of two instants or a torn field";
  EXPECT_TRUE(coretest::snapshot_ok(r->cells, kOwners));
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(r->cells.version(i), r->written[i].load()) << "field " << i << ": a publish was lost";
    EXPECT_EQ(r->cells.holder(i), 0u);
  }
}

}  // namespace

TEST(CoreFieldSeqlock, procs_1writer_2readers) { run(1, 2, 100'000); }

TEST(CoreFieldSeqlock, procs_3writers_2readers) { run(3, 2, 30'000); }
