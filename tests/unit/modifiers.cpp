// Call modifiers: retry, timeout, background, rate_limit, asynced, their
// combinations and fixed nesting, misuse errors; RateLimiter; sk::Task.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

#include <sk/modifiers.hpp>

using namespace std::chrono_literals;

namespace {

struct Flaky : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Fatal : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Lets a deliberately slow call finish before the test ends (a timed-out call
// keeps running on its thread).
struct Gate {
  std::promise<void> open;
  std::shared_future<void> opened = open.get_future().share();
  std::promise<void> done;
  std::future<void> finished = done.get_future();
};

TEST(Modifiers, single_thread_plain_call_passes_arguments_and_result) {
  auto add = sk::fn([](int a, int b) { return a + b; });
  EXPECT_EQ(add(2, 3), 5);
  std::string s = "x";
  sk::fn([](std::string& r) { r += "y"; })(s);  // lvalue reference reaches the callable
  EXPECT_EQ(s, "xy");
}

TEST(Modifiers, single_thread_retry_until_success) {
  int calls = 0;
  auto f = sk::fn([&] {
             if (++calls < 3) throw Flaky("not yet");
             return calls;
           }).retry(5, 0ms);
  EXPECT_EQ(f(), 3);
  EXPECT_EQ(calls, 3);
}

TEST(Modifiers, single_thread_retry_rethrows_last_after_times_attempts) {
  int calls = 0;
  auto f = sk::fn([&]() -> int { throw Flaky("attempt " + std::to_string(++calls)); }).retry(3, 0ms);
  try {
    f();
    FAIL();
  } catch (const Flaky& e) {
    EXPECT_STREQ(e.what(), "attempt 3");
  }
  EXPECT_EQ(calls, 3);
}

TEST(Modifiers, single_thread_retry_only_listed_types) {
  int calls = 0;
  auto f = sk::fn([&] {
             ++calls;
             throw Fatal("no");
           }).retry<Flaky>(5, 0ms);
  EXPECT_THROW(f(), Fatal);
  EXPECT_EQ(calls, 1);
  calls = 0;
  auto g = sk::fn([&] {
             if (++calls == 1) throw Fatal("once");
           }).retry<Flaky, Fatal>(2, 0ms);
  g();
  EXPECT_EQ(calls, 2);
}

TEST(Modifiers, single_thread_retry_backoff_sleeps_between_attempts) {
  int calls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto f = sk::fn([&] {
             if (++calls < 3) throw Flaky("x");
           }).retry(3, 5ms, 2.0);  // sleeps 5 ms then 10 ms
  f();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
}

TEST(Modifiers, single_thread_timeout_expires_and_call_keeps_running) {
  Gate gate;
  auto slow = sk::fn(
                  [&gate] {
                    gate.opened.wait();
                    gate.done.set_value();
                    return 1;
                  },
                  "slow")
                  .timeout(20ms);
  try {
    slow();
    FAIL();
  } catch (const sk::FunctionTimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("slow timed out after 0.02 seconds"), std::string::npos) << e.what();
  }
  gate.open.set_value();
  EXPECT_EQ(gate.finished.wait_for(10s), std::future_status::ready);  // it ran to its end
}

TEST(Modifiers, single_thread_timeout_returns_value_and_propagates_exception) {
  EXPECT_EQ(sk::fn([](int x) { return x * 2; }).timeout(10s)(21), 42);
  EXPECT_THROW(sk::fn([] { throw Fatal("inside"); }).timeout(10s)(), Fatal);
  int out = 0;
  sk::fn([](int& r) { r = 7; }).timeout(10s)(std::ref(out));  // std::ref shares the argument
  EXPECT_EQ(out, 7);
}

TEST(Modifiers, single_thread_background_returns_future) {
  auto f = sk::fn([](int x) { return x + 1; }).background();
  std::future<int> fut = f(41);
  EXPECT_EQ(fut.get(), 42);
  auto g = sk::fn([] { throw Fatal("bg"); }).background();
  auto gf = g();
  EXPECT_THROW(gf.get(), Fatal);
}

TEST(RateLimiter, single_thread_spaces_calls) {
  sk::RateLimiter lim(100);  // 10 ms apart
  EXPECT_EQ(lim.interval(), 10ms);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) lim.acquire();  // first immediate, then 3 intervals
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  EXPECT_FALSE(lim.try_acquire());
  EXPECT_EQ(sk::RateLimiter::kind, "RateLimiter");
  EXPECT_EQ(lim.describe_value(), "100/s");
}

