// Skprocess basics: hook order, runs, stop, join_in, lives with exceptions,
// error(), kill, tell/listen, timers and every misuse error. Every test forks.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <sk/process.hpp>

using namespace std::chrono_literals;

namespace {

// Records the hook sequence and returns it as the result.
class OrderWorker : public sk::Skprocess<std::string> {
 public:
  explicit OrderWorker(std::optional<std::uint64_t> runs) { config.runs = runs; }
  void prerun() override { log_ += "p"; }
  void run() override { log_ += "r"; }
  void postrun() override { log_ += "o;"; }
  void onfinish() override { log_ += "F"; }
  std::string result() override { return log_ + "R"; }

 private:
  std::string log_;
};

TEST(Process, procs_hook_order_runs3) {
  OrderWorker w(3);
  w.start();
  EXPECT_EQ(w.get(), "pro;pro;pro;FR");
  EXPECT_EQ(w.current_run(), 3u);
  EXPECT_FALSE(w.is_alive());
}

TEST(Process, procs_runs0_only_finish) {
  OrderWorker w(0);
  EXPECT_EQ(w.execute(), "FR");
  EXPECT_EQ(w.current_run(), 0u);
}

TEST(Process, procs_get_is_repeatable) {
  OrderWorker w(1);
  w.start();
  EXPECT_TRUE(w.wait());
  EXPECT_EQ(w.get(), "pro;FR");
  EXPECT_EQ(w.get(), "pro;FR");
}

// The object state at start() is what the child sees; child changes stay there.
class SnapshotWorker : public sk::Skprocess<int> {
 public:
  int base = 0;
  std::vector<int> big;
  SnapshotWorker() { config.runs = 2; }
  void run() override { base += 1; }
  int result() override { return base + static_cast<int>(big.size()); }
};

TEST(Process, procs_child_sees_state_at_start) {
  SnapshotWorker w;
  w.base = 40;
  w.big.assign(1000, 7);
  w.start();
  w.base = 1000;  // after start(): the child does not see it
  EXPECT_EQ(w.get(), 42 + 1000);
  EXPECT_EQ(w.base, 1000);
}

class Forever : public sk::Skprocess<std::uint64_t> {
 public:
  void run() override { std::this_thread::sleep_for(1ms); }
  std::uint64_t result() override { return current_run(); }
};

TEST(Process, procs_runs_unset_until_stop) {
  Forever w;
  w.start();
  while (w.current_run() < 3) std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(w.is_alive());
  w.stop();
  EXPECT_TRUE(w.wait(10s));
  const auto r = w.get();
  EXPECT_GE(r, 3u);
  EXPECT_EQ(r, w.current_run());
}

TEST(Process, procs_wait_timeout_returns_false_while_running) {
  Forever w;
  w.start();
  EXPECT_FALSE(w.wait(20ms));
  w.stop();
  EXPECT_TRUE(w.wait());
}

TEST(Process, procs_join_in_ends_loop) {
  Forever w;
  w.config.join_in = 50ms;
  w.start();
  EXPECT_TRUE(w.wait(10s));
  EXPECT_GE(w.get(), 1u);
}

class SelfStop : public sk::Skprocess<int> {
 public:
  void run() override {
    if (++count_ == 5) stop();
  }
  void postrun() override { ++post_; }
  int result() override { return count_ * 100 + post_; }

 private:
  int count_ = 0, post_ = 0;
};

TEST(Process, procs_self_stop_skips_rest_of_iteration) {
  SelfStop w;
  EXPECT_EQ(w.execute(), 504);  // postrun skipped in the stopping iteration
  EXPECT_EQ(w.current_run(), 4u);
}

// runs=3, lives=2, run() fails on its 2nd call: the same index is retried.
class RetryWorker : public sk::Skprocess<int> {
 public:
  RetryWorker() {
    config.runs = 3;
    config.lives = 2;
  }
  void run() override {
    ++calls_;
    if (calls_ == 2) throw std::runtime_error("transient");
  }
  int result() override { return calls_; }

