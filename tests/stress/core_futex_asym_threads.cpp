// FastWaitPoint between two threads (the TSan build runs this one): no lost
// wake-up when the notifier skips its fence. See core_wake_handoff.hpp.
#include <gtest/gtest.h>

#include <thread>

#include "core_wake_handoff.hpp"

TEST(FastWaitPoint, threads_1waiter_1notifier_20000_parked_handoffs_lose_no_wakeup) {
  constexpr std::uint32_t kRounds = 20000;
  coretest::WakeHandoff h;
  std::thread t([&] { h.run(1, kRounds); });
  h.run(0, kRounds);
  t.join();
  EXPECT_EQ(h.value.load(), 2 * kRounds);
  EXPECT_EQ(h.lost.load(), 0u) << "waits that slept their whole timeout although the value was published";
}
