#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <sk/core/futex.hpp>

using namespace std::chrono_literals;

TEST(Futex, wait_times_out_when_nobody_wakes) {
  std::atomic<std::uint32_t> w{0};
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(sk::core::futex_wait(w, 0, 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 15ms);
}

TEST(Futex, wait_returns_at_once_when_value_differs) {
  std::atomic<std::uint32_t> w{1};
  EXPECT_TRUE(sk::core::futex_wait(w, 0, 5s));
}

TEST(WaitPoint, notify_without_waiters_is_cheap_and_harmless) {
  sk::core::WaitPoint wp;
  wp.notify_all();
  EXPECT_EQ(wp.epoch_.load(), 0u);  // no waiter: no epoch bump, no syscall
}

TEST(WaitPoint, times_out_false_when_never_ready) {
  sk::core::WaitPoint wp;
  EXPECT_FALSE(wp.wait_for([] { return false; }, 10ms));
}

TEST(WaitPoint, threads_1waiter_1notifier_10000_handoffs) {
  sk::core::WaitPoint wp;
  std::atomic<std::uint32_t> value{0};
  constexpr std::uint32_t kRounds = 10000;
  std::thread t([&] {
    for (std::uint32_t i = 1; i <= kRounds; ++i) {
      ASSERT_TRUE(wp.wait_for([&] { return value.load(std::memory_order_acquire) >= 2 * i - 1; }, 10s, 0));
      value.store(2 * i, std::memory_order_release);
      wp.notify_all();
    }
  });
  for (std::uint32_t i = 1; i <= kRounds; ++i) {
    value.store(2 * i - 1, std::memory_order_release);
    wp.notify_all();
    ASSERT_TRUE(wp.wait_for([&] { return value.load(std::memory_order_acquire) >= 2 * i; }, 10s, 0));
  }
  t.join();
  EXPECT_EQ(value.load(), 2 * kRounds);
}
