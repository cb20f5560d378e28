// Cross-process shared counters and arena allocation.
//
// BM_counter_*/procs:P   P forked processes each do kIncrements increments
//   of ONE shared counter per iteration; manual time of the whole round
//   (start signal -> every process done). Competitors, same harness:
//     arena   std::atomic<u64> allocated in an sk::alloc::Arena (fetch_add)
//     raw     std::atomic<u64> in plain MAP_SHARED memory (fetch_add)
//     ipmutex u64 guarded by boost::interprocess::interprocess_mutex in MAP_SHARED memory
// BM_alloc_free_*/procs:P  P processes each do kAllocs allocate+deallocate
//   pairs of 64 bytes (holding up to 8 blocks) per iteration:
//     arena   sk::alloc::Arena (lock-free, offsets)
//     boost   boost::interprocess::basic_managed_external_buffer over MAP_SHARED
//             memory (rbtree_best_fit<mutex_family>: one interprocess mutex)
//   and in one process only: malloc/free as the process-local reference.
//
//   ./bench_alloc_atomic --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <atomic>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include <procs_args.hpp>
#include <sk/alloc/arena.hpp>
#include <sk/core/futex.hpp>

#include "baselines/fork_peer.hpp"

namespace {

constexpr std::uint64_t kIncrements = 1 << 18;
constexpr int kAllocs = 1 << 16;

// Start/finish handshake between the benchmark process and P workers.
struct Rounds {
  std::atomic<std::uint32_t> go{0};
  sk::core::WaitPoint go_wp;
  alignas(128) std::atomic<std::uint32_t> done{0};
  sk::core::WaitPoint done_wp;

