// sk::Pool costs, with the baselines measured in the same run:
//   - map of a trivial function over 4, 100 and 1,000,000 items with 4
//     workers: Pool (fork per call), Pool (persistent), an in-process
//     std::thread loop (ceiling), fork-per-task (4 and 100 items only), and
//     fork-the-workers with a static split (the floor for the default mode);
//   - fine-grained items (#18): x*2 over 1,000,000 ints with 2 workers,
//     persistent and fork mode, against 2 std::threads filling the same
//     vector;
//   - skewed costs: 400 items of ~20 us, 4 of them (all in the first worker's
//     block) 100x slower: makespan vs total work / workers, Pool (stealing)
//     vs the same static split.
// 4 workers on a 2-core machine are oversubscribed: read the ratios.
// Run: bench_pool --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <numeric>
#include <vector>

#include <baselines/pool_baselines.hpp>
#include <sk/pool.hpp>

namespace {

constexpr unsigned kWorkers = 4;

std::uint64_t trivial(std::uint32_t x) { return std::uint64_t{x} * 2654435761u; }

std::vector<std::uint32_t> iota_u32(std::size_t n) {
  std::vector<std::uint32_t> v(n);
  std::iota(v.begin(), v.end(), 0u);
  return v;
}

void BM_Pool_fork_map(benchmark::State& st) {
  const auto items = iota_u32(static_cast<std::size_t>(st.range(0)));
  sk::Pool pool(kWorkers);
  for (auto _ : st) benchmark::DoNotOptimize(pool.map(trivial, items));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_Pool_fork_map)->Arg(4)->Arg(100)->Arg(1'000'000)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Pool_persistent_map(benchmark::State& st) {
  const auto items = iota_u32(static_cast<std::size_t>(st.range(0)));
  sk::Pool pool(kWorkers, sk::persistent);
  for (auto _ : st) benchmark::DoNotOptimize(pool.map(trivial, items));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_Pool_persistent_map)->Arg(4)->Arg(100)->Arg(1'000'000)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Baseline_threads_parallel_for(benchmark::State& st) {
  const auto n = static_cast<std::size_t>(st.range(0));
  std::vector<std::uint64_t> out(n);
  for (auto _ : st) {
    bench::thread_parallel_for(n, kWorkers, [&](std::size_t i) { out[i] = trivial(static_cast<std::uint32_t>(i)); });
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_Baseline_threads_parallel_for)->Arg(4)->Arg(100)->Arg(1'000'000)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Baseline_fork_per_task(benchmark::State& st) {
  const auto n = static_cast<std::size_t>(st.range(0));
  for (auto _ : st)
    benchmark::DoNotOptimize(bench::fork_per_task<std::uint64_t>(
        n, kWorkers, [](std::size_t i) { return trivial(static_cast<std::uint32_t>(i)); }));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_Baseline_fork_per_task)->Arg(4)->Arg(100)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Baseline_fork_static_split(benchmark::State& st) {
  const auto n = static_cast<std::size_t>(st.range(0));
  for (auto _ : st)
    benchmark::DoNotOptimize(bench::fork_static_split<std::uint64_t>(
        n, kWorkers, [](std::size_t i) { return trivial(static_cast<std::uint32_t>(i)); }));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_Baseline_fork_static_split)->Arg(4)->Arg(100)->Arg(1'000'000)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- fine-grained items: x*2 over 1M ints with 2 workers (#18) ----------------
// What the Pool adds per item when the item is nearly free: the persistent
// Pool against 2 std::threads filling the same vector (the in-process
// ceiling). Both return a fresh std::vector<int> per call.

constexpr unsigned kFineWorkers = 2;
constexpr std::size_t kFineItems = 1'000'000;

std::vector<int> iota_int(std::size_t n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

void BM_Fine_pool_persistent_x2_1M_2workers(benchmark::State& st) {
  const auto items = iota_int(kFineItems);
  sk::Pool pool(kFineWorkers, sk::persistent);
  for (auto _ : st) benchmark::DoNotOptimize(pool.map([](int x) { return x * 2; }, items));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kFineItems));
}
BENCHMARK(BM_Fine_pool_persistent_x2_1M_2workers)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Fine_pool_fork_x2_1M_2workers(benchmark::State& st) {
  const auto items = iota_int(kFineItems);
  sk::Pool pool(kFineWorkers);
  for (auto _ : st) benchmark::DoNotOptimize(pool.map([](int x) { return x * 2; }, items));
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kFineItems));
}
BENCHMARK(BM_Fine_pool_fork_x2_1M_2workers)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Fine_baseline_2threads_x2_1M(benchmark::State& st) {
  const auto items = iota_int(kFineItems);
  for (auto _ : st) {
    std::vector<int> out(kFineItems);
    bench::thread_parallel_for(kFineItems, kFineWorkers, [&](std::size_t i) { out[i] = items[i] * 2; });
    benchmark::DoNotOptimize(out.data());
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * kFineItems));
}
BENCHMARK(BM_Fine_baseline_2threads_x2_1M)->Unit(benchmark::kMicrosecond)->UseRealTime();

// ---- skewed costs -------------------------------------------------------------

constexpr std::uint32_t kSkewItems = 400;
constexpr auto kBase = std::chrono::microseconds(20);

// Busy work for about d (a spin, so the cost is CPU, as in real maps).
std::uint32_t burn(std::chrono::microseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  std::uint32_t k = 0;
  while (std::chrono::steady_clock::now() < end) ++k;
  return k;
}
// Items 0, 10, 20, 30 (all in worker 0's static block) cost 100x.
std::chrono::microseconds cost(std::uint32_t i) { return (i < 40 && i % 10 == 0) ? kBase * 100 : kBase; }
double ideal_seconds() {
  double total = 0;
  for (std::uint32_t i = 0; i < kSkewItems; ++i) total += std::chrono::duration<double>(cost(i)).count();
  return total / kWorkers;
}

void BM_Skewed_pool_stealing(benchmark::State& st) {
  const auto items = iota_u32(kSkewItems);
  sk::Pool pool(kWorkers);
  for (auto _ : st) benchmark::DoNotOptimize(pool.map([](std::uint32_t i) { return burn(cost(i)); }, items));
  st.counters["ideal_ms"] = ideal_seconds() * 1e3;
}
BENCHMARK(BM_Skewed_pool_stealing)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Skewed_static_split(benchmark::State& st) {
  for (auto _ : st)
    benchmark::DoNotOptimize(bench::fork_static_split<std::uint32_t>(
        kSkewItems, kWorkers, [](std::size_t i) { return burn(cost(static_cast<std::uint32_t>(i))); }));
  st.counters["ideal_ms"] = ideal_seconds() * 1e3;
}
BENCHMARK(BM_Skewed_static_split)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
