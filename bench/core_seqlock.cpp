// Seqlock<T> against a mutex-protected T (std::mutex and Boost.Interprocess's
// interprocess_mutex), same T, same run:
//   load / store uncontended, 64 B and 1 KiB values;
//   load while another thread stores continuously (the seqlock's case);
//   update (read-modify-write) uncontended.
// Run: bench_core_seqlock --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <boost/interprocess/sync/interprocess_mutex.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>

#include <sk/core/seqlock.hpp>

#include "baselines/locked_value.hpp"

namespace {

template <std::size_t N>
struct Blob {
  std::array<std::uint64_t, N / 8> w{};
};
using B64 = Blob<64>;
using B1K = Blob<1024>;

constexpr std::uint32_t kTag = 1;

template <class T>
struct SeqlockSide {
  sk::core::Seqlock<T> v;
  T load() const { return v.load(); }
  void store(const T& x) { v.store(x, kTag); }
  template <class F>
  T update(F&& fn) {
    return v.update(std::forward<F>(fn), kTag);
  }
};
template <class T>
using StdMutexSide = bench::LockedValue<T, std::mutex>;
template <class T>
using IpcMutexSide = bench::LockedValue<T, boost::interprocess::interprocess_mutex>;

template <class Side, class T>
void load(benchmark::State& state) {
  Side s;
  for (auto _ : state) {
    T x = s.load();
    benchmark::DoNotOptimize(x);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sizeof(T)));
}

template <class Side, class T>
void store(benchmark::State& state) {
  Side s;
  T x{};
  for (auto _ : state) {
    ++x.w[0];
    s.store(x);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sizeof(T)));
}

template <class Side, class T>
void update(benchmark::State& state) {
  Side s;
  for (auto _ : state) {
    T x = s.update([](T& v) { ++v.w[0]; });
    benchmark::DoNotOptimize(x);
  }
}

// Loads in the benchmark thread while a second thread stores as fast as it can.
template <class Side, class T>
void load_with_writer(benchmark::State& state) {
  Side s;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> stores{0};
  std::thread writer([&] {
    T x{};
    std::uint64_t n = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      ++x.w[0];
      s.store(x);
      ++n;
    }
    stores.store(n);
  });
  for (auto _ : state) {
    T x = s.load();
    benchmark::DoNotOptimize(x);
  }
  stop.store(true);
  writer.join();
  state.counters["writer_stores"] = benchmark::Counter(static_cast<double>(stores.load()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(load<SeqlockSide<B64>, B64>)->Name("load_uncontended/64B/seqlock");
BENCHMARK(load<StdMutexSide<B64>, B64>)->Name("load_uncontended/64B/std_mutex");
BENCHMARK(load<IpcMutexSide<B64>, B64>)->Name("load_uncontended/64B/ipc_mutex");
BENCHMARK(load<SeqlockSide<B1K>, B1K>)->Name("load_uncontended/1KiB/seqlock");
BENCHMARK(load<StdMutexSide<B1K>, B1K>)->Name("load_uncontended/1KiB/std_mutex");

BENCHMARK(store<SeqlockSide<B64>, B64>)->Name("store_uncontended/64B/seqlock");
BENCHMARK(store<StdMutexSide<B64>, B64>)->Name("store_uncontended/64B/std_mutex");
BENCHMARK(store<IpcMutexSide<B64>, B64>)->Name("store_uncontended/64B/ipc_mutex");
BENCHMARK(store<SeqlockSide<B1K>, B1K>)->Name("store_uncontended/1KiB/seqlock");
BENCHMARK(store<StdMutexSide<B1K>, B1K>)->Name("store_uncontended/1KiB/std_mutex");

BENCHMARK(update<SeqlockSide<B64>, B64>)->Name("update_uncontended/64B/seqlock");
BENCHMARK(update<StdMutexSide<B64>, B64>)->Name("update_uncontended/64B/std_mutex");

BENCHMARK(load_with_writer<SeqlockSide<B64>, B64>)->Name("load_with_writer/64B/seqlock")->UseRealTime();
BENCHMARK(load_with_writer<StdMutexSide<B64>, B64>)->Name("load_with_writer/64B/std_mutex")->UseRealTime();
BENCHMARK(load_with_writer<IpcMutexSide<B64>, B64>)->Name("load_with_writer/64B/ipc_mutex")->UseRealTime();
BENCHMARK(load_with_writer<SeqlockSide<B1K>, B1K>)->Name("load_with_writer/1KiB/seqlock")->UseRealTime();
BENCHMARK(load_with_writer<StdMutexSide<B1K>, B1K>)->Name("load_with_writer/1KiB/std_mutex")->UseRealTime();

BENCHMARK_MAIN();
