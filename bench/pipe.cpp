// sk::Pipe between two processes against the kernel, Boost, ZeroMQ and nng.
//
//   throughput/<impl>/<size>: the benchmark process sends 8 MiB worth of
//     messages of <size> bytes (64 B, 4 KiB, 1 MiB) per iteration to a forked
//     peer, which receives each message whole and acknowledges the round
//     (manual time covers send + receive of the whole round).
//     ours_send: send(std::vector<uint8_t>) / recv<std::vector<uint8_t>>();
//     ours_send_pod: send/recv of a std::array<uint8_t, 64> (no allocation);
//     ours_loan_view: loan + memcpy in, recv_view + touch one byte;
//     ours_loan_view_copy: loan + memcpy in, recv_view + memcpy out (the
//       copy floor that send/recv<vector> is measured against).
//   rtt/64B/<impl>: one 64-byte request and one reply per iteration, with
//     p50/p99/p99.9 of the round trips (counters, ns; each sample includes
//     one steady_clock read, about 20 ns here).
//     ours: default receive policy (bounded spin, then futex);
//     ours_latency_mode: ReceivePolicy::spinning() pinned to CPUs 0 and 1.
//
// Every implementation blocks when it has nothing to do (ours: bounded spin,
// then futex), except ours_latency_mode and the cache-line ping-pong (the
// spinning floor), which both spin pinned to CPUs 0 and 1.
//
//   ./bench_pipe --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <sched.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <sk/pipe.hpp>

#include "baselines/boost_message_queue.hpp"
#include "baselines/cacheline_pingpong.hpp"
#include "baselines/fork_peer.hpp"
#include "baselines/pipe_fd.hpp"
#include "baselines/socketpair.hpp"
#if SK_BENCH_HAVE_ZMQ
#include "baselines/zmq_pair.hpp"
#endif
#if SK_BENCH_HAVE_NNG
#include "baselines/nng_pair.hpp"
#endif

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

// Our pipe, one way: the forked peer calls recv_one(point) per_round(size)
// times per round, then acknowledges; the benchmark process sends each
// message with send_one(anchor, i).
template <class RecvOne, class SendOne>
void ours_rounds(benchmark::State& st, std::size_t size, RecvOne recv_one, SendOne send_one) {
  bench::SharedMemory shm(4096);
  auto* acks = shm.make<bench::Acks>(0);
  auto [anchor, point] = sk::Pipe::pair(sk::one_way, bench_options());
  bench::ForkedPeer peer([&, p = point]() mutable {
    const std::size_t n = per_round(size);
    for (;;) {
      for (std::size_t i = 0; i < n; ++i) recv_one(p);
      acks->ack();
    }
  });
  run_rounds(st, acks, size, [&](std::size_t i) { send_one(anchor, i); });
}

// Zero-copy send: loan + memcpy in.
void loan_and_send(sk::Pipe::OneWayAnchor& a, const std::vector<std::byte>& src) {
  auto loan = a.loan(src.size());
  std::memcpy(loan.data(), src.data(), src.size());
  loan.send();
}

// ours, serialized: send(std::vector<std::uint8_t>) / recv<std::vector<std::uint8_t>>().
void BM_tp_ours_send(benchmark::State& st) {
  const auto size = static_cast<std::size_t>(st.range(0));
  // Payload bytes = size - 8 (the length cereal writes), frame header not counted.
  std::vector<std::uint8_t> msg(size > 8 ? size - 8 : 0, 0x5A);
  ours_rounds(
      st, size, [](auto& p) { benchmark::DoNotOptimize(p.template recv<std::vector<std::uint8_t>>()); },
      [&](auto& a, std::size_t) { a.send(msg); });
}

