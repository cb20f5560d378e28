#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <sk/pipe.hpp>

#include "test_fork.hpp"

using namespace std::chrono_literals;

namespace {

// Concepts used to prove at compile time that a one-way endpoint cannot be
// used the wrong way.
template <class E>
concept CanSendInt = requires(E e) { e.send(1); };
template <class E>
concept CanRecvInt = requires(E e) { e.template recv<int>(); };

static_assert(CanSendInt<sk::Pipe::Anchor> && CanRecvInt<sk::Pipe::Anchor>);
static_assert(CanSendInt<sk::Pipe::Point> && CanRecvInt<sk::Pipe::Point>);
static_assert(CanSendInt<sk::Pipe::OneWayAnchor> && !CanRecvInt<sk::Pipe::OneWayAnchor>);
static_assert(!CanSendInt<sk::Pipe::OneWayPoint> && CanRecvInt<sk::Pipe::OneWayPoint>);

struct Job {
  std::string name;
  std::vector<int> ids;
  SK_FIELDS(name, ids)
};

// Runs fn in a forked child; returns its exit code (fn's failures -> 1).
template <class Fn>
int in_child(Fn fn) {
  const pid_t pid = sktest::fork();
  if (pid == 0) {
    int rc = 0;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
      rc = 99;
    }
    _exit(rc);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

sk::PipeOptions small_ring() {
  sk::PipeOptions o;
  o.ring_bytes = 4096;
  o.arena_bytes = 1 << 20;
  o.inline_max = 1024;
  return o;
}

}  // namespace

TEST(Pipe, duplex_hello_across_fork) {
  auto [anchor, point] = sk::Pipe::pair();
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    point.send(std::string("hello"));
    const auto got = point.recv<std::string>();
    point.send(got + " back");
    _exit(got == "hello" ? 0 : 1);
  }
  EXPECT_EQ(anchor.recv<std::string>(), "hello");
  anchor.send(std::string("hello"));
  EXPECT_EQ(anchor.recv<std::string>(), "hello back");
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(Pipe, one_way_delivers_user_struct_to_child) {
  auto [tx, rx] = sk::Pipe::pair(sk::one_way);
  tx.send(Job{"batch", {1, 2, 3}});
  const int rc = in_child([rx = rx]() mutable {
    const Job j = rx.recv<Job>();
    return j.name == "batch" && j.ids == std::vector<int>{1, 2, 3} ? 0 : 1;
  });
  EXPECT_EQ(rc, 0);
}

TEST(Pipe, recv_for_times_out_and_try_recv_is_empty) {
  auto [a, p] = sk::Pipe::pair();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.recv_for<int>(30ms).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 25ms);
  EXPECT_FALSE(p.try_recv<int>().has_value());
  a.send(7);
  EXPECT_EQ(p.try_recv<int>().value(), 7);
}

TEST(Pipe, type_mismatch_throws_and_keeps_the_message) {
  auto [a, p] = sk::Pipe::pair();
  a.send(std::string("text"));
  EXPECT_THROW((void)p.recv<int>(), sk::TypeMismatch);
  EXPECT_EQ(p.recv<std::string>(), "text");
}

TEST(Pipe, full_ring_makes_send_for_time_out) {
  auto [a, p] = sk::Pipe::pair(small_ring());
  int sent = 0;
  while (a.send_for(std::vector<int>(100, sent), 5ms)) ++sent;  // ~450-byte frames into a 4 KiB ring
  EXPECT_GT(sent, 3);
  EXPECT_LT(sent, 10);
  EXPECT_EQ(p.recv<std::vector<int>>()[0], 0);
  EXPECT_TRUE(a.send_for(std::vector<int>(100, sent), 5ms));
}

