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
// BM_alloc_free_mixed_*/procs:P  the same harness with sizes drawn
//   log-uniformly from 16 B to 64 KiB (each process its own seed, holding up
//   to 16 blocks): small lock-free blocks and page-heap runs mixed.
//     arena   sk::alloc::Arena (64 MiB)
//     boost   boost::interprocess::managed_shared_memory (64 MiB, its default
//             allocator: rbtree_best_fit<mutex_family>, one interprocess mutex)
// BM_fragmentation_{arena,boost}  one process, kFragOps random allocate/free
//   operations over sizes 16 B .. 4 MiB (log-uniform) holding about half of a
//   64 MiB segment live (allocate while under half, else free a random one). Counters:
//   failed_allocs, and the largest block that can still be allocated with the
//   live set held, at the end of the run (largest_free_MiB) and the smallest
//   such figure seen at 20 points during the run (largest_free_min_MiB). Both
//   allocators are probed the same way: the largest n whose allocate(n)
//   succeeds (bisection; the probe block is freed again).
//
//   ./bench_alloc_atomic --benchmark_min_time=0.05
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/managed_shared_memory.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <string>
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

// Log-uniform sizes in [16, max_bytes]: a power of two, then a uniform
// offset below the next one.
class SizeDraw {
 public:
  SizeDraw(std::uint64_t seed, std::size_t max_bytes) : rng_(seed), max_(max_bytes) {}
  std::size_t operator()() {
    const int top = std::bit_width(max_) - 1;
    const int e = std::uniform_int_distribution<int>(4, top)(rng_);
    const std::size_t lo = std::size_t{1} << e;
    const std::size_t n = lo + std::uniform_int_distribution<std::size_t>(0, lo - 1)(rng_);
    return n < max_ ? n : max_;
  }
  std::mt19937_64& rng() noexcept { return rng_; }

 private:
  std::mt19937_64 rng_;
  std::size_t max_;
};

constexpr int kMixedAllocs = 1 << 14;

template <class Alloc, class Free>
void churn_mixed(int proc, Alloc&& alloc, Free&& free_) {
  SizeDraw draw(0x5EED + static_cast<std::uint64_t>(proc), 64 << 10);
  struct Held {
    decltype(alloc(std::size_t{})) block{};
    std::size_t bytes = 0;
  } held[16];
  for (int i = 0; i < kMixedAllocs; ++i) {
    auto& h = held[i & 15];
    if (h.bytes != 0) free_(h.block, h.bytes);
    h.bytes = draw();
    h.block = alloc(h.bytes);
  }
  for (auto& h : held)
    if (h.bytes != 0) free_(h.block, h.bytes);
}

void BM_alloc_free_mixed_arena(benchmark::State& st) {
  auto arena = sk::alloc::Arena::create_anonymous(64 << 20);
  run_rounds(st, kMixedAllocs, [&arena](int p) {
    churn_mixed(
        p, [&](std::size_t n) { return arena.allocate(n); },
        [&](sk::alloc::Offset o, std::size_t n) { arena.deallocate(o, n); });
  });
}

// A boost::interprocess::managed_shared_memory segment of its own name in
// /dev/shm, removed again on destruction. Children forked after it map it at
// the same address.
class BoostSegment {
 public:
  explicit BoostSegment(std::size_t bytes)
      : name_("sk-bench-boost-" + std::to_string(::getpid())),
        remove_(name_),
        seg_(boost::interprocess::create_only, name_.c_str(), bytes) {}
  ~BoostSegment() { boost::interprocess::shared_memory_object::remove(name_.c_str()); }
  boost::interprocess::managed_shared_memory& get() noexcept { return seg_; }

 private:
  struct Remove {  // a segment left by a killed earlier run of this pid
    explicit Remove(const std::string& n) { boost::interprocess::shared_memory_object::remove(n.c_str()); }
  };
  std::string name_;
  Remove remove_;
  boost::interprocess::managed_shared_memory seg_;
};

void BM_alloc_free_mixed_boost(benchmark::State& st) {
  BoostSegment shm(64 << 20);
  auto& seg = shm.get();
  run_rounds(st, kMixedAllocs, [&seg](int p) {
    churn_mixed(
        p, [&](std::size_t n) { return seg.allocate(n); }, [&](void* b, std::size_t) { seg.deallocate(b); });
  });
}