 private:
  int calls_ = 0;
};

TEST(Process, procs_lives_retry_same_index_state_kept) {
  RetryWorker w;
  EXPECT_EQ(w.execute(), 4);
  EXPECT_EQ(w.current_run(), 3u);
}

struct BadInput : std::logic_error {
  using std::logic_error::logic_error;
};

class AlwaysFails : public sk::Skprocess<int> {
 public:
  int mode = 0;  // 0: default error(); 1: error() returns; 2: error() throws other
  AlwaysFails() {
    config.runs = 5;
    config.lives = 3;
  }
  void run() override {
    if (current_run() == 1) throw BadInput("bad row 1");
  }
  int error(const sk::ProcessError& e) override {
    if (mode == 1) return 1000 + static_cast<int>(e.current_run());
    if (mode == 2) throw std::runtime_error("error hook failed too");
    return sk::Skprocess<int>::error(e);
  }
};

TEST(Process, procs_lives_exhausted_delivers_typed_run_error) {
  AlwaysFails w;
  w.start();
  try {
    w.get();
    FAIL() << "expected RunError";
  } catch (const sk::RunError& e) {
    EXPECT_EQ(e.current_run(), 1u);
    EXPECT_EQ(e.hook(), sk::ProcessHook::run);
    EXPECT_NE(e.original_type().find("BadInput"), std::string::npos) << e.original_type();
    EXPECT_EQ(e.original_what(), "bad row 1");
    EXPECT_NE(std::string(e.what()).find("Error in run on run 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(w.get(), sk::RunError);  // repeatable
}

TEST(Process, procs_error_hook_value_becomes_result) {
  AlwaysFails w;
  w.mode = 1;
  EXPECT_EQ(w.execute(), 1001);
}

TEST(Process, procs_error_hook_throwing_delivers_original) {
  AlwaysFails w;
  w.mode = 2;
  EXPECT_THROW(w.execute(), sk::RunError);
}

class FinishFails : public sk::Skprocess<int> {
 public:
  int where = 0;  // 0 prerun, 1 postrun, 2 onfinish, 3 result
  FinishFails() {
    config.runs = 2;
    config.lives = 5;
  }
  void prerun() override {
    if (where == 0) throw std::runtime_error("p");
  }
  void run() override {}
  void postrun() override {
    if (where == 1) throw std::runtime_error("o");
  }
  void onfinish() override {
    ++finishes_;
    if (where == 2) throw std::runtime_error("f");
  }
  int result() override {
    if (where == 3) throw std::runtime_error("r");
    return 1;
  }
  int error(const sk::ProcessError& e) override {
    if (where >= 2) return 100 + finishes_;  // no retry happened: one onfinish call
    return sk::Skprocess<int>::error(e);
  }

 private:
  int finishes_ = 0;
};

TEST(Process, procs_error_types_per_hook) {
  {
    FinishFails w;
    w.where = 0;
    EXPECT_THROW(w.execute(), sk::PreRunError);
  }
  {
    FinishFails w;
    w.where = 1;
    EXPECT_THROW(w.execute(), sk::PostRunError);
  }
  {
    FinishFails w;
    w.where = 2;  // onfinish failure: no lives used, goes to error()
    EXPECT_EQ(w.execute(), 101);
  }
  {
    FinishFails w;
    w.where = 3;
    EXPECT_EQ(w.execute(), 101);
  }
}

class OnFinishNoHandler : public sk::Skprocess<int> {
 public:
  OnFinishNoHandler() { config.runs = 1; }
  void run() override {}
  void onfinish() override { throw std::runtime_error("close failed"); }
};

TEST(Process, procs_onfinish_error_type) {
  OnFinishNoHandler w;
  try {
    w.execute();
    FAIL();
  } catch (const sk::OnFinishError& e) {
    EXPECT_EQ(e.original_what(), "close failed");
    EXPECT_EQ(e.hook(), sk::ProcessHook::onfinish);
  }
}

TEST(Process, procs_kill_then_get_throws_killed) {
  Forever w;
  w.start();
  while (w.current_run() < 1) std::this_thread::sleep_for(1ms);
  w.kill();
  EXPECT_FALSE(w.is_alive());
  EXPECT_THROW(w.get(), sk::ProcessKilled);
  EXPECT_THROW(w.get(), sk::ProcessError);
}

class VoidWorker : public sk::Skprocess<> {
 public:
  VoidWorker() { config.runs = 2; }
  void run() override {}
};

TEST(Process, procs_void_result) {
  VoidWorker w;
  w.execute();
  EXPECT_EQ(w.current_run(), 2u);
}

class BigResult : public sk::Skprocess<std::string> {
 public:
  BigResult() { config.runs = 1; }
  void run() override {}
  std::string result() override { return std::string(3 << 20, 'z') + "end"; }
};

TEST(Process, procs_large_result_3MiB_through_the_outcome_pipe) {
  BigResult w;
  const std::string r = w.execute();
  EXPECT_EQ(r.size(), (3u << 20) + 3);
  EXPECT_EQ(r.substr(r.size() - 4), "zend");
}

// ---- misuse ----------------------------------------------------------------
TEST(Process, procs_misuse_errors) {
  OrderWorker w(1);
  EXPECT_THROW(w.tell(1), sk::ProcessNotStarted);
  EXPECT_THROW(w.listen<int>(1ms), sk::ProcessNotStarted);
  EXPECT_THROW(w.get(), sk::ProcessNotStarted);
  EXPECT_TRUE(w.wait());  // never started: nothing to wait for
  w.start();
  EXPECT_THROW(w.start(), sk::ProcessAlreadyStarted);
  EXPECT_EQ(w.get(), "pro;FR");
  EXPECT_THROW(w.tell(1), sk::ProcessChannelClosed);
  EXPECT_THROW(w.listen<int>(1ms), sk::ProcessChannelClosed);
  EXPECT_THROW(w.start(), sk::ProcessAlreadyStarted);
  try {
    w.start();
  } catch (const sk::ProcessAlreadyStarted& e) {
    EXPECT_NE(std::string(e.what()).find("twice"), std::string::npos);
  }
}

TEST(Process, procs_bad_config_rejected) {
  {
    OrderWorker w(1);
    w.config.lives = 0;
    EXPECT_THROW(w.start(), sk::ProcessConfigError);
  }
  {
    OrderWorker w(1);
    w.config.timeouts.run = 0ms;
    EXPECT_THROW(w.start(), sk::ProcessConfigError);
  }
}

// ---- tell / listen ----------------------------------------------------------
class Echo : public sk::Skprocess<int> {
 public:
  void prerun() override { msg_ = listen<std::string>(5s); }
  void run() override {
    if (!msg_ || *msg_ == "stop") {
      stop();
      return;
    }
    ++handled_;
  }
  void postrun() override { tell(*msg_ + "!"); }
  int result() override { return handled_; }

 private:
  std::optional<std::string> msg_;
  int handled_ = 0;
};

TEST(Process, procs_tell_listen_round_trips_both_directions) {
  Echo w;
  w.start();
  for (int i = 0; i < 100; ++i) {
    w.tell("m" + std::to_string(i));
    auto r = w.listen<std::string>(10s);
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(*r, "m" + std::to_string(i) + "!");
  }
  w.tell(std::string("stop"));
  EXPECT_EQ(w.get(), 100);
}

TEST(Process, procs_listen_timeout_returns_nullopt) {
  Forever w;
  w.start();
  EXPECT_FALSE(w.listen<int>(10ms).has_value());
  w.stop();
  w.wait();
}

class BigEcho : public sk::Skprocess<std::size_t> {
 public:
  BigEcho() { config.runs = 3; }
  void run() override {
    auto v = listen<std::vector<std::uint8_t>>(10s);
    if (!v) throw std::runtime_error("no message");
    total_ += v->size();
    for (auto& b : *v) b = static_cast<std::uint8_t>(b + 1);
    tell(*v);
  }
  std::size_t result() override { return total_; }

 private:
  std::size_t total_ = 0;
};

TEST(Process, procs_large_messages_1MiB_both_directions) {
  BigEcho w;
  w.start();
  for (int i = 0; i < 3; ++i) {
    std::vector<std::uint8_t> v(1 << 20);
    for (std::size_t j = 0; j < v.size(); ++j) v[j] = static_cast<std::uint8_t>(j * 7 + i);
    w.tell(v);
    auto back = w.listen<std::vector<std::uint8_t>>(20s);
    ASSERT_TRUE(back.has_value());
    ASSERT_EQ(back->size(), v.size());
    for (std::size_t j = 0; j < v.size(); j += 4093) ASSERT_EQ((*back)[j], static_cast<std::uint8_t>(v[j] + 1));
  }
  EXPECT_EQ(w.get(), 3u << 20);
}

// A worker that tells much more than the channel holds while the parent only
// waits: wait() drains into a backlog that listen() then returns in order.
class Chatty : public sk::Skprocess<int> {
 public:
  Chatty() {
    config.runs = 20000;
    config.channel_bytes = 4096;
  }
  void run() override { tell(static_cast<int>(current_run())); }
  int result() override { return 1; }
};

TEST(Process, procs_tell_backpressure_drained_by_wait) {
  Chatty w;
  w.start();
  EXPECT_TRUE(w.wait(20s));
  for (int i = 0; i < 20000; ++i) {
    auto m = w.listen<int>(0ms);
    ASSERT_TRUE(m.has_value()) << i;
    ASSERT_EQ(*m, i);
  }
  EXPECT_FALSE(w.listen<int>(0ms).has_value());
  EXPECT_EQ(w.get(), 1);
}

// ---- timers -----------------------------------------------------------------
class Timed : public sk::Skprocess<int> {
 public:
  Timed() { config.runs = 5; }
  void run() override { std::this_thread::sleep_for(2ms); }
  int result() override { return 0; }
};

TEST(Process, procs_timers_count_every_hook) {
  Timed w;
  w.start();
  w.get();
  const auto& t = w.timers();
  EXPECT_EQ(t.run.num_times(), 5u);
  EXPECT_EQ(t.prerun.num_times(), 5u);
  EXPECT_EQ(t.postrun.num_times(), 5u);
  EXPECT_EQ(t.full_run.num_times(), 5u);
  EXPECT_EQ(t.onfinish.num_times(), 1u);
  EXPECT_EQ(t.result.num_times(), 1u);
  EXPECT_EQ(t.error.num_times(), 0u);
  ASSERT_TRUE(t.run.mean().has_value());
  EXPECT_GE(*t.run.mean(), 0.0015);
  EXPECT_GE(*t.full_run.min(), *t.run.min());
}

TEST(Process, procs_timers_live_while_running) {
  Forever w;
  w.start();
  while (w.current_run() < 3) std::this_thread::sleep_for(1ms);
  EXPECT_GE(w.timers().run.num_times(), 3u);
  w.stop();
  w.get();
}

}  // namespace
