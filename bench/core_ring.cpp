// Throughput of 64-byte messages between TWO PROCESSES: the benchmark process
// produces, a forked peer consumes. One iteration = kPerRound messages plus the
// peer's acknowledgement that it has consumed them all (manual time).
//
//   spin  : both sides busy-wait (cpu_relax) and never park; ours skips the
//           wake check (Notify::no).
//   block : a side that finds nothing to do parks: ours on the futex
//           (WaitPoint), Boost (which cannot park) spins then sched_yields,
//           pipe/socketpair sleep in the kernel.
//
//   ./bench_core_ring --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <span>

#include <sk/core/backoff.hpp>
#include <sk/core/byte_ring.hpp>

#include "baselines/boost_spsc_shm.hpp"
#include "baselines/fork_peer.hpp"
#include "baselines/pipe_fd.hpp"
#include "baselines/socketpair.hpp"
#include "baselines/spsc_ring.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Msg64 {
  std::uint64_t seq;
  std::uint64_t pad[7];
};
static_assert(sizeof(Msg64) == 64);

constexpr std::size_t kPerRound = 1 << 16;
constexpr std::size_t kSlots = 4096;
constexpr std::size_t kAcksOffset = 1 << 20;  // acks live after the queue in the mapping
enum class Mode { spin, block };

volatile std::uint64_t g_sink;

// Counts consumed messages and acknowledges each full round.
struct RoundCounter {
  bench::Acks* acks;
  std::size_t n = 0;
  void add(std::size_t k) {
    n += k;
    while (n >= kPerRound) {
      n -= kPerRound;
      acks->ack();
    }
  }
};

// The producer side of every slot-queue benchmark: rounds of kPerRound
// messages pushed Batch at a time with push_n(ptr, n) -> pushed; idle(next)
// runs when nothing fit and returns true if it pushed `next` itself.
template <std::size_t Batch, class PushN, class Idle>
void produce_rounds(benchmark::State& st, bench::Acks* acks, PushN push_n, Idle idle) {
  Msg64 batch[Batch]{};
  std::uint32_t round = 0;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < kPerRound; i += Batch) {
      for (std::size_t j = 0; j < Batch; ++j) batch[j].seq = i + j;
      for (std::size_t done = 0; done < Batch;) {
        const std::size_t k = push_n(batch + done, Batch - done);
        done += k;
        if (k == 0 && idle(batch[done])) ++done;
      }
    }
    acks->wait_for_round(++round);
    st.SetIterationTime(bench::seconds_since(t0));
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kPerRound));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * kPerRound * sizeof(Msg64)));
}

template <Mode M, std::size_t Batch>
void BM_ours_spsc(benchmark::State& st) {
  using Ring = bench::SpscRing<Msg64, kSlots>;  // the reference ring
  static_assert(sizeof(Ring) < kAcksOffset);
  constexpr auto notify = M == Mode::block ? bench::Notify::yes : bench::Notify::no;
  bench::SharedMemory shm(kAcksOffset + 4096);
  auto* ring = shm.make<Ring>(0);
  auto* acks = shm.make<bench::Acks>(kAcksOffset);
  bench::ForkedPeer peer([&] {
    RoundCounter rc{acks};
    Msg64 buf[64];
    std::uint64_t sink = 0;
    for (;;) {
      std::size_t k = ring->try_pop_n(buf, 64, notify);
      if (k == 0) {
        if constexpr (M == Mode::block) {
          (void)ring->wait_readable(1s);  // then take a whole batch
        } else {
          sk::core::cpu_relax();
        }
      }
      for (std::size_t i = 0; i < k; ++i) sink += buf[i].seq;
      g_sink = sink;
      rc.add(k);
    }
  });
  produce_rounds<Batch>(
      st, acks, [&](const Msg64* p, std::size_t n) { return ring->try_push_n(p, n, notify); },
      [&](const Msg64& next) {
        if constexpr (M == Mode::block) return ring->push_wait(next, 10s, notify);
        sk::core::cpu_relax();
        return false;
      });
}

template <Mode M>
void BM_ours_byte_ring(benchmark::State& st) {
  constexpr std::size_t kCap = kSlots * 72;  // about the same bytes as the slot rings
  constexpr std::size_t kPow2 = std::size_t{1} << 19;
  static_assert(kPow2 >= kCap);
  const std::size_t ring_bytes = sk::core::ByteRing::bytes_needed(kPow2);
  bench::SharedMemory shm(kAcksOffset + 4096);
  auto* ring = sk::core::ByteRing::create(shm.get(), kPow2);
  (void)ring_bytes;
  auto* acks = shm.make<bench::Acks>(kAcksOffset);
  bench::ForkedPeer peer([&] {
    RoundCounter rc{acks};
    std::uint64_t sink = 0;
    for (;;) {
      std::size_t k = 0;
      for (; k < 64; ++k) {
        auto s = ring->try_peek();
        if (s.data() == nullptr) break;
        sink += static_cast<std::uint64_t>(s[0]);
        ring->release_staged();
      }
      if (k) ring->publish_released();
      else if constexpr (M == Mode::block) (void)ring->wait_readable(1s);
      else sk::core::cpu_relax();
      g_sink = sink;
      rc.add(k);
    }
  });
  Msg64 m{};
  std::uint32_t round = 0;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < kPerRound; ++i) {
      m.seq = i;
      std::span<std::byte> s;
      while ((s = ring->try_reserve(sizeof m)).data() == nullptr) {
        if constexpr (M == Mode::block) (void)ring->wait_writable(sizeof m, 10s);
        else sk::core::cpu_relax();
      }
      std::memcpy(s.data(), &m, sizeof m);
      ring->commit(sizeof m);
    }
    acks->wait_for_round(++round);
    st.SetIterationTime(bench::seconds_since(t0));
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kPerRound));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * kPerRound * sizeof(Msg64)));
}

