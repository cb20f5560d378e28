// Recording into one timer / shorting one circuit from 4 PROCESSES at once.
// One iteration: 4 forked children each do kOps operations after a common
// start signal; manual time = start signal to the last child's exit. items/s
// = operations per second across all 4 processes.
//
//   ours_shared_timer_add_time   sk::SharedTimer: per-process sample rings, no shared lock
//   locked_timer_add_time        baseline: one interprocess_mutex guarding one ring
//   ours_circuit_short           sk::Circuit: one CAS on a packed state word
//   locked_circuit_short         baseline: counters under one interprocess_mutex
//
//   ./bench_timer_circuit --benchmark_min_time=0.05
#include <benchmark/benchmark.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <vector>

#include <sk/circuit.hpp>
#include <sk/slots/timer.hpp>

#include "baselines/fork_peer.hpp"
#include "baselines/locked_timer.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kProcs = 4;
constexpr int kOps = 400'000;
constexpr std::size_t kRing = 1 << 14;

struct StartLine {
  std::atomic<int> ready{0};
  std::atomic<int> go{0};
};

// Forks kProcs children running op(i) kOps times after the start signal;
// returns the seconds from the signal to the last exit.
template <class Op>
double race(StartLine* line, Op op) {
  line->ready.store(0);
  line->go.store(0);
  std::vector<pid_t> pids;
  for (int p = 0; p < kProcs; ++p) {
    const pid_t pid = fork();
    if (pid == 0) {
      line->ready.fetch_add(1);
      while (line->go.load(std::memory_order_acquire) == 0) sched_yield();
      for (int i = 0; i < kOps; ++i) op(i);
      _exit(0);
    }
    pids.push_back(pid);
  }
  while (line->ready.load() < kProcs) sched_yield();
  const auto t0 = Clock::now();
  line->go.store(1, std::memory_order_release);
  for (pid_t pid : pids) waitpid(pid, nullptr, 0);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void BM_ours_shared_timer_add_time(benchmark::State& st) {
  bench::SharedMemory mem(4096);
  auto* line = mem.make<StartLine>(0);
  sk::SharedTimer timer(kRing, 8);  // standalone: its own MAP_SHARED block, inherited by fork
  for (auto _ : st) st.SetIterationTime(race(line, [&](int i) { timer.add_time(i * 1e-6); }));
  st.SetItemsProcessed(st.iterations() * kProcs * kOps);
  benchmark::DoNotOptimize(timer.num_times());
}

void BM_locked_timer_add_time(benchmark::State& st) {
  using Locked = bench::LockedTimer<kRing>;
  bench::SharedMemory mem(4096 + sizeof(Locked));
  auto* line = mem.make<StartLine>(0);
  auto* timer = mem.make<Locked>(4096);
  for (auto _ : st) st.SetIterationTime(race(line, [&](int i) { timer->add_time(i * 1e-6); }));
  st.SetItemsProcessed(st.iterations() * kProcs * kOps);
  benchmark::DoNotOptimize(timer->total());
}

void BM_ours_circuit_short(benchmark::State& st) {
  bench::SharedMemory mem(8192);
  auto* line = mem.make<StartLine>(0);
  auto* c = mem.make<sk::Circuit>(4096, 7);
  for (auto _ : st) st.SetIterationTime(race(line, [&](int) { benchmark::DoNotOptimize(c->short_()); }));
  st.SetItemsProcessed(st.iterations() * kProcs * kOps);
}

void BM_locked_circuit_short(benchmark::State& st) {
  bench::SharedMemory mem(8192);
  auto* line = mem.make<StartLine>(0);
  auto* c = mem.make<bench::LockedCircuit>(4096, 7u);
  for (auto _ : st) st.SetIterationTime(race(line, [&](int) { benchmark::DoNotOptimize(c->short_()); }));
  st.SetItemsProcessed(st.iterations() * kProcs * kOps);
}

}  // namespace

BENCHMARK(BM_ours_shared_timer_add_time)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_locked_timer_add_time)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ours_circuit_short)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_locked_circuit_short)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK_MAIN();