  void start() noexcept {
    // SYNC POINT: release publishes the round number; workers acquire it.
    go.fetch_add(1, std::memory_order_release);
    go_wp.notify_all();
  }
  void wait_start(std::uint32_t round) noexcept {
    // SYNC POINT: acquire pairs with start()'s release.
    while (!go_wp.wait_for([&] { return go.load(std::memory_order_acquire) >= round; }, std::chrono::seconds(30))) {
    }
  }
  void finish() noexcept {
    // SYNC POINT: release publishes the worker's round of work to the waiter.
    done.fetch_add(1, std::memory_order_release);
    done_wp.notify_all();
  }
  void wait_done(std::uint32_t n) noexcept {
    // SYNC POINT: acquire pairs with finish()'s release.
    while (!done_wp.wait_for([&] { return done.load(std::memory_order_acquire) >= n; }, std::chrono::seconds(30))) {
    }
  }
};

// Runs `work()` in P forked workers once per benchmark iteration; manual time.
template <class Work>
void run_rounds(benchmark::State& st, std::uint64_t items_per_worker, Work work) {
  const int procs = static_cast<int>(st.range(0));
  bench::SharedMemory shm(4096);
  auto* r = shm.make<Rounds>(0);
  std::vector<std::unique_ptr<bench::ForkedPeer>> peers;
  for (int p = 0; p < procs; ++p) {
    peers.push_back(std::make_unique<bench::ForkedPeer>([&, p] {
      for (std::uint32_t round = 1;; ++round) {
        r->wait_start(round);
        work(p);
        r->finish();
      }
    }));
  }
  std::uint32_t round = 0;
  for (auto _ : st) {
    ++round;
    const auto t0 = std::chrono::steady_clock::now();
    r->start();
    r->wait_done(round * static_cast<std::uint32_t>(procs));
    st.SetIterationTime(bench::seconds_since(t0));
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * procs * static_cast<std::int64_t>(items_per_worker));
}

// ---- shared counter -----------------------------------------------------------

void BM_counter_arena(benchmark::State& st) {
  auto arena = sk::alloc::Arena::create_anonymous(1 << 16);
  const auto off = arena.allocate(sizeof(std::atomic<std::uint64_t>), 128);
  auto* c = new (arena.ptr<void>(off)) std::atomic<std::uint64_t>(0);
  run_rounds(st, kIncrements, [c](int) {
    for (std::uint64_t i = 0; i < kIncrements; ++i) c->fetch_add(1, std::memory_order_relaxed);
  });
  if (c->load() != st.iterations() * static_cast<std::uint64_t>(st.range(0)) * kIncrements)
    st.SkipWithError("arena counter total is wrong");
}

void BM_counter_raw(benchmark::State& st) {
  bench::SharedMemory shm(4096);
  auto* c = shm.make<std::atomic<std::uint64_t>>(0, 0);
  run_rounds(st, kIncrements, [c](int) {
    for (std::uint64_t i = 0; i < kIncrements; ++i) c->fetch_add(1, std::memory_order_relaxed);
  });
  if (c->load() != st.iterations() * static_cast<std::uint64_t>(st.range(0)) * kIncrements)
    st.SkipWithError("raw counter total is wrong");
}

struct LockedCounter {
  boost::interprocess::interprocess_mutex m;
  std::uint64_t v = 0;
};

void BM_counter_ipmutex(benchmark::State& st) {
  bench::SharedMemory shm(4096);
  auto* c = shm.make<LockedCounter>(0);
  run_rounds(st, kIncrements, [c](int) {
    for (std::uint64_t i = 0; i < kIncrements; ++i) {
      std::lock_guard<boost::interprocess::interprocess_mutex> g(c->m);
      ++c->v;
    }
  });
  if (c->v != st.iterations() * static_cast<std::uint64_t>(st.range(0)) * kIncrements)
    st.SkipWithError("mutex counter total is wrong");
}

// ---- allocation -----------------------------------------------------------------

template <class Alloc, class Free>
void churn(Alloc&& alloc, Free&& free_) {
  decltype(alloc()) held[8] = {};
  for (int i = 0; i < kAllocs; ++i) {
    auto& slot = held[i & 7];
    if (slot) free_(slot);
    slot = alloc();
  }
  for (auto& h : held)
    if (h) free_(h);
}

void BM_alloc_free_arena(benchmark::State& st) {
  auto arena = sk::alloc::Arena::create_anonymous(16 << 20);
  run_rounds(st, kAllocs, [&arena](int) {
    churn([&] { return arena.allocate(64); }, [&](sk::alloc::Offset o) { arena.deallocate(o, 64); });
  });
}

void BM_alloc_free_boost(benchmark::State& st) {
  bench::SharedMemory shm(16 << 20);
  // The default managed_external_buffer uses null_mutex_family (one process
  // only); the process-shared flavour needs mutex_family.
  using Buffer = boost::interprocess::basic_managed_external_buffer<
      char, boost::interprocess::rbtree_best_fit<boost::interprocess::mutex_family>, boost::interprocess::iset_index>;
  Buffer seg(boost::interprocess::create_only, shm.get(), 16 << 20);
  run_rounds(st, kAllocs, [&seg](int) {
    churn([&] { return seg.allocate(64); }, [&](void* p) { seg.deallocate(p); });
  });
}

void BM_alloc_free_malloc_1proc(benchmark::State& st) {
  for (auto _ : st) {
    churn([] { return std::malloc(64); }, [](void* p) { std::free(p); });
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * kAllocs);
}

void BM_alloc_free_arena_1proc_inline(benchmark::State& st) {
  auto arena = sk::alloc::Arena::create_anonymous(16 << 20);
  for (auto _ : st) {
    churn([&] { return arena.allocate(64); }, [&](sk::alloc::Offset o) { arena.deallocate(o, 64); });
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * kAllocs);
}

}  // namespace

BENCHMARK(BM_counter_arena)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_counter_raw)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_counter_ipmutex)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_alloc_free_arena)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_alloc_free_boost)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_alloc_free_arena_1proc_inline)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_alloc_free_malloc_1proc)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