TEST(Pipe, blocked_send_resumes_when_peer_process_drains) {
  auto [a, p] = sk::Pipe::pair(small_ring());
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::this_thread::sleep_for(50ms);  // let the parent fill the ring and block
    for (int i = 0; i < 200; ++i) {
      auto v = p.recv_for<std::vector<int>>(5s);
      if (!v || (*v)[0] != i) _exit(1);
    }
    _exit(0);
  }
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; ++i) a.send(std::vector<int>(100, i));  // blocks while the ring is full
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(Pipe, large_message_goes_through_the_arena_and_memory_returns) {
  sk::PipeOptions o;
  o.arena_bytes = 8 << 20;
  auto [a, p] = sk::Pipe::pair(o);
  std::vector<std::uint8_t> big(3 << 20);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 31);
  for (int round = 0; round < 5; ++round) {  // would run out if blocks were not returned
    a.send(big);
    EXPECT_EQ(p.recv<std::vector<std::uint8_t>>(), big);
  }
}

TEST(Pipe, message_larger_than_the_arena_throws_message_too_large) {
  auto [a, p] = sk::Pipe::pair(small_ring());
  std::vector<std::uint8_t> huge(2 << 20);
  try {
    a.send(huge);
    FAIL() << "no exception";
  } catch (const sk::MessageTooLarge& e) {
    EXPECT_GT(e.size(), huge.size());
    EXPECT_EQ(e.limit(), a.max_message());
    EXPECT_NE(std::string(e.what()).find(std::to_string(e.size())), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(std::to_string(e.limit())), std::string::npos);
  }
  EXPECT_THROW((void)a.loan(a.max_message() + 1), sk::MessageTooLarge);
  // Up to the limit works.
  auto loan = a.loan(a.max_message());
  std::memset(loan.data(), 1, loan.size());
  loan.send();
  auto v = p.recv_view();
  EXPECT_EQ(v.size(), a.max_message());
}

TEST(Pipe, loan_and_view_are_zero_copy_in_the_shared_mapping) {
  auto [a, p] = sk::Pipe::pair();
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto loan = a.loan(100000);
    for (std::size_t i = 0; i < loan.size(); ++i) loan.data()[i] = static_cast<std::byte>(i % 251);
    loan.send();
    _exit(loan ? 1 : 0);
  }
  auto view = p.recv_view();
  EXPECT_TRUE(view.raw());
  ASSERT_EQ(view.size(), 100000u);
  const auto map = p.channel().mapping();
  EXPECT_GE(view.data(), map.data());
  EXPECT_LE(view.data() + view.size(), map.data() + map.size());
  for (std::size_t i = 0; i < view.size(); ++i) ASSERT_EQ(view.data()[i], static_cast<std::byte>(i % 251));
  EXPECT_THROW((void)p.try_recv_view(), sk::PipeEndpointError);  // one open view at a time
  EXPECT_THROW((void)view.as<int>(), sk::DecodeError);
  view.release();
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT_FALSE(p.try_recv_view().has_value());
}

TEST(Pipe, small_message_view_points_into_the_ring) {
  auto [a, p] = sk::Pipe::pair();
  a.send(42);
  auto view = p.recv_view();
  const auto map = p.channel().mapping();
  EXPECT_FALSE(view.raw());
  EXPECT_GE(view.data(), map.data());
  EXPECT_LT(view.data(), map.data() + map.size());
  EXPECT_EQ(view.as<int>(), 42);
}

TEST(Pipe, recv_of_a_loan_with_a_type_is_a_type_mismatch) {
  auto [a, p] = sk::Pipe::pair();
  auto loan = a.loan(8);
  std::memset(loan.data(), 0, 8);
  loan.send();
  EXPECT_THROW((void)p.recv<int>(), sk::TypeMismatch);
  EXPECT_EQ(p.recv_view().size(), 8u);
}

TEST(Pipe, unsent_loan_returns_its_memory) {
  auto [a, p] = sk::Pipe::pair(small_ring());
  for (int i = 0; i < 100; ++i) {
    auto loan = a.loan(a.max_message() / 2);  // would exhaust the arena if leaked
    (void)loan;
  }
  SUCCEED();
}