// ours, trivially copyable: send/recv<std::array<uint8_t, 40>> (+ the 24-byte
// frame header = 64 B; encoded straight into the ring, no heap allocation).
void BM_tp_ours_send_pod(benchmark::State& st) {
  using Pod = std::array<std::uint8_t, 64 - 24>;
  Pod msg{};
  ours_rounds(
      st, 64, [](auto& p) { benchmark::DoNotOptimize(p.template recv<Pod>()); },
      [&](auto& a, std::size_t i) {
        msg[0] = static_cast<std::uint8_t>(i);
        a.send(msg);
      });
}

// ours, zero-copy: loan + memcpy in, view + touch one byte out.
void BM_tp_ours_loan(benchmark::State& st) {
  const auto size = static_cast<std::size_t>(st.range(0));
  std::vector<std::byte> src(size, std::byte{0x5A});
  ours_rounds(
      st, size,
      [](auto& p) {
        auto v = p.recv_view();
        benchmark::DoNotOptimize(v.data()[v.size() - 1]);
      },
      [&](auto& a, std::size_t) { loan_and_send(a, src); });
}

// ours, zero-copy in and one copy out: loan + memcpy in, view + memcpy out
// into a buffer the receiver keeps (the least a copying receive can do).
void BM_tp_ours_loan_view_copy(benchmark::State& st) {
  const auto size = static_cast<std::size_t>(st.range(0));
  std::vector<std::byte> src(size, std::byte{0x5A});
  std::vector<std::byte> out(size);
  ours_rounds(
      st, size,
      [&](auto& p) {
        auto v = p.recv_view();
        std::memcpy(out.data(), v.data(), v.size());
        benchmark::DoNotOptimize(out.data());
      },
      [&](auto& a, std::size_t) { loan_and_send(a, src); });
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

// ZeroMQ / nng. Neither library survives fork() (nng panics in a child of a
// process that used it), so the peer is this program re-executed in socket
// peer mode (socket_peer_main below), started by fork + exec before the
// benchmark process opens its own socket. It acknowledges each round with a
// one-byte message on the same socket.
std::vector<std::string> peer_args(const char* lib, const char* mode, const std::string& endpoint,
                                   std::size_t size) {
  return {"--sk-socket-peer", lib, mode, endpoint, std::to_string(size), std::to_string(per_round(size))};
}

template <class Sock>
void socket_lib_throughput(benchmark::State& st, const char* lib, const std::string& endpoint) {
  const auto size = static_cast<std::size_t>(st.range(0));
  bench::ForkedPeer peer([&] { bench::exec_self(peer_args(lib, "sink", endpoint, size)); });
  Sock s(endpoint, true);
  std::vector<char> msg(size, 'x');
  char ack[8];
  const std::size_t n = per_round(size);
  for (auto _ : st) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < n; ++i) s.send(msg.data(), size);
    (void)s.recv(ack, sizeof ack);
    st.SetIterationTime(bench::seconds_since(t0));
  }
  set_counters(st, size);
}

#if SK_BENCH_HAVE_ZMQ
void BM_tp_zmq(benchmark::State& st) {
  socket_lib_throughput<bench::ZmqPair>(st, "zmq", bench::ZmqPair::endpoint("tp" + std::to_string(st.range(0))));
}
#endif
#if SK_BENCH_HAVE_NNG
void BM_tp_nng(benchmark::State& st) {
  socket_lib_throughput<bench::NngPair>(st, "nng", bench::NngPair::endpoint("tp" + std::to_string(st.range(0))));
}
#endif

// The peer side of the ZeroMQ / nng benchmarks: "sink" receives rounds of
// per_round messages and acknowledges each; "echo" sends every message back.
template <class Sock>
int socket_peer(const std::string& mode, const std::string& endpoint, std::size_t size, std::size_t n) {
  Sock s(endpoint, false);
  std::vector<char> buf(size);
  for (;;) {
    if (mode == "echo") {
      s.send(buf.data(), s.recv(buf.data(), size));
    } else {
      for (std::size_t i = 0; i < n; ++i) (void)s.recv(buf.data(), size);
      s.send("a", 1);
    }
  }
}

