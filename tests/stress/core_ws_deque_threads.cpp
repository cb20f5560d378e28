// WsDeque under thread contention: the owner pushes N distinct items and pops
// (see core_ws_deque_workload.hpp) while thieves steal; every item must be
// taken exactly once, by the owner or by one thief.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <sk/core/ws_deque.hpp>

#include "core_ws_deque_workload.hpp"

namespace {

using Deque = sk::core::WsDeque<std::uint64_t, 6>;  // small: exercises full and wrap-around

struct Tally {
  explicit Tally(std::size_t n) : seen(new std::atomic<std::uint32_t>[n]), size(n) {
    for (std::size_t i = 0; i < n; ++i) seen[i].store(0, std::memory_order_relaxed);
  }
  void take(std::uint64_t item) {
    if (item >= size || seen[item].fetch_add(1, std::memory_order_relaxed) != 0) bad.fetch_add(1);
  }
  std::size_t taken_once() const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < size; ++i) n += seen[i].load() == 1 ? 1 : 0;
    return n;
  }
  std::unique_ptr<std::atomic<std::uint32_t>[]> seen;
  std::size_t size;
  std::atomic<std::uint64_t> bad{0};
  std::atomic<std::uint64_t> stolen{0};
};

void run(int thieves, std::uint64_t items) {
  Deque d;
  Tally tally(items);
  std::atomic<bool> go{false};
  std::atomic<bool> owner_done{false};
  std::atomic<std::uint32_t> thieves_in{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < thieves; ++i) {
    ts.emplace_back([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const std::uint64_t mine = coretest::run_thief(
          d, [&] { return owner_done.load(std::memory_order_acquire); }, thieves_in,
          [&](std::uint64_t x) { tally.take(x); });
      tally.stolen.fetch_add(mine);
    });
  }
  go.store(true, std::memory_order_release);
  while (thieves_in.load() < static_cast<std::uint32_t>(thieves)) std::this_thread::yield();
  coretest::run_owner(d, items, thieves > 0, [&](std::uint64_t x) { tally.take(x); });
  owner_done.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();
  ::testing::Test::RecordProperty("stolen", std::to_string(tally.stolen.load()));
  EXPECT_EQ(tally.bad.load(), 0u);
  EXPECT_EQ(tally.taken_once(), items);
  EXPECT_EQ(d.size_approx(), 0u);
  if (thieves == 0) {
    EXPECT_EQ(tally.stolen.load(), 0u);
  }
}

}  // namespace

TEST(WsDeque, threads_owner_only) { run(0, 400'000); }
TEST(WsDeque, threads_1thief) { run(1, 400'000); }
TEST(WsDeque, threads_2thieves) { run(2, 400'000); }
TEST(WsDeque, threads_4thieves) { run(4, 400'000); }
