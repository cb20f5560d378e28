// sk::Pool crash tests: a worker killed by a signal mid-item (retry on
// another worker, exactly-once results), repeated crashes (WorkerCrashed
// names the item and the signal), many crashes (slot reuse), persistent
// pools recovering, and no worker processes left behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <set>
#include <thread>
#include <vector>

#include "../support/core_procs.hpp"
#include <sk/alloc/owner.hpp>
#include <sk/pool.hpp>

#include "test_fork.hpp"

using namespace std::chrono_literals;

namespace {

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// Per-item attempt counters in MAP_SHARED memory (inherited by workers).
struct Attempts {
  explicit Attempts(std::size_t n) : n_(n) {
    void* p = ::mmap(nullptr, n * sizeof(std::atomic<int>), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap");
    a_ = static_cast<std::atomic<int>*>(p);
  }
  ~Attempts() { ::munmap(a_, n_ * sizeof(std::atomic<int>)); }
  // Returns the attempt number (1 = first).
  int next(std::size_t i) const { return a_[i].fetch_add(1) + 1; }
  int get(std::size_t i) const { return a_[i].load(); }
  std::size_t n_;
  std::atomic<int>* a_;
};

// Gone or a zombie (a zombie runs no code; init may be slow to reap it).
bool process_gone(pid_t pid) { return coretest::process_gone(static_cast<std::uint32_t>(pid)); }

bool no_children_left() {
  int st = 0;
  return ::waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD;
}

}  // namespace

TEST(PoolCrash, procs_4workers_killed_mid_item_is_retried_once_exactly_once_results) {
  Attempts att(100);
  sk::Pool pool(4);
  const auto out = pool.map(
      [&att](int x) {
        const int a = att.next(static_cast<std::size_t>(x));
        if (x % 10 == 3 && a == 1) ::raise(SIGKILL);  // first attempt of items 3, 13, ... dies
        return x * 2;
      },
      iota_vec(100));
  ASSERT_EQ(out.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(out[static_cast<std::size_t>(i)], 2 * i);
    EXPECT_EQ(att.get(static_cast<std::size_t>(i)), i % 10 == 3 ? 2 : 1) << "item " << i;
  }
  EXPECT_TRUE(no_children_left());
}

TEST(PoolCrash, procs_2workers_crash_twice_throws_worker_crashed_with_index_and_signal) {
  sk::Pool pool(2);
  try {
    pool.map(
        [](int x) {
          if (x == 7) std::abort();
          return x;
        },
        iota_vec(10));
    FAIL() << "no WorkerCrashed";
  } catch (const sk::WorkerCrashed& e) {
    EXPECT_EQ(e.index(), 7u);
    EXPECT_EQ(e.signal(), SIGABRT);
    EXPECT_EQ(e.attempts(), 2u);
  }
  EXPECT_EQ(pool.map([](int x) { return x; }, std::vector<int>{1, 2}), (std::vector<int>{1, 2}));
  EXPECT_TRUE(no_children_left());
}

TEST(PoolCrash, procs_2workers_retries_are_configurable) {
  Attempts att(4);
  sk::Pool pool(2);
  EXPECT_THROW(pool.retries(0).map(
                   [&att](int x) {
                     if (x == 1 && att.next(1) == 1) ::raise(SIGKILL);
                     return x;
                   },
                   iota_vec(4)),
               sk::WorkerCrashed);
  Attempts att2(4);
  const auto out = pool.retries(3).map(
      [&att2](int x) {
        if (x == 2 && att2.next(2) <= 3) ::raise(SIGTERM);
        return x;
      },
      iota_vec(4));
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(att2.get(2), 4);
}

TEST(PoolCrash, procs_2workers_many_crashes_reuse_slots) {
  // 30 crashing first attempts with 2 workers: more replacements than spare
  // slots, so dead slots are reused (sweep-only workers).
  Attempts att(60);
  sk::Pool pool(2);
  const auto out = pool.unordered_map(
      [&att](int x) {
        if (x % 2 == 0 && att.next(static_cast<std::size_t>(x)) == 1) ::raise(SIGKILL);
        return x;
      },
      iota_vec(60));
  std::multiset<int> got(out.begin(), out.end());
  ASSERT_EQ(got.size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(got.count(i), 1u) << i;
  EXPECT_TRUE(no_children_left());
}

TEST(PoolCrash, procs_2workers_imap_survives_a_crash) {
  Attempts att(20);
  sk::Pool pool(2);
  int expect = 0;
  for (int v : pool.imap(
           [&att](int x) {
             if (x == 4 && att.next(4) == 1) ::raise(SIGKILL);
             return x;
           },
           iota_vec(20)))
    EXPECT_EQ(v, expect++);
  EXPECT_EQ(expect, 20);
}

TEST(PoolCrash, procs_2workers_persistent_pool_replaces_crashed_workers) {
  // Attempt counters must exist before the persistent workers are forked.
  static Attempts att(10);
  sk::Pool pool(2, sk::persistent);
  const auto out = pool.map(
      [](int x) {
        if (x == 3 && att.next(3) == 1) ::raise(SIGKILL);
        return x + 1;
      },
      iota_vec(10));
  EXPECT_EQ(out[3], 4);
  EXPECT_EQ(att.get(3), 2);
  // Still two live workers serving calls.
  const auto pids = pool.map([](int) {
    std::this_thread::sleep_for(20ms);
    return static_cast<int>(::getpid());
  }, iota_vec(8));
  EXPECT_LE(std::set<int>(pids.begin(), pids.end()).size(), 2u);
  EXPECT_THROW(pool.map([](int x) -> int {
    if (x == 0) std::abort();
    return x;
  }, iota_vec(3)), sk::WorkerCrashed);
  EXPECT_EQ(pool.map([](int x) { return x; }, std::vector<int>{5}), (std::vector<int>{5}));
}

TEST(PoolCrash, procs_persistent_pool_destructor_leaves_no_workers) {
  std::vector<int> pids;
  {
    sk::Pool pool(3, sk::persistent);
    pids = pool.map([](int) {
      std::this_thread::sleep_for(20ms);
      return static_cast<int>(::getpid());
    }, iota_vec(9));
  }
  for (int p : pids) EXPECT_TRUE(process_gone(p)) << p;
  EXPECT_TRUE(no_children_left());
}

TEST(PoolCrash, procs_parent_death_kills_its_workers) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = sktest::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The "parent" of a pool: makes a persistent pool and a running map,
    // reports its workers' pids, then dies by SIGKILL mid-call.
    ::close(fds[0]);
    sk::Pool pool(2, sk::persistent);
    auto pids = pool.map([](int) {
      std::this_thread::sleep_for(20ms);
      return static_cast<int>(::getpid());
    }, iota_vec(4));
    std::set<int> uniq(pids.begin(), pids.end());
    for (int p : uniq) (void)!::write(fds[1], &p, sizeof p);
    ::close(fds[1]);
    auto running = pool.background().map([](int x) {
      std::this_thread::sleep_for(30s);
      return x;
    }, iota_vec(2));
    ::raise(SIGKILL);
    ::_exit(1);
  }
  ::close(fds[1]);
  std::vector<int> workers;
  int p = 0;
  while (::read(fds[0], &p, sizeof p) == static_cast<ssize_t>(sizeof p)) workers.push_back(p);
  ::close(fds[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  ASSERT_FALSE(workers.empty());
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  for (int w : workers) {
    while (!process_gone(w) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(process_gone(w)) << "worker " << w << " outlived its parent";
  }
}
