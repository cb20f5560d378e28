// FastWaitPoint between two processes: no lost wake-up when the notifier
// skips its fence (membarrier on the parking side). See core_wake_handoff.hpp.
#include <gtest/gtest.h>

#include "core_procs.hpp"
#include "core_wake_handoff.hpp"

TEST(FastWaitPoint, procs_1waiter_1notifier_20000_parked_handoffs_lose_no_wakeup) {
  constexpr std::uint32_t kRounds = 20000;
  RecordProperty("light_fence_is_asymmetric", sk::core::light_fence_is_asymmetric() ? "yes" : "no");
  coretest::SharedObject<coretest::WakeHandoff> h;
  coretest::Children kids;
  const pid_t pid = kids.fork([&] {
    h->run(1, kRounds);
    return true;
  });
  h->run(0, kRounds);
  EXPECT_EQ(kids.wait(pid, std::chrono::seconds(120)), 0);
  EXPECT_EQ(h->value.load(), 2 * kRounds);
  EXPECT_EQ(h->lost.load(), 0u) << "waits that slept their whole timeout although the value was published";
}
