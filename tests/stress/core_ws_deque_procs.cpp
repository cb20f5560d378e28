// WsDeque shared by forked processes over MAP_SHARED memory: an owner process
// pushes N distinct items and pops (see core_ws_deque_workload.hpp), thief
// processes steal; every item is taken exactly once across all processes.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <sk/core/ws_deque.hpp>

#include "core_procs.hpp"
#include "core_ws_deque_workload.hpp"

namespace {

constexpr std::uint64_t kItems = 200'000;

struct Region {
  sk::core::WsDeque<std::uint64_t, 7> deque;
  std::atomic<std::uint32_t> go{0};
  std::atomic<std::uint32_t> owner_done{0};
  std::atomic<std::uint32_t> thieves_in{0};  // thieves that made a first steal attempt
  std::atomic<std::uint64_t> stolen{0};
  std::atomic<std::uint64_t> bad{0};
  std::atomic<std::uint32_t> seen[kItems];

  void take(std::uint64_t item) {
    if (item >= kItems || seen[item].fetch_add(1, std::memory_order_relaxed) != 0) bad.fetch_add(1);
  }
};

bool owner(Region& r, int thieves) {
  coretest::eventually([&] { return r.thieves_in.load() >= static_cast<std::uint32_t>(thieves); });
  coretest::run_owner(r.deque, kItems, thieves > 0, [&](std::uint64_t x) { r.take(x); });
  r.owner_done.store(1, std::memory_order_release);
  return true;
}

bool thief(Region& r) {
  coretest::eventually([&] { return r.go.load(std::memory_order_acquire) != 0; });
  const std::uint64_t mine = coretest::run_thief(
      r.deque, [&] { return r.owner_done.load(std::memory_order_acquire) != 0; }, r.thieves_in,
      [&](std::uint64_t x) { r.take(x); });
  r.stolen.fetch_add(mine);
  return true;
}

void run(int thieves) {
  coretest::SharedObject<Region> r;
  std::vector<pid_t> ps;
  for (int i = 0; i < thieves; ++i) ps.push_back(coretest::fork_child([&] { return thief(*r); }));
  ps.push_back(coretest::fork_child([&] { return owner(*r, thieves); }));
  r->go.store(1, std::memory_order_release);
  for (pid_t p : ps) EXPECT_EQ(coretest::wait_child(p), 0) << "process " << p;
  EXPECT_EQ(r->bad.load(), 0u);
  std::uint64_t once = 0;
  for (std::uint64_t i = 0; i < kItems; ++i) once += r->seen[i].load() == 1 ? 1 : 0;
  EXPECT_EQ(once, kItems);
  EXPECT_EQ(r->deque.size_approx(), 0u);
  ::testing::Test::RecordProperty("stolen", std::to_string(r->stolen.load()));
}

}  // namespace

TEST(WsDeque, procs_1thief) { run(1); }

TEST(WsDeque, procs_3thieves) { run(3); }
