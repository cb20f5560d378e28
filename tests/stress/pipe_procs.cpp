// Pipe between two processes under load: a million messages of random sizes
// (some large enough to travel through arena blocks), in order, checksummed.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "mix64.hpp"
#include <sk/pipe.hpp>

#include "test_fork.hpp"

using namespace std::chrono_literals;

namespace {

using sk::test::mix64;
constexpr auto mix = mix64;

// Message seq: mostly 0..255 bytes, every 4096th one 20..60 KB (arena path).
std::size_t size_of(std::uint64_t seq) noexcept {
  const std::uint64_t r = mix(seq);
  return seq % 4096 == 4095 ? 20000 + r % 40000 : r % 256;
}

using Msg = std::pair<std::uint64_t, std::vector<std::uint8_t>>;

void fill(Msg& m, std::uint64_t seq) {
  m.first = seq;
  m.second.resize(size_of(seq));
  std::uint64_t x = mix(seq) | 1;
  for (auto& b : m.second) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<std::uint8_t>(x);
  }
}

std::uint64_t checksum(const Msg& m) {
  std::uint64_t h = 1469598103934665603ull ^ m.first;
  for (auto b : m.second) h = (h ^ b) * 1099511628211ull;
  return h;
}

}  // namespace

TEST(Pipe, procs_1sender_1receiver_1M_random_sizes) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::uint64_t kN = 200'000;
#else
  constexpr std::uint64_t kN = 1'000'000;
#endif
  auto [anchor, point] = sk::Pipe::pair();
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      Msg m;
      std::uint64_t sum = 0;
      for (std::uint64_t seq = 0; seq < kN; ++seq) {
        fill(m, seq);
        sum += checksum(m);
        point.send(m);
      }
      point.send(sum);
      // Wait for the receiver's verdict so that our exit is not a PeerClosed race.
      _exit(point.recv<int>() == 1 ? 0 : 1);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "sender: %s\n", e.what());
      _exit(2);
    }
  }
  std::uint64_t sum = 0;
  bool ok = true;
  Msg expect;
  for (std::uint64_t seq = 0; seq < kN && ok; ++seq) {
    const Msg got = anchor.recv<Msg>();
    fill(expect, seq);
    if (got != expect) {
      ADD_FAILURE() << "message " << seq << " differs (got seq " << got.first << ", " << got.second.size()
                    << " bytes; expected " << expect.second.size() << ")";
      ok = false;
    }
    sum += checksum(got);
  }
  if (ok) {
    EXPECT_EQ(anchor.recv<std::uint64_t>(), sum);
  }
  anchor.send(ok ? 1 : 0);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "sender status " << st;
}

TEST(Pipe, procs_ping_pong_20k_round_trips) {
  auto [anchor, point] = sk::Pipe::pair();
  constexpr int kN = 20'000;
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      for (int i = 0; i < kN; ++i) point.send(point.recv<int>() + 1);
      _exit(0);
    } catch (...) {
      _exit(1);
    }
  }
  int v = 0;
  for (int i = 0; i < kN; ++i) {
    anchor.send(v);
    v = anchor.recv<int>();
    ASSERT_EQ(v, i + 1);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
