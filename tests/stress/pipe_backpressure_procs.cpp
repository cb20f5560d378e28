// Pipe backpressure on arena memory (issue #15): 1 MiB messages (copied with
// send() and zero-copy through loans) to a receiver process that pauses now
// and then, while another process hogs a core. The sender must block on the
// futex until the receiver frees blocks, never throw ArenaFull, and every
// message arrives whole and in order. send_for / loan_for give up after their
// timeout; a receiver that dies while the sender waits for memory is
// PeerClosed, not a hang.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sk/pipe.hpp>

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMiB = 1 << 20;

// A busy process on the machine for as long as it lives (the receiver and
// the sender then share the cores with it).
class CpuHog {
 public:
  CpuHog() {
    pid_ = fork();
    if (pid_ == 0) {
      volatile std::uint64_t x = 0;
      for (;;) x = x + 1;
    }
  }
  ~CpuHog() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  CpuHog(const CpuHog&) = delete;
  CpuHog& operator=(const CpuHog&) = delete;

 private:
  pid_t pid_ = -1;
};

// Message seq: 1 MiB whose first and last 8 bytes are seq and whose middle
// bytes follow seq (checked at a few places).
void stamp(std::byte* p, std::uint64_t seq) {
  if (p == nullptr) throw std::logic_error("stamp: no memory (an empty loan?)");
  std::memcpy(p, &seq, 8);
  std::memcpy(p + kMiB - 8, &seq, 8);
  for (std::size_t at = 4096; at < kMiB - 8; at += 65536) p[at] = static_cast<std::byte>(seq * 7 + at / 65536);
}
bool stamped(const std::byte* p, std::uint64_t seq) {
  std::uint64_t a = 0, b = 0;
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + kMiB - 8, 8);
  if (a != seq || b != seq) return false;
  for (std::size_t at = 4096; at < kMiB - 8; at += 65536)
    if (p[at] != static_cast<std::byte>(seq * 7 + at / 65536)) return false;
  return true;
}

int exit_code(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

}  // namespace

// Even seqs go with send(std::vector<std::byte>) (copied into a block), odd
// ones through loan(); the receiver takes views and checks every message.
TEST(PipeBackpressure, procs_1MiB_sends_and_loans_to_a_pausing_receiver_with_a_cpu_hog_6_trials) {
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::uint64_t kMessages = 400;
#else
  constexpr std::uint64_t kMessages = 1500;
#endif
  CpuHog hog;
  for (int trial = 0; trial < 6; ++trial) {
    auto [tx, rx] = sk::Pipe::pair(sk::one_way);  // default options: a 32 MiB arena, ~31 blocks in flight
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      try {
        for (std::uint64_t seq = 0; seq < kMessages; ++seq) {
          auto v = rx.recv_view();
          const bool ok = v.raw() ? v.size() == kMiB && stamped(v.data(), seq)
                                  : [&] {
                                      const auto bytes = v.as<std::vector<std::byte>>();
                                      return bytes.size() == kMiB && stamped(bytes.data(), seq);
                                    }();
          if (!ok) {
            std::fprintf(stderr, "receiver: message %llu is wrong\n", static_cast<unsigned long long>(seq));
            std::fflush(stderr);
            _exit(3);
          }
          v.release();
          // Pause now and then, for long enough that the arena fills up.
          if (seq % 97 == 13) std::this_thread::sleep_for(std::chrono::milliseconds(2 + seq % 5));
        }
        _exit(0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "receiver: %s\n", e.what());
        std::fflush(stderr);
        _exit(2);
      }
    }
    tx.give_peer_to(pid);
    std::vector<std::byte> msg(kMiB);
    std::string failure;
    try {
      for (std::uint64_t seq = 0; seq < kMessages; ++seq) {
        if (seq % 2 == 0) {
          stamp(msg.data(), seq);
          tx.send(msg);
        } else {
          auto loan = tx.loan(kMiB);
          stamp(loan.data(), seq);
          loan.send();
        }
      }
    } catch (const std::exception& e) {
      failure = e.what();
    }
    EXPECT_EQ(failure, "") << "trial " << trial << ": the sender threw instead of waiting for memory";
    EXPECT_EQ(exit_code(pid), 0) << "trial " << trial;
    if (!failure.empty()) break;
  }
}

// The receiver holds everything: the arena fills with messages in flight,
// send_for and loan_for give up after their timeout, and once the receiver
// drains, sending works again.
TEST(PipeBackpressure, procs_send_for_and_loan_for_time_out_while_blocks_are_in_flight) {
  sk::PipeOptions o;
  o.arena_bytes = 8 * kMiB;  // about 7 blocks of 1 MiB
  auto [tx, rx] = sk::Pipe::pair(sk::one_way, o);
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char c;
    (void)rx.try_recv<int>();  // claim the end
    if (read(go[0], &c, 1) != 1) _exit(4);
    try {
      for (;;) {
        auto v = rx.recv_view();
        if (!v.raw() && v.size() < 64) _exit(v.as<int>() == 42 ? 0 : 5);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "receiver: %s\n", e.what());
      std::fflush(stderr);
      _exit(2);
    }
  }
  tx.give_peer_to(pid);
  const std::vector<std::byte> msg(kMiB, std::byte{1});
  int queued = 0;
  while (tx.send_for(msg, 200ms)) ASSERT_LT(++queued, 16) << "the arena never filled up";
  EXPECT_GE(queued, 4);
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(tx.send_for(msg, 50ms));
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 2s);
  t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(tx.loan_for(kMiB, 50ms).has_value());
  waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 2s);
  // Let the receiver drain: the blocked send goes through.
  ASSERT_EQ(write(go[1], "g", 1), 1);
  tx.send(msg);
  auto loan = tx.loan_for(kMiB, 10s);
  ASSERT_TRUE(loan.has_value());
  loan->send();
  tx.send(42);
  EXPECT_EQ(exit_code(pid), 0);
  close(go[0]);
  close(go[1]);
}

// A receiver killed while the sender is parked waiting for arena memory:
// the sender gets PeerClosed within the liveness slices, not a hang.
TEST(PipeBackpressure, procs_receiver_killed_while_sender_waits_for_memory_is_peer_closed) {
  for (const bool use_loan : {false, true}) {
    sk::PipeOptions o;
    o.arena_bytes = 8 * kMiB;
    auto [tx, rx] = sk::Pipe::pair(sk::one_way, o);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      (void)rx.try_recv<int>();  // claim the end, then never read
      for (;;) pause();
    }
    tx.give_peer_to(pid);
    const std::vector<std::byte> msg(kMiB, std::byte{1});
    while (tx.send_for(msg, 100ms)) {
    }
    std::chrono::steady_clock::time_point killed_at;
    std::thread killer([&] {
      std::this_thread::sleep_for(100ms);
      killed_at = std::chrono::steady_clock::now();
      kill(pid, SIGKILL);
    });
    std::string what;
    try {
      if (use_loan) {
        (void)tx.loan(kMiB);
      } else {
        tx.send(msg);
      }
    } catch (const sk::PeerClosed& e) {
      what = e.what();
    }
    const auto seen_at = std::chrono::steady_clock::now();
    killer.join();
    EXPECT_NE(what.find("dead"), std::string::npos) << (use_loan ? "loan: " : "send: ") << what;
    EXPECT_NE(what.find("arena memory"), std::string::npos) << what;
    EXPECT_LT(seen_at - killed_at, 1s) << "PeerClosed came long after the receiver died";
    (void)exit_code(pid);
  }
}
