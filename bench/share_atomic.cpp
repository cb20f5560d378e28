// Share slots across processes.
//
// BM_atomic_{sk,raw}/procs:P      P forked processes each add 1 to ONE shared
//   long kIncrements times per iteration (manual time: start signal -> all
//   done). sk = sk::Atomic<long> in a Share (`a += 1`: one lock xadd);
//   raw = std::atomic<long>::fetch_add in plain MAP_SHARED memory.
// BM_counter_sk/procs:P            the same with sk::Counter<long> (striped).
// BM_value_{load,store}_{sk,ipmutex}/writer:W   64-byte value; this process
//   loads (or stores) while W other processes store in a loop. ipmutex = the
//   value under boost::interprocess::interprocess_mutex in MAP_SHARED memory.
// BM_shared_call/procs:P           Shared<Account>::call<&Account::deposit>
//   (locks 2 fields, publishes them as one transaction) by P processes.
// BM_uncontended_{value_store,shared_call,list_append}  one process, no fork,
//   kUncontended operations in a loop: the hot paths that write an owner id
//   (Value's seqlock tag, Shared's field locks, List's append slot), alone.
//   Used to compare builds (e.g. before and after a change of owner ids).
//
//   ./bench_share_atomic --benchmark_min_time=0.05
#include <benchmark/benchmark.h>

#include <atomic>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <procs_args.hpp>
#include <sk/core/futex.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/counter.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/shared.hpp>
#include <sk/slots/value.hpp>

#include "baselines/fork_peer.hpp"
#include "baselines/locked_value.hpp"

namespace {

constexpr long kIncrements = 1 << 18;
constexpr long kCalls = 1 << 14;
constexpr long kUncontended = 2'000'000;

struct Payload {
  long words[8];
};

class Account {
 public:
  void deposit(long v) {
    balance += v;
    ++ops;
  }

 private:
  long balance = 0;
  long ops = 0;
  SK_SHARED_FIELDS(Account, balance, ops);
};
SK_SHARED_METHOD(Account, deposit, writes(balance, ops), reads(balance, ops));

// The start gate and the done count live in the Share too (parking waits,
// so idle workers leave the 2 cores to the measured ones).
struct BenchState {
  sk::Atomic<long> atomic;
  sk::Counter<long> counter;
  sk::Value<Payload> value;
  sk::Shared<Account> account;
  sk::Atomic<std::uint32_t> go;
  sk::Atomic<std::uint32_t> done;
  sk::Atomic<long> stop;
};
SK_SHARE(BenchState, atomic, counter, value, account, go, done, stop);

struct Gate {  // process-shared WaitPoints for go/done (in MAP_SHARED memory)
  sk::core::WaitPoint go_wp;
  sk::core::WaitPoint done_wp;
};

// P workers run work(p) once per benchmark iteration; manual time per round.
template <class Work>
void rounds(benchmark::State& st, sk::Share<BenchState> share, long items_per_worker, Work work) {
  const int procs = static_cast<int>(st.range(0));
  bench::SharedMemory shm(4096);
  auto* gate = shm.make<Gate>(0);
  share->go = 0;
  share->done = 0;
  std::vector<std::unique_ptr<bench::ForkedPeer>> peers;
  for (int p = 0; p < procs; ++p)
    peers.push_back(std::make_unique<bench::ForkedPeer>([&, p] {
      for (std::uint32_t round = 1;; ++round) {
        while (!gate->go_wp.wait_for([&] { return share->go.load() >= round; }, std::chrono::seconds(30))) {
        }
        work(p);
        share->done += 1;
        gate->done_wp.notify_all();
      }
    }));
  std::uint32_t round = 0;
  for (auto _ : st) {
    ++round;
    const auto t0 = std::chrono::steady_clock::now();
    share->go = round;
    gate->go_wp.notify_all();
    const auto want = round * static_cast<std::uint32_t>(procs);
    while (!gate->done_wp.wait_for([&] { return share->done.load() >= want; }, std::chrono::seconds(30))) {
    }
    st.SetIterationTime(bench::seconds_since(t0));
  }
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * procs * items_per_worker);
}

void BM_atomic_sk(benchmark::State& st) {
  sk::Share<BenchState> share(1 << 20);
  rounds(st, share, kIncrements, [share](int) {
    for (long i = 0; i < kIncrements; ++i) share->atomic += 1;
  });
  if (share->atomic.load() != static_cast<long>(st.iterations()) * st.range(0) * kIncrements)
    st.SkipWithError("sk::Atomic total is wrong");
}

void BM_atomic_raw(benchmark::State& st) {
  sk::Share<BenchState> share(1 << 20);  // only for the gate
  bench::SharedMemory shm(4096);
  auto* c = shm.make<std::atomic<long>>(0, 0);
  rounds(st, share, kIncrements, [c](int) {
    for (long i = 0; i < kIncrements; ++i) c->fetch_add(1);
  });
  if (c->load() != static_cast<long>(st.iterations()) * st.range(0) * kIncrements)
    st.SkipWithError("raw total is wrong");
}

