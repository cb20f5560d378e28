// Module tests of the supervisor, through sk::ipc::ProcessHandle and a small
// WorkerBody (no api/ layer): a crashed worker is replaced at the failed run
// index while lives remain; a hook that overruns its timeout is killed while
// it runs (not when it returns) and costs a life; with no life left error()
// runs alone in a fresh worker ("error-only" mode) and decides the outcome,
// and a crash or an overrun inside error() delivers the original failure;
// when the parent dies, the supervisor and the worker die with it.
//
// Every process of a test reports into a Board in MAP_SHARED memory that the
// test maps before start(): the supervisor and each worker incarnation are
// forked from it and see the same Board.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <sk/ipc/supervisor.hpp>

#include "core_procs.hpp"

namespace {

using namespace std::chrono_literals;
using sk::ipc::FailureInfo;
using sk::ipc::HookId;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxRuns = 64;

// What the processes of one test report.
struct Board {
  std::atomic<std::uint32_t> run_calls{0};
  std::atomic<std::uint64_t> run_index[kMaxRuns] = {};  // current_run seen by each run call
  std::atomic<std::int32_t> run_pid[kMaxRuns] = {};     // the worker that made it
  std::atomic<std::uint32_t> error_calls{0};
  std::atomic<std::int32_t> error_pid{0};
  std::atomic<std::uint32_t> error_kind{99};
  std::atomic<std::uint32_t> error_hook{99};
  std::atomic<std::uint64_t> error_run{0};
  std::atomic<std::int32_t> error_signal{0};
  std::atomic<std::int64_t> error_limit_ms{0};
  std::atomic<std::int32_t> tree[2] = {};  // parent-death test: supervisor, worker
};

// A WorkerBody whose run hook does what the test says for its n-th call
// (n counts every incarnation's calls, from 0).
class Body final : public sk::ipc::WorkerBody {
 public:
  using RunFn = std::function<void(std::uint32_t n)>;
  using ErrorFn = std::function<void(const FailureInfo&)>;

  Body(Board& board, sk::ipc::ProcessHandle& handle, RunFn run, ErrorFn error = {})
      : board_(board), handle_(handle), run_(std::move(run)), error_(std::move(error)) {}

  void call_hook(HookId h) override {
    if (h != HookId::run) return;
    const std::uint32_t n = board_.run_calls.fetch_add(1);
    if (n < kMaxRuns) {
      board_.run_index[n].store(handle_.current_run());
      board_.run_pid[n].store(static_cast<std::int32_t>(::getpid()));
    }
    run_(n);
  }
  // The result: how many run calls this incarnation saw before it finished.
  void call_result(std::vector<std::byte>& out) override { put(out, board_.run_calls.load()); }
  void call_error(const FailureInfo& f, std::vector<std::byte>& out) override {
    board_.error_calls.fetch_add(1);
    board_.error_pid.store(static_cast<std::int32_t>(::getpid()));
    board_.error_kind.store(static_cast<std::uint32_t>(f.kind));
    board_.error_hook.store(static_cast<std::uint32_t>(f.hook));
    board_.error_run.store(f.run);
    board_.error_signal.store(f.signal);
    board_.error_limit_ms.store(f.limit_ms);
    if (error_) error_(f);  // may throw (the original failure is delivered), crash or hang
    put(out, std::uint32_t{0xE0E0});
  }

  static std::uint32_t value(const std::vector<std::byte>& bytes) {
    std::uint32_t v = 0;
    if (bytes.size() == sizeof v) std::memcpy(&v, bytes.data(), sizeof v);
    return v;
  }

 private:
  static void put(std::vector<std::byte>& out, std::uint32_t v) {
    out.resize(sizeof v);
    std::memcpy(out.data(), &v, sizeof v);
  }