template <Mode M, std::size_t Batch>
void BM_boost_spsc_shm(benchmark::State& st) {
  using Q = bench::BoostSpscShm<Msg64, kSlots>;
  static_assert(sizeof(Q) < kAcksOffset);
  bench::SharedMemory shm(kAcksOffset + 4096);
  auto* q = bench::make_boost_spsc<Msg64, kSlots>(shm.get());
  auto* acks = shm.make<bench::Acks>(kAcksOffset);
  bench::ForkedPeer peer([&] {
    RoundCounter rc{acks};
    Msg64 buf[64];
    std::uint64_t sink = 0;
    sk::core::Backoff b;
    for (;;) {
      const std::size_t k = q->pop(buf, 64);
      if (k == 0) {
        if constexpr (M == Mode::block) b.pause(); else sk::core::cpu_relax();
      } else {
        b.reset();
      }
      for (std::size_t i = 0; i < k; ++i) sink += buf[i].seq;
      g_sink = sink;
      rc.add(k);
    }
  });
  sk::core::Backoff b;
  produce_rounds<Batch>(
      st, acks,
      [&](const Msg64* p, std::size_t n) {
        const std::size_t k = q->push(p, n);
        if (k) b.reset();
        return k;
      },
      [&](const Msg64&) {
        if constexpr (M == Mode::block) b.pause(); else sk::core::cpu_relax();
        return false;
      });
}

// Kernel byte streams: one write(2) per 64-byte message; the reader drains
// whatever is there (up to 64 KiB per read) and counts bytes.
template <class Send, class RecvSome>
void stream_bench(benchmark::State& st, Send send, RecvSome recv_some) {
  bench::SharedMemory shm(4096);
  auto* acks = shm.make<bench::Acks>(0);
  bench::ForkedPeer peer([&] {
    static char buf[1 << 16];
    std::size_t bytes = 0;
    for (;;) {
      bytes += recv_some(buf, sizeof buf);
      while (bytes >= kPerRound * sizeof(Msg64)) {
        bytes -= kPerRound * sizeof(Msg64);
        acks->ack();
      }
    }
  });
  Msg64 m{};
  std::uint32_t round = 0;
  for (auto _ : st) {
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < kPerRound; ++i) {
      m.seq = i;
      send(&m, sizeof m);
    }
    acks->wait_for_round(++round);
    st.SetIterationTime(bench::seconds_since(t0));
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kPerRound));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * kPerRound * sizeof(Msg64)));
}

void BM_pipe(benchmark::State& st) {
  bench::PipeFd p;
  stream_bench(st, [&](const void* d, std::size_t n) { p.send(d, n); },
               [&](void* d, std::size_t n) { return p.recv_some(d, n); });
}

void BM_socketpair(benchmark::State& st) {
  bench::SocketPair sp;
  stream_bench(st, [&](const void* d, std::size_t n) { sp.send(0, d, n); },
               [&](void* d, std::size_t n) { return sp.recv_some(1, d, n); });
}

}  // namespace

#define SK_RING_BENCH(fn, name) BENCHMARK(fn)->Name(name)->UseManualTime()->Unit(benchmark::kMicrosecond)

SK_RING_BENCH((BM_ours_spsc<Mode::spin, 1>), "msg64/spin/ours_spsc_ring");
SK_RING_BENCH((BM_ours_spsc<Mode::spin, 32>), "msg64/spin/ours_spsc_ring_batch32");
SK_RING_BENCH((BM_ours_byte_ring<Mode::spin>), "msg64/spin/ours_byte_ring");
SK_RING_BENCH((BM_boost_spsc_shm<Mode::spin, 1>), "msg64/spin/boost_spsc_shm");
SK_RING_BENCH((BM_boost_spsc_shm<Mode::spin, 32>), "msg64/spin/boost_spsc_shm_batch32");
SK_RING_BENCH((BM_ours_spsc<Mode::block, 1>), "msg64/block/ours_spsc_ring");
SK_RING_BENCH((BM_ours_spsc<Mode::block, 32>), "msg64/block/ours_spsc_ring_batch32");
SK_RING_BENCH((BM_ours_byte_ring<Mode::block>), "msg64/block/ours_byte_ring");
SK_RING_BENCH((BM_boost_spsc_shm<Mode::block, 1>), "msg64/block/boost_spsc_shm_yield");
SK_RING_BENCH((BM_boost_spsc_shm<Mode::block, 32>), "msg64/block/boost_spsc_shm_yield_batch32");
SK_RING_BENCH(BM_pipe, "msg64/block/pipe");
SK_RING_BENCH(BM_socketpair, "msg64/block/socketpair_unix_stream");

BENCHMARK_MAIN();
