// Pipe peers that die or misbehave: a sender SIGKILLed mid-stream, a
// receiver SIGKILLed while the sender is blocked on a full ring, and hostile
// peers that write corrupt records. The survivor never hangs, receives every
// committed message first, and never reads outside the shared mapping.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include <sk/pipe.hpp>

#include "test_fork.hpp"

using namespace std::chrono_literals;

namespace {

sk::PipeOptions small_ring() {
  sk::PipeOptions o;
  o.ring_bytes = 4096;
  o.arena_bytes = 1 << 20;
  o.inline_max = 512;
  return o;
}

void reap(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
}

}  // namespace

TEST(PipeCrash, sender_sigkilled_mid_stream_receiver_gets_all_committed_then_peer_closed) {
  for (int round = 0; round < 5; ++round) {
    auto [a, p] = sk::Pipe::pair(small_ring());
    const pid_t pid = sktest::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Endless stream: small messages inline, every 7th one through an arena block.
      for (std::uint64_t seq = 0;; ++seq) a.send(std::vector<std::uint64_t>(seq % 7 == 6 ? 200 : 3, seq));
    }
    std::uint64_t next = 0;
    // Receive a while (the ring is small: the sender is often blocked or mid-send).
    while (next < 2000 + 1000 * static_cast<std::uint64_t>(round)) {
      const auto v = p.recv<std::vector<std::uint64_t>>();
      ASSERT_EQ(v[0], next);
      ++next;
    }
    kill(pid, SIGKILL);
    const auto t_kill = std::chrono::steady_clock::now();
    try {
      for (;;) {
        const auto v = p.recv<std::vector<std::uint64_t>>();
        ASSERT_EQ(v.size(), next % 7 == 6 ? 200u : 3u);
        ASSERT_EQ(v[0], next);
        ASSERT_EQ(v.back(), next);
        ++next;
      }
    } catch (const sk::PeerClosed& e) {
      EXPECT_NE(std::string(e.what()).find("dead"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t_kill, 1s);
    reap(pid);
  }
}

TEST(PipeCrash, receiver_sigkilled_while_sender_blocked_on_full_ring) {
  auto [a, p] = sk::Pipe::pair(small_ring());
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    (void)p.recv<int>();  // claim the point, then stop reading
    for (;;) pause();
  }
  // On a loaded machine the child may be killed before its recv() claimed
  // the point: name it as the owner so that is PeerClosed too, not a wait.
  a.give_peer_to(pid);
  a.send(0);
  std::thread killer([pid] {
    std::this_thread::sleep_for(100ms);
    kill(pid, SIGKILL);
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(
      {
        for (int i = 1;; ++i) a.send(std::vector<int>(50, i));
      },
      sk::PeerClosed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  killer.join();
  reap(pid);
}

// A child that dies before it ever used its end: the parent named it as the
// peer's owner (give_peer_to), so its recv() ends with PeerClosed instead of
// waiting as long as the pipe's creator (the parent itself) lives.
TEST(PipeCrash, peer_given_to_child_killed_before_first_use_is_peer_closed) {
  for (int round = 0; round < 3; ++round) {
    auto [a, p] = sk::Pipe::pair(small_ring());
    const pid_t pid = sktest::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (;;) pause();  // never touches `p`
    }
    a.give_peer_to(pid);
    std::thread killer([pid, round] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * round));
      kill(pid, SIGKILL);
    });
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW((void)a.recv<int>(), sk::PeerClosed);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    killer.join();
    reap(pid);
  }
}

// The child named as the owner then uses its end normally: its claim finds
// its own id there; a third process cannot take the end.
TEST(PipeCrash, peer_given_to_child_works_and_cannot_be_given_twice) {
  auto [a, p] = sk::Pipe::pair(small_ring());
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    p.send(41);
    _exit(p.recv<int>() == 42 ? 0 : 1);
  }
  a.give_peer_to(pid);
  EXPECT_NO_THROW(a.give_peer_to(pid));  // the same owner again: fine
  EXPECT_THROW(a.give_peer_to(getpid()), sk::PipeEndpointError);
  EXPECT_THROW(a.give_peer_to(999999999), sk::PipeEndpointError);
  EXPECT_EQ(a.recv<int>(), 41);
  a.send(42);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_THROW((void)a.recv<int>(), sk::PeerClosed);
}

TEST(PipeCrash, hostile_peer_corrupt_record_header_throws_ring_corrupt) {
  auto [a, p] = sk::Pipe::pair();
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Play a broken producer: publish a record, then overwrite its header
    // with a length far outside the ring.
    sk::core::ByteRing* ring = a.channel().outgoing_ring();
    auto s = ring->try_reserve(16);
    std::memset(s.data(), 0xAB, 16);
    ring->commit(16);
    const std::uint32_t bad[2] = {0x7FFFFFF0u, 0x5A000000u};
    std::memcpy(s.data() - sk::core::ByteRing::kRecordHeader, bad, sizeof bad);
    _exit(0);
  }
  reap(pid);
  EXPECT_THROW((void)p.recv<int>(), sk::core::RingCorrupt);
}

TEST(PipeCrash, hostile_peer_garbage_bytes_throw_decode_error_not_crash) {
  auto [a, p] = sk::Pipe::pair();
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<std::byte> junk(300);
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<std::byte>(i * 7 + 3);
    (void)a.channel().send_bytes(junk, 0, std::nullopt);
    a.send(99);
    _exit(0);
  }
  reap(pid);
  EXPECT_THROW((void)p.recv<std::string>(), sk::DecodeError);
  EXPECT_EQ(p.recv<int>(), 99);  // the corrupt message was dropped, the next one is fine
}

TEST(PipeCrash, hostile_peer_block_reference_outside_arena_throws_ring_corrupt) {
  auto [a, p] = sk::Pipe::pair();
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::uint64_t ref[2] = {std::uint64_t{1} << 40, 4096};  // {offset, bytes}
    sk::core::ByteRing* ring = a.channel().outgoing_ring();
    (void)ring->try_write(std::as_bytes(std::span(ref)), sk::ipc::PipeEnd::kFlagBlock);
    _exit(0);
  }
  reap(pid);
  EXPECT_THROW((void)p.recv_view(), sk::core::RingCorrupt);
}