TEST(Pipe, peer_close_delivers_pending_then_throws_peer_closed) {
  auto [a, p] = sk::Pipe::pair();
  const int rc = in_child([a = a]() mutable {
    for (int i = 0; i < 3; ++i) a.send(i);
    a.close();
    return 0;
  });
  ASSERT_EQ(rc, 0);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(p.recv<int>(), i);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW((void)p.recv<int>(), sk::PeerClosed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_THROW(p.send(1), sk::PeerClosed);
  EXPECT_FALSE(p.peer_alive());
}

TEST(Pipe, peer_exit_without_close_is_seen_within_a_second) {
  auto [a, p] = sk::Pipe::pair();
  const int rc = in_child([a = a]() mutable {
    a.send(std::string("last words"));
    _exit(0);  // no destructors run: only liveness can tell
    return 0;
  });
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(p.recv<std::string>(), "last words");
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW((void)p.recv<std::string>(), sk::PeerClosed);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(Pipe, copy_in_a_process_that_never_used_it_does_not_close) {
  auto [a, p] = sk::Pipe::pair();
  const int rc = in_child([a = a, p = p]() mutable {
    auto a2 = a;  // copies destroyed here, never used in this process
    a2.close();
    return 0;
  });
  ASSERT_EQ(rc, 0);
  a.send(5);
  EXPECT_EQ(p.recv<int>(), 5);
  EXPECT_TRUE(p.peer_alive());
}

TEST(Pipe, endpoint_used_by_another_process_is_refused) {
  auto [a, p] = sk::Pipe::pair();
  a.send(1);  // the parent claims the anchor
  const int rc = in_child([a = a]() mutable {
    try {
      a.send(2);
      return 1;
    } catch (const sk::PipeEndpointError&) {
      return 0;
    }
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(p.recv<int>(), 1);
  EXPECT_FALSE(p.try_recv<int>().has_value());
}

TEST(Pipe, closed_endpoint_cannot_be_used_again) {
  auto [a, p] = sk::Pipe::pair();
  a.send(1);
  a.close();
  EXPECT_THROW(a.send(2), sk::PipeEndpointError);
  EXPECT_EQ(p.recv<int>(), 1);
  EXPECT_THROW((void)p.recv<int>(), sk::PeerClosed);
}

TEST(Pipe, named_pair_is_attached_by_name_in_another_process) {
  const std::string name = "test-pipe-" + std::to_string(getpid());
  auto [a, p_unused] = sk::Pipe::pair_named(name);
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      auto point = sk::Pipe::attach_point(name);
      const int x = point.recv<int>();
      point.send(x * 2);
      _exit(0);
    } catch (...) {
      _exit(1);
    }
  }
  a.send(21);
  EXPECT_EQ(a.recv<int>(), 42);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  EXPECT_THROW((void)sk::Pipe::attach_receiver(name), sk::PipeEndpointError);  // it is duplex
  sk::Pipe::unlink(name);
}

TEST(Pipe, attaching_a_missing_name_says_how_to_create_the_pipe) {
  const std::string name = "test-pipe-missing-" + std::to_string(getpid());
  try {
    (void)sk::Pipe::attach_point(name);
    FAIL() << "attach_point of a missing name did not throw";
  } catch (const sk::alloc::SegmentNotFound& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("sk::Pipe::attach_point(\"" + name + "\")"), std::string::npos) << what;
    EXPECT_NE(what.find("sk::Pipe::pair_named(\"" + name + "\")"), std::string::npos) << what;
    EXPECT_EQ(what.find("Arena::create"), std::string::npos) << what;
  }
  try {
    (void)sk::Pipe::attach_receiver(name);
    FAIL() << "attach_receiver of a missing name did not throw";
  } catch (const sk::alloc::SegmentNotFound& e) {
    EXPECT_NE(std::string(e.what()).find("sk::one_way"), std::string::npos) << e.what();
  }
}

// Regression (found by tests/fuzz/fuzz_pipe_decode): a block reference that
// points at the pipe's own ring (or control block) is refused with
// RingCorrupt instead of being freed into the arena, where the next send
// would have written a message over it.
TEST(Pipe, block_reference_into_the_pipes_own_ring_is_ring_corrupt) {
  sk::PipeOptions o;
  o.inline_max = 64;
  auto [a, p] = sk::Pipe::pair(o);
  a.send(std::string(1000, 'x'));  // > inline_max: travels as {offset, bytes}
  sk::core::ByteRing* ring = p.channel().incoming_ring();
  const auto* base = p.channel().mapping().data();
  const std::uint64_t ref[2] = {static_cast<std::uint64_t>(reinterpret_cast<const std::byte*>(ring) - base), 100};
  // The first record: 8-byte header, then the reference.
  std::memcpy(reinterpret_cast<std::byte*>(ring) + sizeof(sk::core::ByteRing) + 8, ref, sizeof ref);
  try {
    (void)p.try_recv<std::string>();
    FAIL() << "no exception";
  } catch (const sk::core::RingCorrupt& e) {
    EXPECT_NE(std::string(e.what()).find("overlaps the pipe's control block or rings"), std::string::npos) << e.what();
  }
}

// Memory held by this end's own unsent loans never comes back by waiting:
// the next loan is ArenaFull (saying so), not a hang (issue #15).
TEST(Pipe, unsent_loans_holding_the_arena_make_the_next_loan_arena_full_not_a_wait) {
  sk::PipeOptions o;
  o.arena_bytes = 4 << 20;
  auto [tx, rx] = sk::Pipe::pair(sk::one_way, o);
  std::vector<sk::PipeLoan> held;
  std::string what;
  try {
    for (int i = 0; i < 64; ++i) held.push_back(tx.loan(512 * 1024));
  } catch (const sk::alloc::ArenaFull& e) {
    what = e.what();
  }
  EXPECT_FALSE(held.empty());
  EXPECT_NE(what.find("unsent loans"), std::string::npos) << what;
  held.clear();  // gives the blocks back: the same loan fits again
  EXPECT_TRUE(tx.loan(512 * 1024));
}

// Latency mode (#18): a receiver that spins (pause only, never parks) still
// gets every message, times out on recv_for, and sees its peer's exit as
// PeerClosed; pinning to a CPU it may not use is a clear error.
TEST(Pipe, spinning_receive_policy_delivers_times_out_and_sees_peer_exit) {
  sk::PipeOptions o;
  o.receive = sk::ReceivePolicy::spinning();  // endless spin
  auto [a, p] = sk::Pipe::pair(o);
  EXPECT_EQ(a.channel().receive_policy().mode, sk::ReceivePolicy::Mode::spin);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(a.recv_for<int>(30ms).has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    for (int i = 0; i < 1000; ++i) p.send(p.recv<int>() + 1);
    _exit(0);
  }
  for (int i = 0; i < 1000; ++i) {
    a.send(i);
    ASSERT_EQ(a.recv<int>(), i + 1);
  }
  const auto t_exit = std::chrono::steady_clock::now();
  EXPECT_THROW((void)a.recv<int>(), sk::PeerClosed);  // the child exits without closing
  EXPECT_LT(std::chrono::steady_clock::now() - t_exit, 2s);
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

TEST(Pipe, spin_then_block_policy_and_bad_policies) {
  auto [a, p] = sk::Pipe::pair();
  EXPECT_EQ(a.channel().receive_policy().mode, sk::ReceivePolicy::Mode::block);
  a.set_receive_policy(sk::ReceivePolicy::spinning(2ms));
  p.send(7);
  EXPECT_EQ(a.recv<int>(), 7);
  EXPECT_FALSE(a.recv_for<int>(20ms).has_value());  // spins 2 ms, then parks
  EXPECT_THROW(a.set_receive_policy(sk::ReceivePolicy::spinning(-1ms)), sk::PipeError);
  a.set_receive_policy(sk::ReceivePolicy::spinning(1ms, 100000));
  try {
    (void)a.try_recv<int>();
    ADD_FAILURE() << "pinning to CPU 100000 should fail";
  } catch (const sk::PipeError& e) {
    EXPECT_NE(std::string(e.what()).find("CPU 100000"), std::string::npos) << e.what();
  }
  sk::PipeOptions o;
  o.receive.anchor_cpu = -2;
  EXPECT_THROW((void)sk::Pipe::pair(o), sk::PipeError);
}