void BM_counter_sk(benchmark::State& st) {
  sk::Share<BenchState> share(1 << 20);
  rounds(st, share, kIncrements, [share](int) {
    for (long i = 0; i < kIncrements; ++i) share->counter += 1;
  });
  if (share->counter.load() != static_cast<long>(st.iterations()) * st.range(0) * kIncrements)
    st.SkipWithError("sk::Counter total is wrong");
}

void BM_shared_call(benchmark::State& st) {
  sk::Share<BenchState> share(1 << 20);
  rounds(st, share, kCalls, [share](int) {
    for (long i = 0; i < kCalls; ++i) share->account.call<&Account::deposit>(1);
  });
}

// ---- uncontended owner-word writers ----------------------------------------------

// These rows have a Share and a payload type of their own, so adding them left
// the rows above and below as they were. With a 10 KiB List in BenchState and
// a third caller of Value<Payload>::store (which GCC then stopped inlining),
// BM_value_store_sk measured 14 ns instead of 12 uncontended and 85-95 ns
// instead of 41-44 under a writer process, with the same library code.
struct OwnPayload {
  long words[8];
};
struct UncontendedState {
  sk::Value<OwnPayload> value;
  sk::Shared<Account> account;
  sk::List<int> list;
};
SK_SHARE(UncontendedState, value, account, list);

void BM_uncontended_value_store(benchmark::State& st) {
  sk::Share<UncontendedState> share(1 << 20);
  OwnPayload p{};
  long i = 0;
  for (auto _ : st) {
    p.words[0] = ++i;
    share->value.store(p);
  }
  if (share->value.load().words[0] != i) st.SkipWithError("Value lost a store");
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

void BM_uncontended_shared_call(benchmark::State& st) {
  sk::Share<UncontendedState> share(1 << 20);
  for (auto _ : st) share->account.call<&Account::deposit>(1);
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

void BM_uncontended_list_append(benchmark::State& st) {
  sk::Share<UncontendedState> share(std::size_t{256} << 20);  // kUncontended ints, chunks included
  int i = 0;
  for (auto _ : st) share->list.append(i++);
  if (share->list.size() != static_cast<std::size_t>(i)) st.SkipWithError("List lost an append");
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

// ---- Value under writers -------------------------------------------------------

template <class Op>
void with_writers(benchmark::State& st, sk::Share<BenchState> share, Op op) {
  std::vector<std::unique_ptr<bench::ForkedPeer>> writers;
  for (int w = 0; w < st.range(0); ++w)
    writers.push_back(std::make_unique<bench::ForkedPeer>([share] {
      Payload p{};
      for (long i = 0;; ++i) {
        p.words[0] = i;
        share->value.store(p);
      }
    }));
  for (auto _ : st) op();
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}

void BM_value_load_sk(benchmark::State& st) {
  sk::Share<BenchState> share(1 << 20);
  with_writers(st, share, [&] { benchmark::DoNotOptimize(share->value.load()); });
}
void BM_value_store_sk(benchmark::State& st) {
  sk::Share<BenchState> share(1 << 20);
  Payload p{};
  with_writers(st, share, [&] { share->value.store(p); });
}

using IpValue = bench::LockedValue<Payload, boost::interprocess::interprocess_mutex>;
template <class Op>
void with_ip_writers(benchmark::State& st, IpValue* v, Op op) {
  std::vector<std::unique_ptr<bench::ForkedPeer>> writers;
  for (int w = 0; w < st.range(0); ++w)
    writers.push_back(std::make_unique<bench::ForkedPeer>([v] {
      Payload p{};
      for (long i = 0;; ++i) {
        p.words[0] = i;
        v->store(p);
      }
    }));
  for (auto _ : st) op();
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()));
}
void BM_value_load_ipmutex(benchmark::State& st) {
  bench::SharedMemory shm(4096);
  auto* v = shm.make<IpValue>(0);
  with_ip_writers(st, v, [&] { benchmark::DoNotOptimize(v->load()); });
}
void BM_value_store_ipmutex(benchmark::State& st) {
  bench::SharedMemory shm(4096);
  auto* v = shm.make<IpValue>(0);
  Payload p{};
  with_ip_writers(st, v, [&] { v->store(p); });
}

}  // namespace

BENCHMARK(BM_atomic_sk)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_atomic_raw)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_counter_sk)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_shared_call)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_uncontended_value_store)->Iterations(kUncontended);
BENCHMARK(BM_uncontended_shared_call)->Iterations(kUncontended);
BENCHMARK(BM_uncontended_list_append)->Iterations(kUncontended);
BENCHMARK(BM_value_load_sk)->ArgName("writers")->Arg(0)->Arg(1);
BENCHMARK(BM_value_load_ipmutex)->ArgName("writers")->Arg(0)->Arg(1);
BENCHMARK(BM_value_store_sk)->ArgName("writers")->Arg(0)->Arg(1);
BENCHMARK(BM_value_store_ipmutex)->ArgName("writers")->Arg(0)->Arg(1);

BENCHMARK_MAIN();
