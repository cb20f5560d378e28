// A Skprocess started and waited on one thread while a Pool forks workers on
// another: wait() must never wait on a Pool worker. Before the one fork
// primitive, a Pool worker forked between a Skprocess's pipe creation and the
// parent closing its copy of the write end inherited that end, and wait()
// (which returns at EOF) lasted as long as the Pool item: 6 of 12,629 waits
// took 254 ms with 250 ms items.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <sk/pool.hpp>
#include <sk/process.hpp>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

class Quick : public sk::Skprocess<int> {
 public:
  Quick() { config.runs = 1; }
  void run() override {}
  int result() override { return 7; }
};

struct Stalls {
  int waits = 0;
  int slow = 0;
  double worst_ms = 0;
};

// Starts and waits for Quick processes for `d`, counting waits that took
// longer than `slow`; meanwhile `pool_loop` keeps a Pool busy with items that
// sleep `item` (longer than `slow`).
template <class PoolLoop>
Stalls run_race(std::chrono::milliseconds d, std::chrono::milliseconds slow, PoolLoop&& pool_loop) {
  std::atomic<bool> stop{false};
  std::thread pool_thread([&] { pool_loop(stop); });
  Stalls s;
  const auto end = Clock::now() + d;
  while (Clock::now() < end) {
    Quick q;
    const auto t0 = Clock::now();
    q.start();
    EXPECT_TRUE(q.wait());
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    EXPECT_EQ(q.get(), 7);
    ++s.waits;
    if (ms > static_cast<double>(slow.count())) ++s.slow;
    if (ms > s.worst_ms) s.worst_ms = ms;
  }
  stop = true;
  pool_thread.join();
  return s;
}

int sleepy(int x) {
  std::this_thread::sleep_for(400ms);
  return x;
}

}  // namespace

// Fork mode: every map call forks its workers while the other thread starts
// processes. A wait that outlasts 300 ms can only be a wait on a 400 ms item.
TEST(ProcessPoolFork, procs_skprocess_wait_never_waits_on_fork_mode_pool_items) {
  const Stalls s = run_race(12s, 300ms, [](std::atomic<bool>& stop) {
    sk::Pool pool(2);
    const std::vector<int> items{1, 2};
    while (!stop) EXPECT_EQ(pool.map(&sleepy, items), items);
  });
  std::fprintf(stderr, "fork mode: %d waits, %d over 300 ms, worst %.1f ms\n", s.waits, s.slow, s.worst_ms);
  EXPECT_GT(s.waits, 100);
  EXPECT_EQ(s.slow, 0) << "a Skprocess wait() lasted as long as a Pool item: a Pool worker holds its pipe";
}

// Persistent mode: a worker killed by the item timeout is replaced by a fork
// during the call; the replacement must not keep a Skprocess's pipe either
// (it would hold it for the life of the Pool).
TEST(ProcessPoolFork, procs_skprocess_wait_never_waits_on_persistent_pool_replacements) {
  const Stalls s = run_race(6s, 300ms, [](std::atomic<bool>& stop) {
    sk::Pool pool(2, sk::persistent);
    const std::vector<int> items{1, 2, 3, 4};
    while (!stop) {
      try {
        pool.timeout(5ms).map(&sleepy, items);
        ADD_FAILURE() << "the 5 ms item timeout did not fire";
      } catch (const sk::TimeoutError&) {
      }
    }
  });
  std::fprintf(stderr, "persistent: %d waits, %d over 300 ms, worst %.1f ms\n", s.waits, s.slow, s.worst_ms);
  EXPECT_GT(s.waits, 50);
  EXPECT_EQ(s.slow, 0) << "a Skprocess wait() lasted longer than 300 ms: a Pool worker holds its pipe";
}
