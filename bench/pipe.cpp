// sk::Pipe between two processes against the kernel and Boost.
//
//   throughput/<size>/<impl>: the benchmark process sends 8 MiB worth of
//     messages of <size> bytes (64 B, 4 KiB, 1 MiB) per iteration to a forked
//     peer, which receives each message whole and acknowledges the round
//     (manual time covers send + receive of the whole round).
//   rtt/64B/<impl>: one 64-byte request and one reply per iteration.
//
// Every implementation blocks when it has nothing to do (ours: bounded spin,
// then futex), except the cache-line ping-pong, which is the spinning floor.
//
//   ./bench_pipe --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <vector>

#include <sk/pipe.hpp>

#include "baselines/boost_message_queue.hpp"
#include "baselines/cacheline_pingpong.hpp"
#include "baselines/fork_peer.hpp"
#include "baselines/pipe_fd.hpp"
#include "baselines/socketpair.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kRoundBytes = 8 << 20;

std::size_t per_round(std::size_t size) { return kRoundBytes / size; }

sk::PipeOptions bench_options() {
  sk::PipeOptions o;
  o.ring_bytes = 1 << 20;
  o.arena_bytes = 64 << 20;
  return o;
}

void set_counters(benchmark::State& st, std::size_t size) {
  const auto n = static_cast<std::int64_t>(st.iterations() * per_round(size));
  st.SetItemsProcessed(n);
  st.SetBytesProcessed(n * static_cast<std::int64_t>(size));
}

// Sends rounds of messages with send_one(i) to a peer that acks each round.
template <class SendOne>
void run_rounds(benchmark::State& st, bench::Acks* acks, std::size_t size, SendOne send_one) {
  std::uint32_t round = 0;
  const std::size_t n = per_round(size);
  for (auto _ : st) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < n; ++i) send_one(i);
    acks->wait_for_round(++round);
    st.SetIterationTime(bench::seconds_since(t0));
  }
  set_counters(st, size);
}

// ---- throughput ---------------------------------------------------------------

// ours, serialized: send(std::vector<std::uint8_t>) / recv<std::vector<std::uint8_t>>().
void BM_tp_ours_send(benchmark::State& st) {
  const auto size = static_cast<std::size_t>(st.range(0));
  bench::SharedMemory shm(4096);
  auto* acks = shm.make<bench::Acks>(0);
  auto [anchor, point] = sk::Pipe::pair(sk::one_way, bench_options());
  bench::ForkedPeer peer([&, p = point]() mutable {
    const std::size_t n = per_round(size);
    for (;;) {
      for (std::size_t i = 0; i < n; ++i) benchmark::DoNotOptimize(p.recv<std::vector<std::uint8_t>>());
      acks->ack();
    }
  });
  // Payload bytes = size - 8 (the length cereal writes), frame header not counted.
  std::vector<std::uint8_t> msg(size > 8 ? size - 8 : 0, 0x5A);
  run_rounds(st, acks, size, [&](std::size_t) { anchor.send(msg); });
}

// ours, zero-copy: loan + memcpy in, view + touch out.
void BM_tp_ours_loan(benchmark::State& st) {
  const auto size = static_cast<std::size_t>(st.range(0));
  bench::SharedMemory shm(4096);
  auto* acks = shm.make<bench::Acks>(0);
  auto [anchor, point] = sk::Pipe::pair(sk::one_way, bench_options());
  bench::ForkedPeer peer([&, p = point]() mutable {
    const std::size_t n = per_round(size);
    std::uint64_t sink = 0;
    for (;;) {
      for (std::size_t i = 0; i < n; ++i) {
        auto v = p.recv_view();
        sink += static_cast<std::uint64_t>(v.data()[v.size() - 1]);
      }
      benchmark::DoNotOptimize(sink);
      acks->ack();
    }
  });
  std::vector<std::byte> src(size, std::byte{0x5A});
  run_rounds(st, acks, size, [&](std::size_t) {
    auto loan = anchor.loan(size);
    std::memcpy(loan.data(), src.data(), size);
    loan.send();
  });
}

template <class Stream>
void stream_throughput(benchmark::State& st, Stream& s, std::size_t size) {
  bench::SharedMemory shm(4096);
  auto* acks = shm.make<bench::Acks>(0);
  bench::ForkedPeer peer([&] {
    std::vector<char> buf(size);
    const std::size_t n = per_round(size);
    for (;;) {
      for (std::size_t i = 0; i < n; ++i) s.recv_exact_msg(buf.data(), size);
      acks->ack();
    }
  });
  std::vector<char> msg(size, 'x');
  run_rounds(st, acks, size, [&](std::size_t) { s.send_msg(msg.data(), size); });
}