constexpr int kFragOps = 1'000'000;
constexpr int kFragProbes = 20;
constexpr std::size_t kFragBytes = 64 << 20;

// The largest n in [0, kFragBytes] for which try_alloc(n) succeeds (the block
// is freed again). Bisection: both allocators answer "fits?" the same way.
template <class TryAlloc>
std::size_t largest_allocatable(TryAlloc&& try_alloc) {
  std::size_t lo = 0, hi = kFragBytes;
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo + 1) / 2;
    if (try_alloc(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

struct FragResult {
  std::int64_t failed = 0;
  std::size_t largest_end = 0;  // largest allocatable block at the end, live set held
  std::size_t largest_min = 0;  // the smallest of the probes during the run
};

// One process. Alloc returns a null handle on failure; probe() answers the
// largest allocatable block now. Frees everything at the end.
template <class Alloc, class Free, class Probe>
FragResult fragment(Alloc&& alloc, Free&& free_, Probe&& probe) {
  SizeDraw draw(0xF4A6, 4 << 20);
  struct Held {
    decltype(alloc(std::size_t{})) block;
    std::size_t bytes;
  };
  std::vector<Held> held;
  std::size_t live = 0;
  FragResult r;
  r.largest_min = kFragBytes;
  for (int i = 0; i < kFragOps; ++i) {
    if (live < kFragBytes / 2 || held.empty()) {
      const std::size_t n = draw();
      const auto b = alloc(n);
      if (!b) {
        ++r.failed;
        continue;
      }
      held.push_back({b, n});
      live += n;
    } else {
      const std::size_t k = std::uniform_int_distribution<std::size_t>(0, held.size() - 1)(draw.rng());
      free_(held[k].block, held[k].bytes);
      live -= held[k].bytes;
      held[k] = held.back();
      held.pop_back();
    }
    if ((i + 1) % (kFragOps / kFragProbes) == 0) r.largest_min = std::min(r.largest_min, probe());
  }
  r.largest_end = probe();
  for (auto& h : held) free_(h.block, h.bytes);
  return r;
}

void report(benchmark::State& st, const FragResult& r) {
  st.counters["failed_allocs"] = static_cast<double>(r.failed);
  st.counters["largest_free_MiB"] = static_cast<double>(r.largest_end) / (1 << 20);
  st.counters["largest_free_min_MiB"] = static_cast<double>(r.largest_min) / (1 << 20);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * kFragOps);
}

void BM_fragmentation_arena(benchmark::State& st) {
  FragResult r;
  for (auto _ : st) {
    auto arena = sk::alloc::Arena::create_anonymous(kFragBytes);
    // Offsets: 0 never names a block (the header is there).
    auto alloc = [&](std::size_t n) -> sk::alloc::Offset {
      try {
        return arena.allocate(n);
      } catch (const sk::alloc::ArenaFull&) {
        return 0;
      }
    };
    r = fragment(
        alloc, [&](sk::alloc::Offset o, std::size_t n) { arena.deallocate(o, n); },
        [&] {
          return largest_allocatable([&](std::size_t n) {
            const sk::alloc::Offset o = alloc(n);
            if (o != 0) arena.deallocate(o, n);
            return o != 0;
          });
        });
  }
  report(st, r);
}

void BM_fragmentation_boost(benchmark::State& st) {
  FragResult r;
  for (auto _ : st) {
    BoostSegment shm(kFragBytes);
    auto& seg = shm.get();
    auto alloc = [&](std::size_t n) { return seg.allocate(n, std::nothrow); };
    r = fragment(
        alloc, [&](void* b, std::size_t) { seg.deallocate(b); },
        [&] {
          return largest_allocatable([&](std::size_t n) {
            void* b = alloc(n);
            if (b != nullptr) seg.deallocate(b);
            return b != nullptr;
          });
        });
  }
  report(st, r);
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
BENCHMARK(BM_alloc_free_mixed_arena)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_alloc_free_mixed_boost)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_fragmentation_arena)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_fragmentation_boost)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_alloc_free_arena_1proc_inline)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_alloc_free_malloc_1proc)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
