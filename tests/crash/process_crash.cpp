// Skprocess under crashes and hangs: lives across fatal signals, abort,
// std::terminate and hook timeouts (the supervisor restarts a fresh worker
// from the start() snapshot, at the failed run index), error() after a crash,
// and no orphans when the parent dies.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <exception>
#include <thread>

#include "../support/core_procs.hpp"
#include <sk/alloc/owner.hpp>
#include <sk/process.hpp>

#include "test_fork.hpp"

using namespace std::chrono_literals;

namespace {

// Counters shared with every descendant (anonymous MAP_SHARED, inherited).
struct Shared {
  std::atomic<int> calls{0};
  std::atomic<int> crashes{0};
  std::atomic<std::uint32_t> pids[4]{};
};
Shared* make_shared_counters() {
  void* p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return new (p) Shared();
}

[[noreturn]] void segfault() {
  std::raise(SIGSEGV);
  std::abort();
}

enum class How { segv, abort_, terminate, hang, exit_ };

void die(How how) {
  switch (how) {
    case How::segv: segfault();
    case How::abort_: std::abort();
    case How::terminate: std::terminate();
    case How::hang:
      for (;;) std::this_thread::sleep_for(1s);
    case How::exit_: _exit(3);
  }
}

// runs=3; the first `crash_times` attempts at run index 1 die.
class Crasher : public sk::Skprocess<int> {
 public:
  Crasher(Shared* s, How how, int crash_times, std::uint32_t lives) : s_(s), how_(how), crash_times_(crash_times) {
    config.runs = 3;
    config.lives = lives;
  }
  void run() override {
    s_->calls.fetch_add(1);
    ++runs_here_;
    if (current_run() == 1 && s_->crashes.fetch_add(1) < crash_times_) die(how_);
  }
  int result() override { return runs_here_; }  // iterations run by the last incarnation
  int error(const sk::ProcessError& e) override {
    if (recover) return -100 - static_cast<int>(e.current_run());
    return sk::Skprocess<int>::error(e);
  }
  bool recover = false;

 private:
  Shared* s_;
  How how_;
  int crash_times_;
  int runs_here_ = 0;
};

TEST(ProcessCrash, procs_segfault_costs_a_life_and_restarts_at_same_index) {
  Shared* s = make_shared_counters();
  Crasher w(s, How::segv, 2, 3);
  EXPECT_EQ(w.execute(), 2);  // the fresh worker starts from the snapshot, at index 1
  EXPECT_EQ(s->calls.load(), 5);  // idx0, crash, crash, idx1, idx2
  EXPECT_EQ(w.current_run(), 3u);
}

TEST(ProcessCrash, procs_abort_and_terminate_cost_lives) {
  for (How how : {How::abort_, How::terminate, How::exit_}) {
    Shared* s = make_shared_counters();
    Crasher w(s, how, 1, 2);
    EXPECT_EQ(w.execute(), 2);
  }
}

TEST(ProcessCrash, procs_lives_exhausted_by_crashes_delivers_crashed) {
  Shared* s = make_shared_counters();
  Crasher w(s, How::segv, 100, 2);
  try {
    w.execute();
    FAIL() << "expected ProcessCrashed";
  } catch (const sk::ProcessCrashed& e) {
    EXPECT_EQ(e.current_run(), 1u);
    EXPECT_EQ(e.hook(), sk::ProcessHook::run);
    // Without ASan the SIGSEGV itself is reported; ASan handles it and then
    // exits with 1, or raises SIGABRT under ASAN_OPTIONS=abort_on_error=1.
    EXPECT_TRUE(e.signal() == SIGSEGV || e.signal() == SIGABRT || e.exit_code() != 0) << e.what();
  }
}

TEST(ProcessCrash, procs_direct_mode_crash_delivers_crashed) {
  Shared* s = make_shared_counters();
  Crasher w(s, How::abort_, 100, 1);  // lives 1, no timeouts: no supervisor
  try {
    w.execute();
    FAIL();
  } catch (const sk::ProcessCrashed& e) {
    EXPECT_EQ(e.signal(), SIGABRT) << e.what();
    EXPECT_EQ(e.current_run(), 1u);
  }
}

TEST(ProcessCrash, procs_error_hook_after_crash_runs_in_fresh_child) {
  for (std::uint32_t lives : {1u, 2u}) {  // direct and supervised
    Shared* s = make_shared_counters();
    Crasher w(s, How::segv, 100, lives);
    w.recover = true;
    EXPECT_EQ(w.execute(), -101) << lives;
  }
}

class Hanger : public sk::Skprocess<int> {
 public:
  Hanger(Shared* s, int hang_times, std::uint32_t lives) : s_(s), hang_times_(hang_times) {
    config.runs = 2;
    config.lives = lives;
    config.timeouts.run = 50ms;
  }
  void run() override {
    if (current_run() == 1 && s_->crashes.fetch_add(1) < hang_times_) die(How::hang);
  }
  int result() override { return 7; }

