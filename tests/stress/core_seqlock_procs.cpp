// Seqlock shared by forked processes over MAP_SHARED memory: readers never see
// a torn or backwards value; update() from several processes loses nothing.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <vector>

#include <sk/core/seqlock.hpp>

#include "core_procs.hpp"
#include "core_seqlock_value.hpp"

namespace {

using coretest::Wide;

struct Region {
  sk::core::Seqlock<Wide> lock;
  std::atomic<std::uint32_t> go{0};
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint32_t> readers_in{0};  // readers that completed a first read
};

void await_go(const Region& r) {
  coretest::eventually([&] { return r.go.load(std::memory_order_acquire) != 0; });
}

bool writer(Region& r, int readers, std::uint64_t updates) {
  await_go(r);
  coretest::eventually([&] { return r.readers_in.load() >= static_cast<std::uint32_t>(readers); });
  const auto tag = static_cast<std::uint32_t>(::getpid());
  for (std::uint64_t i = 0; i < updates; ++i) r.lock.update(coretest::add_one, tag, &coretest::process_gone);
  return true;
}

bool reader(Region& r) {
  await_go(r);
  coretest::ReadChecker check;
  do {
    check.see(r.lock.load());
    if (check.reads() == 1) r.readers_in.fetch_add(1);
  } while (r.stop.load(std::memory_order_acquire) == 0);
  r.reads.fetch_add(check.reads());
  return check.ok();
}

void run(int writers, int readers, std::uint64_t per_writer) {
  coretest::SharedObject<Region> r;
  std::vector<pid_t> ws;
  std::vector<pid_t> rs;
  for (int i = 0; i < readers; ++i) rs.push_back(coretest::fork_child([&] { return reader(*r); }));
  for (int i = 0; i < writers; ++i) ws.push_back(coretest::fork_child([&] { return writer(*r, readers, per_writer); }));
  r->go.store(1, std::memory_order_release);
  for (pid_t p : ws) EXPECT_EQ(coretest::wait_child(p), 0) << "writer " << p;
  r->stop.store(1, std::memory_order_release);
  for (pid_t p : rs) EXPECT_EQ(coretest::wait_child(p), 0) << "reader " << p << " saw a torn or backwards value";
  const Wide end = r->lock.load();
  EXPECT_TRUE(end.uniform());
  EXPECT_EQ(end.w[0], per_writer * static_cast<std::uint64_t>(writers));
  EXPECT_EQ(r->lock.version(), 2 * per_writer * static_cast<std::uint64_t>(writers));
  EXPECT_EQ(r->lock.holder(), 0u);
  if (readers > 0) {
    EXPECT_GT(r->reads.load(), 0u);
  }
}

}  // namespace

TEST(Seqlock, procs_1writer_1reader) { run(1, 1, 50'000); }

TEST(Seqlock, procs_2writers_2readers) { run(2, 2, 25'000); }

TEST(Seqlock, procs_4writers) { run(4, 0, 25'000); }