struct PipeStream {
  bench::PipeFd p;
  void send_msg(const void* d, std::size_t n) { p.send(d, n); }
  void recv_exact_msg(void* d, std::size_t n) { p.recv_exact(d, n); }
};
struct SocketStream {
  bench::SocketPair s;
  void send_msg(const void* d, std::size_t n) { s.send(0, d, n); }
  void recv_exact_msg(void* d, std::size_t n) { s.recv_exact(1, d, n); }
};

void BM_tp_pipe(benchmark::State& st) {
  PipeStream s;
  stream_throughput(st, s, static_cast<std::size_t>(st.range(0)));
}
void BM_tp_socketpair(benchmark::State& st) {
  SocketStream s;
  stream_throughput(st, s, static_cast<std::size_t>(st.range(0)));
}

void BM_tp_boost_mq(benchmark::State& st) {
  const auto size = static_cast<std::size_t>(st.range(0));
  const std::size_t slots = std::max<std::size_t>(4, (1 << 20) / size);  // about 1 MiB of queue, like our ring
  bench::BoostMessageQueue mq("tp", slots, size);
  bench::SharedMemory shm(4096);
  auto* acks = shm.make<bench::Acks>(0);
  bench::ForkedPeer peer([&] {
    auto q = mq.open();
    std::vector<char> buf(size);
    const std::size_t n = per_round(size);
    for (;;) {
      for (std::size_t i = 0; i < n; ++i) {
        std::size_t got = 0;
        unsigned prio = 0;
        q->receive(buf.data(), size, got, prio);
      }
      acks->ack();
    }
  });
  std::vector<char> msg(size, 'x');
  run_rounds(st, acks, size, [&](std::size_t) { mq.queue().send(msg.data(), size, 0); });
}

// ---- round-trip latency (64 B) ------------------------------------------------

using Msg64 = std::array<std::uint8_t, 64>;

void BM_rtt_ours(benchmark::State& st) {
  auto [anchor, point] = sk::Pipe::pair();
  bench::ForkedPeer peer([p = point]() mutable {
    for (;;) p.send(p.recv<Msg64>());
  });
  Msg64 m{};
  for (auto _ : st) {
    anchor.send(m);
    m = anchor.recv<Msg64>();
  }
}

void BM_rtt_pipe(benchmark::State& st) {
  bench::PipeFd there, back;
  bench::ForkedPeer peer([&] {
    char buf[64];
    for (;;) {
      there.recv_exact(buf, 64);
      back.send(buf, 64);
    }
  });
  char buf[64] = {};
  for (auto _ : st) {
    there.send(buf, 64);
    back.recv_exact(buf, 64);
  }
}

void BM_rtt_socketpair(benchmark::State& st) {
  bench::SocketPair sp;
  bench::ForkedPeer peer([&] {
    char buf[64];
    for (;;) {
      sp.recv_exact(1, buf, 64);
      sp.send(1, buf, 64);
    }
  });
  char buf[64] = {};
  for (auto _ : st) {
    sp.send(0, buf, 64);
    sp.recv_exact(0, buf, 64);
  }
}

void BM_rtt_boost_mq(benchmark::State& st) {
  bench::BoostMessageQueue there("there", 16, 64), back("back", 16, 64);
  bench::ForkedPeer peer([&] {
    auto t = there.open();
    auto b = back.open();
    char buf[64];
    for (;;) {
      std::size_t got = 0;
      unsigned prio = 0;
      t->receive(buf, 64, got, prio);
      b->send(buf, 64, 0);
    }
  });
  char buf[64] = {};
  for (auto _ : st) {
    std::size_t got = 0;
    unsigned prio = 0;
    there.queue().send(buf, 64, 0);
    back.queue().receive(buf, 64, got, prio);
  }
}

void BM_rtt_cacheline_spin(benchmark::State& st) {
  bench::SharedMemory shm(4096);
  auto* line = shm.make<bench::CacheLinePingPong>(0);
  bench::ForkedPeer peer([&] { line->serve(); });
  std::uint64_t round = 0;
  for (auto _ : st) line->ping(round++);
}

}  // namespace

#define SK_TP(fn, name) \
  BENCHMARK(fn)->Name(name)->Arg(64)->Arg(4096)->Arg(1 << 20)->UseManualTime()->Unit(benchmark::kMicrosecond)
SK_TP(BM_tp_ours_send, "throughput/ours_send");
SK_TP(BM_tp_ours_loan, "throughput/ours_loan_view");
SK_TP(BM_tp_pipe, "throughput/pipe");
SK_TP(BM_tp_socketpair, "throughput/socketpair_unix_stream");
SK_TP(BM_tp_boost_mq, "throughput/boost_message_queue");

BENCHMARK(BM_rtt_ours)->Name("rtt/64B/ours")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rtt_pipe)->Name("rtt/64B/pipe")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rtt_socketpair)->Name("rtt/64B/socketpair_unix_stream")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rtt_boost_mq)->Name("rtt/64B/boost_message_queue")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rtt_cacheline_spin)->Name("rtt/64B/cacheline_spin_floor")->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