int socket_peer_main(int argc, char** argv) {
  if (argc != 7) return 2;
  const std::string lib = argv[2], mode = argv[3], endpoint = argv[4];
  const std::size_t size = std::stoul(argv[5]), n = std::stoul(argv[6]);
#if SK_BENCH_HAVE_ZMQ
  if (lib == "zmq") return socket_peer<bench::ZmqPair>(mode, endpoint, size, n);
#endif
#if SK_BENCH_HAVE_NNG
  if (lib == "nng") return socket_peer<bench::NngPair>(mode, endpoint, size, n);
#endif
  (void)mode, (void)endpoint, (void)size, (void)n;
  return 3;
}

// ---- round-trip latency (64 B) ------------------------------------------------

// Round-trip samples of one benchmark run; their percentiles become counters.
class Latencies {
 public:
  Latencies() { ns_.reserve(kMax); }
  // Times one round trip (call once per iteration, after it).
  void tick() {
    const auto now = Clock::now();
    if (ns_.size() < kMax) ns_.push_back(std::chrono::duration<double, std::nano>(now - last_).count());
    last_ = now;
  }
  void start() { last_ = Clock::now(); }
  void report(benchmark::State& st) {
    if (ns_.empty()) return;
    std::sort(ns_.begin(), ns_.end());
    auto at = [&](double q) { return ns_[std::min(ns_.size() - 1, static_cast<std::size_t>(q * ns_.size()))]; };
    st.counters["p50_ns"] = at(0.50);
    st.counters["p99_ns"] = at(0.99);
    st.counters["p999_ns"] = at(0.999);
  }

 private:
  static constexpr std::size_t kMax = std::size_t{1} << 22;
  std::vector<double> ns_;
  Clock::time_point last_;
};

// Runs rtt() once per iteration, timing each.
template <class Rtt>
void timed_round_trips(benchmark::State& st, Rtt rtt) {
  Latencies lat;
  lat.start();
  for (auto _ : st) {
    rtt();
    lat.tick();
  }
  lat.report(st);
}

using Msg64 = std::array<std::uint8_t, 64>;

// 64-byte request and echo through a duplex pipe made with `o`.
void ours_rtt(benchmark::State& st, const sk::PipeOptions& o) {
  auto [anchor, point] = sk::Pipe::pair(o);
  bench::ForkedPeer peer([p = point]() mutable {
    for (;;) p.send(p.recv<Msg64>());
  });
  Msg64 m{};
  timed_round_trips(st, [&] {
    anchor.send(m);
    m = anchor.recv<Msg64>();
  });
}

void BM_rtt_ours(benchmark::State& st) { ours_rtt(st, {}); }

// Latency mode: both ends spin (pause only, never park), pinned to CPUs 0
// and 1. Two cores busy for as long as the pipe is in use.
void BM_rtt_ours_latency_mode(benchmark::State& st) {
  cpu_set_t saved;
  sched_getaffinity(0, sizeof saved, &saved);
  sk::PipeOptions o;
  o.receive = sk::ReceivePolicy::spinning(std::chrono::nanoseconds::max(), 0, 1);
  ours_rtt(st, o);
  sched_setaffinity(0, sizeof saved, &saved);  // the receive pinned this thread to CPU 0
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
  timed_round_trips(st, [&] {
    there.send(buf, 64);
    back.recv_exact(buf, 64);
  });
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
  timed_round_trips(st, [&] {
    sp.send(0, buf, 64);
    sp.recv_exact(0, buf, 64);
  });
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
  timed_round_trips(st, [&] {
    std::size_t got = 0;
    unsigned prio = 0;
    there.queue().send(buf, 64, 0);
    back.queue().receive(buf, 64, got, prio);
  });
}

// Pins the calling thread to one CPU (the latency-mode benchmarks).
void pin_to(int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  sched_setaffinity(0, sizeof one, &one);
}