  Board& board_;
  sk::ipc::ProcessHandle& handle_;
  RunFn run_;
  ErrorFn error_;
};

[[noreturn]] void hang() {
  for (;;) std::this_thread::sleep_for(1s);
}

sk::ipc::ProcessSpec spec_of(std::uint64_t runs, std::uint32_t lives) {
  sk::ipc::ProcessSpec s;
  s.runs = runs;
  s.lives = lives;
  return s;
}

void set_timeout(sk::ipc::ProcessSpec& s, HookId h, std::chrono::milliseconds limit) {
  s.timeouts[static_cast<std::size_t>(h)] = limit;
}

// The outcome is a failure of this kind, in this hook and run.
void expect_failure(const sk::ipc::ProcessHandle& h, FailureInfo::Kind kind, HookId hook, std::uint64_t run) {
  ASSERT_FALSE(h.outcome().ok);
  const FailureInfo& f = h.outcome().failure;
  EXPECT_EQ(f.kind, kind) << f.what;
  EXPECT_EQ(f.hook, hook) << f.what;
  EXPECT_EQ(f.run, run) << f.what;
}

// Waits (bounded) for the outcome; fails the test if it does not come.
bool finish(sk::ipc::ProcessHandle& h, std::chrono::seconds limit = 20s) {
  const bool done = h.wait(std::chrono::duration_cast<std::chrono::nanoseconds>(limit));
  EXPECT_TRUE(done) << "no outcome within " << limit.count() << " s";
  return done;
}

}  // namespace

// ---- restarts -----------------------------------------------------------------

TEST(Supervisor, procs_crashed_worker_is_replaced_at_the_failed_run) {
  coretest::SharedObject<Board> board;
  sk::ipc::ProcessHandle h;
  Body body(*board, h, [](std::uint32_t n) {
    if (n == 2) ::raise(SIGKILL);  // the third run call: run index 2 of the first worker
  });
  h.start(spec_of(5, 3), body);
  ASSERT_TRUE(finish(h));
  ASSERT_TRUE(h.outcome().ok) << h.outcome().failure.what;
  // Runs 0, 1, 2 (killed), then a fresh worker from the supervisor's
  // pristine memory continues at 2: 2, 3, 4.
  ASSERT_EQ(board->run_calls.load(), 6u);
  const std::uint64_t expect[] = {0, 1, 2, 2, 3, 4};
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(board->run_index[i].load(), expect[i]) << "run call " << i;
  EXPECT_EQ(board->run_pid[0].load(), board->run_pid[2].load());
  EXPECT_NE(board->run_pid[2].load(), board->run_pid[3].load()) << "the run after the crash is another process";
  EXPECT_EQ(h.control()->incarnations.load(), 2u);
  EXPECT_EQ(h.control()->life.lives_left.load(), 2u);
  EXPECT_EQ(board->error_calls.load(), 0u);
  EXPECT_EQ(Body::value(h.outcome().result), 6u);
}

TEST(Supervisor, procs_every_life_spent_on_crashes_then_error_only) {
  coretest::SharedObject<Board> board;
  sk::ipc::ProcessHandle h;
  Body body(*board, h, [](std::uint32_t n) {
    if (n >= 1) ::abort();  // run 0 completes; run 1 crashes in every incarnation
  });
  h.start(spec_of(4, 3), body);
  ASSERT_TRUE(finish(h));
  // Three incarnations crashed at run 1; then error() ran in a fourth worker
  // that ran no hook ("error-only"), and its return value is the outcome.
  EXPECT_EQ(board->run_calls.load(), 4u);
  for (std::uint32_t i = 1; i < 4; ++i) EXPECT_EQ(board->run_index[i].load(), 1u);
  EXPECT_EQ(h.control()->incarnations.load(), 4u);
  ASSERT_EQ(board->error_calls.load(), 1u);
  for (std::uint32_t i = 0; i < 4; ++i) EXPECT_NE(board->error_pid.load(), board->run_pid[i].load());
  EXPECT_EQ(board->error_kind.load(), static_cast<std::uint32_t>(FailureInfo::Kind::crash));
  EXPECT_EQ(board->error_hook.load(), static_cast<std::uint32_t>(HookId::run));
  EXPECT_EQ(board->error_run.load(), 1u);
  EXPECT_EQ(board->error_signal.load(), SIGABRT);
  ASSERT_TRUE(h.outcome().ok) << "error() returned normally: its value is the outcome";
  EXPECT_EQ(Body::value(h.outcome().result), 0xE0E0u);
}

