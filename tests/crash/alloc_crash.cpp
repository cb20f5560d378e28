// Arena under SIGKILL: a creator dying during init never hangs an opener; the
// sweep removes abandoned segments and keeps those a live process uses; a
// process killed while allocating leaves the lists consistent.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/header.hpp>
#include <sk/alloc/sweep.hpp>

#include "alloc_fork.hpp"

using namespace sk::alloc;
using namespace std::chrono_literals;

namespace {

std::string unique_name(const char* what) { return "ct-" + std::to_string(::getpid()) + "-" + what; }

struct NameGuard {
  std::string name;
  explicit NameGuard(const char* what) : name(unique_name(what)) { Arena::unlink(name); }
  ~NameGuard() { Arena::unlink(name); }
};

// A pipe the child writes one byte to when it reached a point.
struct Signal {
  int fds[2] = {-1, -1};
  Signal() { EXPECT_EQ(::pipe(fds), 0); }
  ~Signal() {
    ::close(fds[0]);
    ::close(fds[1]);
  }
  void post() const { (void)!::write(fds[1], "x", 1); }
  bool wait() const {
    char c;
    return ::read(fds[0], &c, 1) == 1;
  }
};

// Child: creates `name` and stays alive (returns only when killed).
pid_t spawn_creator(const std::string& name, const Signal& s) {
  return alloctest::spawn([&] {
    Arena a = Arena::create(name, 1 << 16);
    s.post();
    for (;;) ::pause();
    return true;
  });
}

// Child: opens `name` and stays alive.
pid_t spawn_opener(const std::string& name, const Signal& s) {
  return alloctest::spawn([&] {
    Arena a = Arena::open(name);
    s.post();
    for (;;) ::pause();
    return true;
  });
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST(ArenaCrash, creator_killed_during_init_opener_gets_BadSegment) {
  NameGuard g("initkill");
  Signal in_init;
  const pid_t creator = alloctest::spawn([&] {
    Arena::create(g.name, 1 << 16, {}, [&](Arena&) {
      in_init.post();
      for (;;) ::pause();
    });
    return true;
  });
  ASSERT_TRUE(in_init.wait());
  // An opener already waiting when the creator dies.
  const auto t0 = std::chrono::steady_clock::now();
  auto waiting = std::async(std::launch::async, [&]() -> std::string {
    try {
      Arena::open(g.name, {}, 20s);
    } catch (const BadSegment& e) {
      return e.what();
    } catch (const std::exception& e) {
      return std::string("WRONG TYPE: ") + e.what();
    }
    return "NO EXCEPTION";
  });
  std::this_thread::sleep_for(100ms);
  ::kill(creator, SIGKILL);  // not reaped yet: a zombie counts as dead
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready) << "opener hangs after its creator died";
  const std::string m = waiting.get();
  EXPECT_LT(seconds_since(t0), 10.0);
  EXPECT_NE(m.find("died during initialization"), std::string::npos) << m;
  EXPECT_NE(m.find("pid " + std::to_string(creator)), std::string::npos) << m;
  alloctest::reap(creator);
  // Opening afterwards fails at once (BadSegment, or "no such segment" if a
  // sweep in a concurrently running test already removed it).
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_THROW(Arena::open(g.name, {}, 20s), SegmentError);
  EXPECT_LT(seconds_since(t1), 2.0);
  // The sweep removes it; the name can be created again.
  sweep_stale_segments();
  EXPECT_FALSE(Arena::exists(g.name));
  EXPECT_NO_THROW(Arena::create(g.name, 1 << 16));
}

TEST(ArenaCrash, slow_live_creator_opener_times_out) {
  NameGuard g("slowinit");
  Signal in_init;
  const pid_t creator = alloctest::spawn([&] {
    Arena::create(g.name, 1 << 16, {}, [&](Arena&) {
      in_init.post();
      for (;;) ::pause();
    });
    return true;
  });
  ASSERT_TRUE(in_init.wait());
  const auto t0 = std::chrono::steady_clock::now();
  try {
    Arena::open(g.name, {}, 300ms);
    ADD_FAILURE() << "expected a timeout";
  } catch (const SegmentError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("still being initialized by pid " + std::to_string(creator)), std::string::npos) << m;
    EXPECT_NE(m.find("init_timeout"), std::string::npos) << m;
  }
  EXPECT_LT(seconds_since(t0), 5.0);
  // In use (initializing, creator alive): the sweep keeps it.
  sweep_stale_segments();
  EXPECT_TRUE(Arena::exists(g.name));
  alloctest::kill_and_reap(creator);
}