TEST(Modifiers, single_thread_rate_limit_holds_across_calls) {
  auto f = sk::fn([] { return 1; }).rate_limit(100);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) f();
  auto copy = f;  // copies share the limiter
  copy();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 40ms);
}

TEST(Modifiers, single_thread_rate_limit_with_external_limiter) {
  sk::RateLimiter lim(100);
  auto a = sk::fn([] {}).rate_limit(lim);
  auto b = sk::fn([] {}).rate_limit(lim);
  const auto t0 = std::chrono::steady_clock::now();
  a();
  b();
  a();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
}

TEST(Modifiers, single_thread_retry_wraps_timeout_in_any_chain_order) {
  std::atomic<int> calls{0};
  Gate gate;
  auto body = [&calls, &gate] {
    if (calls.fetch_add(1) == 0) {  // first attempt hangs until the gate opens
      gate.opened.wait();
      gate.done.set_value();
    }
    return 5;
  };
  // timeout written first, retry second: retry is still the outer loop.
  auto f = sk::fn(body).timeout(20ms).retry<sk::FunctionTimeoutError>(2, 0ms);
  EXPECT_EQ(f(), 5);
  EXPECT_EQ(calls.load(), 2);
  gate.open.set_value();
  EXPECT_EQ(gate.finished.wait_for(10s), std::future_status::ready);
}

TEST(Modifiers, single_thread_rate_limit_applies_per_attempt) {
  int calls = 0;
  auto f = sk::fn([&] {
             if (++calls < 3) throw Flaky("x");
           })
               .rate_limit(100)
               .retry(3, 0ms);
  const auto t0 = std::chrono::steady_clock::now();
  f();
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);  // 3 attempts, 2 intervals
}

TEST(Modifiers, single_thread_asynced_with_sync_wait) {
  auto f = sk::fn([](int x) { return x * 3; }).retry(2, 0ms).asynced();
  EXPECT_EQ(sk::sync_wait(f(14)), 42);
  auto g = sk::fn([] { throw Fatal("async"); }).asynced();
  EXPECT_THROW(sk::sync_wait(g()), Fatal);
  int hits = 0;
  sk::sync_wait(sk::fn([&hits] { ++hits; }).asynced()());
  EXPECT_EQ(hits, 1);
}

sk::Task<int> chain(int x) {
  auto twice = sk::fn([](int v) { return v * 2; }).asynced();
  const int a = co_await twice(x);
  const int b = co_await twice(a);
  co_return a + b;
}

sk::Task<> fails() {
  co_await sk::fn([] { return 0; }).asynced()();
  throw Fatal("task");
}

TEST(Modifiers, single_thread_task_awaits_asynced_calls) {
  EXPECT_EQ(sk::sync_wait(chain(5)), 30);
  EXPECT_THROW(sk::sync_wait(fails()), Fatal);
}

TEST(Modifiers, misuse_errors_are_specific) {
  auto f = sk::fn([] {});
  EXPECT_THROW(f.retry(0), sk::ModifierError);
  EXPECT_THROW(f.retry(2, -1s), sk::ModifierError);
  EXPECT_THROW(f.retry(2, 0s, -1.0), sk::ModifierError);
  EXPECT_THROW(f.timeout(0s), sk::ModifierError);
  EXPECT_THROW(f.timeout(-5ms), sk::ModifierError);
  EXPECT_THROW(f.rate_limit(0), sk::ModifierError);
  EXPECT_THROW(f.rate_limit(-3), sk::ModifierError);
  EXPECT_THROW(f.retry(2).retry(3), sk::ModifierError);
  EXPECT_THROW(f.timeout(1s).timeout(2s), sk::ModifierError);
  EXPECT_THROW(f.rate_limit(5).rate_limit(6), sk::ModifierError);
  try {
    f.retry(0);
  } catch (const sk::ModifierError& e) {
    EXPECT_NE(std::string(e.what()).find("attempts"), std::string::npos) << e.what();
  }
}

}  // namespace