 private:
  Shared* s_;
  int hang_times_;
};

TEST(ProcessCrash, procs_hanging_run_50ms_timeout_restarts) {
  Shared* s = make_shared_counters();
  Hanger w(s, 1, 2);
  EXPECT_EQ(w.execute(), 7);
  EXPECT_EQ(w.current_run(), 2u);
}

TEST(ProcessCrash, procs_hanging_run_lives_exhausted_timeout_error) {
  Shared* s = make_shared_counters();
  Hanger w(s, 100, 2);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    w.execute();
    FAIL();
  } catch (const sk::ProcessTimeoutError& e) {
    EXPECT_EQ(e.hook(), sk::ProcessHook::run);
    EXPECT_EQ(e.limit(), 50ms);
    EXPECT_EQ(e.current_run(), 1u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);  // does not hang
}

class FinishCrash : public sk::Skprocess<int> {
 public:
  int mode = 0;  // 0: crash in onfinish, 1: hang in result (timeout), 2: crash in error()
  FinishCrash() {
    config.runs = 1;
    config.lives = 3;
    config.timeouts.result = 50ms;
  }
  void run() override {
    if (mode == 2) throw std::runtime_error("first failure");
  }
  void onfinish() override {
    if (mode == 0) segfault();
  }
  int result() override {
    if (mode == 1) die(How::hang);
    return 1;
  }
  int error(const sk::ProcessError& e) override {
    if (mode == 2) segfault();
    if (dynamic_cast<const sk::ProcessCrashed*>(&e)) return 50;
    if (dynamic_cast<const sk::ProcessTimeoutError*>(&e)) return 60;
    return 0;
  }
};

TEST(ProcessCrash, procs_crash_or_timeout_in_finish_goes_to_error_without_lives) {
  FinishCrash a;
  EXPECT_EQ(a.execute(), 50);
  FinishCrash b;
  b.mode = 1;
  EXPECT_EQ(b.execute(), 60);
}

TEST(ProcessCrash, procs_crash_in_error_hook_delivers_original_failure) {
  FinishCrash w;
  w.mode = 2;
  try {
    w.execute();
    FAIL();
  } catch (const sk::RunError& e) {
    EXPECT_EQ(e.original_what(), "first failure");
  }
}

class Sleeper : public sk::Skprocess<int> {
 public:
  Sleeper(Shared* s, int slot, std::uint32_t lives) : s_(s), slot_(slot) { config.lives = lives; }
  void prerun() override { s_->pids[slot_].store(static_cast<std::uint32_t>(getpid())); }
  void run() override { std::this_thread::sleep_for(5ms); }

 private:
  Shared* s_;
  int slot_;
};

TEST(ProcessCrash, procs_parent_death_leaves_no_orphans) {
  Shared* s = make_shared_counters();
  const pid_t mid = sktest::fork();
  ASSERT_GE(mid, 0);
  if (mid == 0) {
    Sleeper direct(s, 0, 1);     // direct child
    Sleeper supervised(s, 1, 3);  // supervisor + worker
    direct.start();
    supervised.start();
    for (;;) pause();
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((s->pids[0].load() == 0 || s->pids[1].load() == 0) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  const pid_t w0 = static_cast<pid_t>(s->pids[0].load());
  const pid_t w1 = static_cast<pid_t>(s->pids[1].load());
  ASSERT_NE(w0, 0);
  ASSERT_NE(w1, 0);
  EXPECT_TRUE(!coretest::process_gone(static_cast<std::uint32_t>(w0)));
  kill(mid, SIGKILL);
  waitpid(mid, nullptr, 0);
  const auto gone_by = std::chrono::steady_clock::now() + 2s;  // generous "does not linger" bound
  while ((!coretest::process_gone(static_cast<std::uint32_t>(w0)) || !coretest::process_gone(static_cast<std::uint32_t>(w1))) &&
         std::chrono::steady_clock::now() < gone_by)
    std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(coretest::process_gone(static_cast<std::uint32_t>(w0)));
  EXPECT_TRUE(coretest::process_gone(static_cast<std::uint32_t>(w1)));
}

TEST(ProcessCrash, procs_crashed_worker_restarted_while_parent_busy) {
  // The parent never calls wait() until the end: supervision does not need it.
  Shared* s = make_shared_counters();
  Crasher w(s, How::segv, 1, 2);
  w.start();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (s->calls.load() < 4 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(s->calls.load(), 4);  // restarted and finished without wait()
  EXPECT_EQ(w.get(), 2);
}

}  // namespace
