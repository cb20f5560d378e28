// Process stress for the reference SpscRing (bench/baselines/spsc_ring.hpp):
// a forked producer and the parent as consumer share one MAP_SHARED mapping;
// ten million messages (two under ASan), order and content checked.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <new>

#include "baselines/spsc_ring.hpp"
#include "mix64.hpp"

using namespace std::chrono_literals;

namespace {

using sk::test::mix64;
constexpr auto mix = mix64;

void* map_shared(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

TEST(Ring, procs_1producer_1consumer_10M) {
  struct Item {
    std::uint64_t seq, check;
  };
  using R = bench::SpscRing<Item, 4096>;
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::uint64_t kN = 2'000'000;
#else
  constexpr std::uint64_t kN = 10'000'000;
#endif
  void* mem = map_shared(sizeof(R));
  ASSERT_NE(mem, nullptr);
  auto* ring = new (mem) R;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Item batch[32];
    for (std::uint64_t seq = 0; seq < kN;) {
      std::size_t k = 0;
      for (; k < 32 && seq + k < kN; ++k) batch[k] = Item{seq + k, mix(seq + k)};
      std::size_t done = 0;
      while (done < k) {
        const std::size_t pushed = ring->try_push_n(batch + done, k - done);
        if (pushed == 0 && !ring->push_wait(batch[done], 10s)) _exit(3);
        done += pushed ? pushed : 1;
      }
      seq += k;
    }
    _exit(0);
  }
  Item out[64];
  bool ok = true;
  for (std::uint64_t expect = 0; expect < kN && ok;) {
    std::size_t k = ring->try_pop_n(out, 64);
    if (k == 0) {
      auto v = ring->pop_wait(10s);
      if (!v) { ADD_FAILURE() << "stalled at " << expect; ok = false; break; }
      out[0] = *v;
      k = 1;
    }
    for (std::size_t i = 0; i < k; ++i, ++expect) {
      if (out[i].seq != expect || out[i].check != mix(expect)) {
        ADD_FAILURE() << "item " << expect << " wrong";
        ok = false;
        break;
      }
    }
  }
  int status = 0;
  if (!ok) kill(child, SIGKILL);
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  munmap(mem, sizeof(R));
}