// The floor, measured like the latency mode: both sides spin, pinned to
// CPUs 0 and 1 (unpinned spinners on a loaded 2-core machine can end up on
// one core and wait out each other's time slices).
void BM_rtt_cacheline_spin(benchmark::State& st) {
  cpu_set_t saved;
  sched_getaffinity(0, sizeof saved, &saved);
  bench::SharedMemory shm(4096);
  auto* line = shm.make<bench::CacheLinePingPong>(0);
  bench::ForkedPeer peer([&] {
    pin_to(1);
    line->serve();
  });
  pin_to(0);
  std::uint64_t round = 0;
  timed_round_trips(st, [&] { line->ping(round++); });
  sched_setaffinity(0, sizeof saved, &saved);
}

template <class Sock>
void socket_lib_rtt(benchmark::State& st, const char* lib, const std::string& endpoint) {
  bench::ForkedPeer peer([&] { bench::exec_self(peer_args(lib, "echo", endpoint, 64)); });
  Sock s(endpoint, true);
  char buf[64] = {};
  timed_round_trips(st, [&] {
    s.send(buf, 64);
    (void)s.recv(buf, 64);
  });
}
#if SK_BENCH_HAVE_ZMQ
void BM_rtt_zmq(benchmark::State& st) { socket_lib_rtt<bench::ZmqPair>(st, "zmq", bench::ZmqPair::endpoint("rtt")); }
#endif
#if SK_BENCH_HAVE_NNG
void BM_rtt_nng(benchmark::State& st) { socket_lib_rtt<bench::NngPair>(st, "nng", bench::NngPair::endpoint("rtt")); }
#endif

}  // namespace

#define SK_TP(fn, name) \
  BENCHMARK(fn)->Name(name)->Arg(64)->Arg(4096)->Arg(1 << 20)->UseManualTime()->Unit(benchmark::kMicrosecond)
SK_TP(BM_tp_ours_send, "throughput/ours_send");
BENCHMARK(BM_tp_ours_send_pod)->Name("throughput/ours_send_pod")->Arg(64)->UseManualTime()->Unit(benchmark::kMicrosecond);
SK_TP(BM_tp_ours_loan, "throughput/ours_loan_view");
SK_TP(BM_tp_ours_loan_view_copy, "throughput/ours_loan_view_copy");
SK_TP(BM_tp_pipe, "throughput/pipe");
SK_TP(BM_tp_socketpair, "throughput/socketpair_unix_stream");
SK_TP(BM_tp_boost_mq, "throughput/boost_message_queue");
#if SK_BENCH_HAVE_ZMQ
SK_TP(BM_tp_zmq, "throughput/zeromq_pair_ipc");
#endif
#if SK_BENCH_HAVE_NNG
SK_TP(BM_tp_nng, "throughput/nng_pair1_ipc");
#endif

#define SK_RTT(fn, name) BENCHMARK(fn)->Name(name)->UseRealTime()->Unit(benchmark::kMicrosecond)
SK_RTT(BM_rtt_ours, "rtt/64B/ours");
SK_RTT(BM_rtt_ours_latency_mode, "rtt/64B/ours_latency_mode");
SK_RTT(BM_rtt_pipe, "rtt/64B/pipe");
SK_RTT(BM_rtt_socketpair, "rtt/64B/socketpair_unix_stream");
SK_RTT(BM_rtt_boost_mq, "rtt/64B/boost_message_queue");
#if SK_BENCH_HAVE_ZMQ
SK_RTT(BM_rtt_zmq, "rtt/64B/zeromq_pair_ipc");
#endif
#if SK_BENCH_HAVE_NNG
SK_RTT(BM_rtt_nng, "rtt/64B/nng_pair1_ipc");
#endif
SK_RTT(BM_rtt_cacheline_spin, "rtt/64B/cacheline_spin_floor");

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--sk-socket-peer") return socket_peer_main(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