TEST(Supervisor, procs_error_that_throws_delivers_the_original_crash) {
  coretest::SharedObject<Board> board;
  sk::ipc::ProcessHandle h;
  Body body(
      *board, h, [](std::uint32_t) { ::raise(SIGTERM); },  // a fatal signal (ASan would intercept SIGSEGV)
      [](const FailureInfo&) { throw std::runtime_error("error() gives up"); });
  h.start(spec_of(2, 2), body);
  ASSERT_TRUE(finish(h));
  expect_failure(h, FailureInfo::Kind::crash, HookId::run, 0);
  EXPECT_EQ(h.outcome().failure.signal, SIGTERM);
  EXPECT_EQ(board->run_calls.load(), 2u);
  EXPECT_EQ(board->error_calls.load(), 1u);
}

TEST(Supervisor, procs_crash_inside_error_delivers_the_failure_it_was_handling) {
  coretest::SharedObject<Board> board;
  sk::ipc::ProcessHandle h;
  Body body(
      *board, h, [](std::uint32_t) { throw std::invalid_argument("bad item 7"); },
      [](const FailureInfo&) { ::raise(SIGKILL); });
  h.start(spec_of(3, 2), body);  // supervised (2 lives); exceptions spend lives in the same worker
  ASSERT_TRUE(finish(h));
  expect_failure(h, FailureInfo::Kind::exception, HookId::run, 0);
  const FailureInfo& f = h.outcome().failure;
  EXPECT_EQ(f.type_name, "std::invalid_argument");
  EXPECT_EQ(f.what, "bad item 7");
  EXPECT_EQ(board->run_calls.load(), 2u);
  EXPECT_EQ(board->run_pid[0].load(), board->run_pid[1].load()) << "an exception costs a life, not the process";
  EXPECT_EQ(board->error_calls.load(), 1u);
}

// ---- timeouts -----------------------------------------------------------------

TEST(Supervisor, procs_stuck_hook_is_killed_at_its_timeout_and_costs_a_life) {
  coretest::SharedObject<Board> board;
  sk::ipc::ProcessHandle h;
  Body body(*board, h, [](std::uint32_t n) {
    if (n == 1) hang();  // never returns: only the supervisor can end it
  });
  auto spec = spec_of(3, 2);
  set_timeout(spec, HookId::run, 150ms);
  const auto t0 = Clock::now();
  h.start(spec, body);
  ASSERT_TRUE(finish(h));
  const auto took = Clock::now() - t0;
  ASSERT_TRUE(h.outcome().ok) << h.outcome().failure.what;
  EXPECT_GE(took, 150ms);
  EXPECT_LT(took, 10s) << "the overrun must be ended while the hook runs";
  EXPECT_EQ(board->run_calls.load(), 4u);
  const std::uint64_t expect[] = {0, 1, 1, 2};
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(board->run_index[i].load(), expect[i]) << "run call " << i;
  EXPECT_TRUE(coretest::process_gone(static_cast<std::uint64_t>(board->run_pid[1].load())));
  EXPECT_EQ(h.control()->incarnations.load(), 2u);
  EXPECT_EQ(h.control()->life.lives_left.load(), 1u);
}