TEST(ArenaCrash, sweep_removes_dead_keeps_live) {
  NameGuard dead("sweepdead"), live("sweeplive");
  Signal s;
  const pid_t a = spawn_creator(dead.name, s);
  ASSERT_TRUE(s.wait());
  const pid_t b = spawn_creator(live.name, s);
  ASSERT_TRUE(s.wait());
  const pid_t c = spawn_opener(live.name, s);  // attached to `live`, outlives its creator
  ASSERT_TRUE(s.wait());
  alloctest::kill_and_reap(a);
  alloctest::kill_and_reap(b);

  sweep_stale_segments();
  EXPECT_FALSE(Arena::exists(dead.name));
  EXPECT_TRUE(Arena::exists(live.name));
  // Still openable and sound.
  EXPECT_NO_THROW(Arena::open(live.name));
  // Creating over it is refused and names the live attacher.
  try {
    Arena::create(live.name, 1 << 16);
    ADD_FAILURE() << "expected SegmentError";
  } catch (const SegmentError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("in use by pid " + std::to_string(c)), std::string::npos) << m;
  }
  const SegmentStatus st = check_segment(Arena::path_for(live.name), false);
  EXPECT_EQ(st.verdict, SegmentVerdict::in_use);

  alloctest::kill_and_reap(c);
  sweep_stale_segments();
  EXPECT_FALSE(Arena::exists(live.name));
}

TEST(ArenaCrash, create_replaces_segment_whose_owners_died) {
  NameGuard g("replace");
  Signal s;
  const pid_t a = spawn_creator(g.name, s);
  ASSERT_TRUE(s.wait());
  const pid_t b = spawn_opener(g.name, s);
  ASSERT_TRUE(s.wait());
  alloctest::kill_and_reap(a);
  alloctest::kill_and_reap(b);
  Arena fresh = Arena::create(g.name, 1 << 16);
  EXPECT_EQ(fresh.creator(), self_owner());
  EXPECT_EQ(fresh.used(), 0u);
}

TEST(ArenaCrash, killed_in_alloc_loop_leaves_arena_usable) {
  Arena a = Arena::create_anonymous(8 << 20);
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    const pid_t kid = alloctest::spawn([&, round] {
      std::mt19937_64 r(round);
      std::vector<std::pair<Offset, std::size_t>> held;
      for (;;) {
        if (held.size() > 16 || (!held.empty() && r() % 2)) {
          a.deallocate(held.back().first, held.back().second);
          held.pop_back();
        } else {
          const std::size_t bytes = r() % 8 == 0 ? 4096 * (1 + r() % 4) : 16 * (1 + r() % 100);
          try {
            held.emplace_back(a.allocate(bytes), bytes);
          } catch (const ArenaFull&) {
          }
        }
      }
      return true;
    });
    std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 5000));
    alloctest::kill_and_reap(kid);
  }
  // The lists are consistent: draining the arena hands out distinct,
  // in-range, aligned blocks and terminates (no cycle).
  std::vector<bool> seen(a.capacity() / kMinBlock, false);
  std::size_t n = 0;
  const std::size_t limit = a.capacity() / kMinBlock;
  try {
    for (;;) {
      const Offset off = a.allocate(16);
      ASSERT_TRUE(a.view().contains(off, 16));
      ASSERT_EQ(off % 16, 0u);
      ASSERT_FALSE(seen[off / kMinBlock]) << "block " << off << " handed out twice";
      seen[off / kMinBlock] = true;
      ASSERT_LT(++n, limit);
    }
  } catch (const ArenaFull&) {
  }
  // Leaks (blocks the killed children held) are allowed, but most of the
  // arena came back.
  EXPECT_GT(n * 16, a.capacity() / 4);
}
