// Serialized Share slots across processes (the workloads of Python's
// Manager().list / Manager().dict and a shared logger).
//
// BM_list_append/procs:P     P forked processes each append kAppends ints to one
//                            sk::List<int>.
// BM_list_append_floor/procs:P  the same appends without the library: one
//                            fetch_add on a counter and a release store of a
//                            16-byte {state, value} cell at that index, in
//                            plain MAP_SHARED memory (pages touched once before,
//                            not timed) - the hardware's floor for the List.
// BM_log_info/procs:P        P processes each write kRecords records to one sk::Log
//                            (no sinks: records are only kept in the shared log).
// BM_object_update/procs:P   P processes each do kUpdates read-modify-writes of one
//                            sk::Object<std::map<std::string, int>> (16 keys).
// Each iteration uses a fresh Share and forks P processes (not timed); they
// wait at a start gate, and the manual time runs from opening the gate until
// the last one has finished its work (fork and exit are not counted, so the
// 1-process figure is the append rate, not fork's). Totals are checked.
//
//   ./bench_share_slots --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <fork_all.hpp>
#include <procs_args.hpp>
#include <sk/core/futex.hpp>
#include <sk/share.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>
#include <sk/slots/object.hpp>

#include "baselines/fork_peer.hpp"

namespace {

constexpr int kAppends = 200000;
constexpr int kRecords = 5000;
constexpr int kUpdates = 2000;

struct SlotsState {
  sk::List<int> list;
  sk::Log log{"bench"};
  sk::Object<std::map<std::string, int>> table;
};
SK_SHARE(SlotsState, list, log, table);

template <class Setup, class Work, class Check>
void run(benchmark::State& st, long per_proc, Setup setup, Work work, Check check) {
  const int procs = static_cast<int>(st.range(0));
  std::size_t shm = 0;
  for (auto _ : st) {
    st.PauseTiming();
    sk::Share<SlotsState> share(std::size_t{256} << 20);
    setup(share);
    st.ResumeTiming();
    const double s = bench::fork_all(procs, [&](int p) { work(share, p); });
    if (s < 0 || !check(share, procs)) {
      st.SkipWithError("a worker failed or a total is wrong");
      return;
    }
    st.SetIterationTime(s);
    shm = share.arena().used();
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * procs * per_proc);
  st.counters["shm_bytes"] = static_cast<double>(shm);
}

void BM_list_append(benchmark::State& st) {
  run(
      st, kAppends, [](auto&) {},
      [](sk::Share<SlotsState>& s, int p) {
        for (int i = 0; i < kAppends; ++i) s->list.append(p * kAppends + i);
      },
      [](sk::Share<SlotsState>& s, int procs) { return s->list.size() == static_cast<std::size_t>(procs) * kAppends; });
}

// {state, value} cells indexed by one shared counter: what every append of
// BM_list_append does at the least (claiming an index and publishing a cell).
struct FloorCell {
  std::atomic<std::uint64_t> state{0};
  std::int64_t value = 0;
};

void BM_list_append_floor(benchmark::State& st) {
  const int procs = static_cast<int>(st.range(0));
  const std::size_t n = static_cast<std::size_t>(procs) * kAppends;
  bench::SharedMemory shm(128 + n * sizeof(FloorCell));
  for (auto _ : st) {
    st.PauseTiming();
    auto* next = shm.make<std::atomic<std::uint64_t>>(0, 0);
    FloorCell* cells = shm.make<FloorCell>(128);
    for (std::size_t k = 1; k < n; ++k) shm.make<FloorCell>(128 + k * sizeof(FloorCell));  // pages faulted in
    st.ResumeTiming();
    const double s = bench::fork_all(procs, [&](int p) {
      for (int i = 0; i < kAppends; ++i) {
        const std::uint64_t k = next->fetch_add(1, std::memory_order_acq_rel);
        cells[k].value = p * kAppends + i;
        // SYNC POINT: release publishes the value to a reader's acquire of state.
        cells[k].state.store(1, std::memory_order_release);
      }
    });
    if (s < 0 || next->load() != n) {
      st.SkipWithError("a worker failed or the count is wrong");
      return;
    }
    st.SetIterationTime(s);
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * procs * kAppends);
}

void BM_log_info(benchmark::State& st) {
  run(
      st, kRecords, [](sk::Share<SlotsState>& s) { s->log.no_sinks(); },
      [](sk::Share<SlotsState>& s, int p) {
        for (int i = 0; i < kRecords; ++i) s->log.info("worker {} record {}", p, i);
      },
      [](sk::Share<SlotsState>& s, int procs) {
        // The Log keeps its newest capacity() records; every other one is counted as dropped.
        const std::uint64_t total = static_cast<std::uint64_t>(procs) * kRecords;
        const std::uint64_t kept = std::min<std::uint64_t>(total, s->log.capacity());
        return s->log.written() == total && s->log.dropped() == total - kept && s->log.messages().size() <= kept;
      });
}

void BM_object_update(benchmark::State& st) {
  run(
      st, kUpdates, [](auto&) {},
      [](sk::Share<SlotsState>& s, int p) {
        for (int i = 0; i < kUpdates; ++i)
          s->table.update([&](std::map<std::string, int>& m) { ++m["k" + std::to_string((i + p) % 16)]; });
      },
      [](sk::Share<SlotsState>& s, int procs) {
        long sum = 0;
        for (auto& [k, v] : s->table.load()) sum += v;
        return sum == static_cast<long>(procs) * kUpdates;
      });
}

}  // namespace

BENCHMARK(BM_list_append)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_list_append_floor)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_log_info)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_object_update)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