TEST(Supervisor, procs_timeout_with_no_life_left_reaches_error_only) {
  coretest::SharedObject<Board> board;
  sk::ipc::ProcessHandle h;
  Body body(
      *board, h, [](std::uint32_t) { hang(); },
      [](const FailureInfo&) { throw std::runtime_error("no replacement"); });
  auto spec = spec_of(1, 1);  // one life, but a timeout: supervised
  set_timeout(spec, HookId::run, 100ms);
  h.start(spec, body);
  ASSERT_TRUE(finish(h));
  expect_failure(h, FailureInfo::Kind::timeout, HookId::run, 0);
  const FailureInfo& f = h.outcome().failure;
  EXPECT_EQ(f.limit_ms, 100);
  EXPECT_NE(f.what.find("100 ms"), std::string::npos) << f.what;
  ASSERT_EQ(board->error_calls.load(), 1u);
  EXPECT_EQ(board->error_kind.load(), static_cast<std::uint32_t>(FailureInfo::Kind::timeout));
  EXPECT_EQ(board->error_limit_ms.load(), 100);
  EXPECT_NE(board->error_pid.load(), board->run_pid[0].load());
}

TEST(Supervisor, procs_error_that_overruns_its_timeout_delivers_the_original_failure) {
  coretest::SharedObject<Board> board;
  sk::ipc::ProcessHandle h;
  Body body(
      *board, h, [](std::uint32_t) { throw std::out_of_range("index 9"); }, [](const FailureInfo&) { hang(); });
  auto spec = spec_of(1, 1);
  set_timeout(spec, HookId::error, 100ms);
  h.start(spec, body);
  ASSERT_TRUE(finish(h));
  expect_failure(h, FailureInfo::Kind::exception, HookId::run, 0);
  const FailureInfo& f = h.outcome().failure;
  EXPECT_EQ(f.type_name, "std::out_of_range");
  EXPECT_EQ(f.what, "index 9");
  EXPECT_EQ(board->error_calls.load(), 1u);
}

// ---- the parent dies ------------------------------------------------------------

namespace {

// A parent process starts a tree (supervised or direct), reports its pids on
// the Board, and is SIGKILLed: every process of the tree must be gone soon.
void parent_death(std::uint32_t lives) {
  coretest::SharedObject<Board> board;
  coretest::Children kids;
  const pid_t parent = kids.fork([&board, lives] {
    sk::ipc::ProcessHandle h;
    Body body(*board, h, [](std::uint32_t) { std::this_thread::sleep_for(5ms); });
    sk::ipc::ProcessSpec spec;  // no runs limit: until stopped
    spec.lives = lives;
    h.start(spec, body);
    if (!coretest::eventually([&] { return board->run_calls.load() > 0; })) return false;
    board->tree[0].store(static_cast<std::int32_t>(h.control()->supervisor_pid.load()));
    board->tree[1].store(static_cast<std::int32_t>(h.control()->worker_pid.load()));
    ::raise(SIGKILL);  // no destructor runs: the tree must notice by itself
    return false;
  });
  EXPECT_EQ(kids.wait(parent), 128 + SIGKILL);
  const auto supervisor = board->tree[0].load();
  const auto worker = board->tree[1].load();
  ASSERT_GT(worker, 0);
  if (lives > 1) {
    ASSERT_GT(supervisor, 0);
  }
  EXPECT_TRUE(coretest::eventually(
      [&] {
        return coretest::process_gone(static_cast<std::uint64_t>(worker)) &&
               (supervisor == 0 || coretest::process_gone(static_cast<std::uint64_t>(supervisor)));
      },
      10s))
      << "supervisor " << supervisor << " / worker " << worker << " outlived their parent";
  // Nothing ran after the tree died.
  const auto calls = board->run_calls.load();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(board->run_calls.load(), calls);
}

}  // namespace

TEST(Supervisor, procs_parent_death_ends_supervisor_and_worker) { parent_death(3); }

TEST(Supervisor, procs_parent_death_ends_a_direct_worker) { parent_death(1); }
