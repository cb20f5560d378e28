// sk::mpi::Pool against the local sk::Pool on the same machine and against a
// hand-written MPI_Scatter / MPI_Gather of the same work, in the same run.
//
//   mpirun -np 4 --oversubscribe --mca btl self,tcp -x SK_MPI_EVERY_RANK_A_NODE=1 bench_mpi_pool
//   (scripts/bench runs it that way; as root add --allow-run-as-root)
//
// With 4 ranks, each its own node (TCP between them), every benchmark runs
// at 1, 2 and 4 ranks: the MPI Pool restricted to that many nodes with one
// local worker each, the local Pool with that many persistent workers, and
// Scatter/Gather over the first that-many ranks, each rank computing its
// block. Two workloads:
//   items/s    8,192 items of ~4 us of arithmetic each (the work is real:
//              results are checked against a serial run);
//   per call   one trivial item per rank: the fixed cost of a call.
// The Scatter/Gather baselines run first, while the other ranks follow rank
// 0's broadcasts; the Pool benchmarks then hand those ranks to the session.
#include <benchmark/benchmark.h>
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <vector>

#include <sk/mpi.hpp>
#include <sk/pool.hpp>

namespace {

constexpr std::int64_t kItems = 8192;
constexpr int kWorkIters = 2000;  // ~4 us of dependent multiply-adds

std::uint64_t work(std::uint64_t x, int iters) {
  for (int i = 0; i < iters; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

struct Work {  // travels as its bytes
  int iters = kWorkIters;
  std::uint64_t operator()(std::uint64_t x) const { return work(x, iters); }
};

sk::mpi::Session* g_session = nullptr;
std::map<int, MPI_Comm> g_comms;  // the first k ranks, for k = 1, 2, 4
bool g_serving = false;

enum Cmd : long long { kScatter = 1, kServe = 2 };

// Rank 0 and the followers meet in this broadcast before every baseline round.
void command(long long cmd, long long ranks, long long items, long long iters) {
  long long c[4] = {cmd, ranks, items, iters};
  MPI_Bcast(c, 4, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
}

// One Scatter / compute / Gather round over the first `ranks` ranks.
void scatter_gather(MPI_Comm comm, int ranks, std::int64_t items, int iters, const std::vector<std::uint64_t>& in,
                    std::vector<std::uint64_t>& out) {
  const std::int64_t per = items / ranks;
  std::vector<std::uint64_t> mine(static_cast<std::size_t>(per));
  MPI_Scatter(in.data(), static_cast<int>(per), MPI_UINT64_T, mine.data(), static_cast<int>(per), MPI_UINT64_T, 0,
              comm);
  for (auto& x : mine) x = work(x, iters);
  MPI_Gather(mine.data(), static_cast<int>(per), MPI_UINT64_T, out.data(), static_cast<int>(per), MPI_UINT64_T, 0,
             comm);
}

void follower() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::vector<std::uint64_t> none;
  for (;;) {
    long long c[4];
    MPI_Bcast(c, 4, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    if (c[0] == kServe) return;
    if (rank < c[1]) scatter_gather(g_comms.at(static_cast<int>(c[1])), static_cast<int>(c[1]), c[2],
                                    static_cast<int>(c[3]), none, none);
  }
}

void serve_from_now_on() {
  if (g_serving) return;
  g_serving = true;
  command(kServe, 0, 0, 0);
}

std::vector<std::uint64_t> inputs(std::int64_t n) {
  std::vector<std::uint64_t> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), std::uint64_t{1});
  return v;
}

void check(const std::vector<std::uint64_t>& in, const std::vector<std::uint64_t>& out, int iters,
           benchmark::State& state) {
  if (out.size() != in.size()) return state.SkipWithError("wrong number of results");
  for (std::size_t i = 0; i < in.size(); i += 97)
    if (out[i] != work(in[i], iters)) return state.SkipWithError("wrong result");
}

// ---- baseline: hand-written MPI_Scatter / MPI_Gather -------------------------

void BM_mpi_scatter_gather(benchmark::State& state) {
  const int ranks = static_cast<int>(state.range(0));
  const std::int64_t n = state.range(1) == 0 ? ranks : kItems;
  const int iters = state.range(1) == 0 ? 1 : kWorkIters;
  if (g_serving) return state.SkipWithError("the ranks already serve the session (run the baselines first)");
  if (ranks > g_session->size()) return state.SkipWithError("not enough ranks (mpirun -np 4)");
  const auto in = inputs(n);
  std::vector<std::uint64_t> out(in.size());
  for (auto _ : state) {
    command(kScatter, ranks, n, iters);
    scatter_gather(g_comms.at(ranks), ranks, n, iters, in, out);
  }
  check(in, out, iters, state);
  state.SetItemsProcessed(state.iterations() * n);
}

// ---- sk::mpi::Pool over `ranks` nodes, one worker each -----------------------

sk::mpi::Pool& mpi_pool(int nodes) {
  static std::map<int, std::unique_ptr<sk::mpi::Pool>> pools;
  auto& p = pools[nodes];
  if (!p) {
    sk::mpi::PoolOptions o;
    o.max_nodes = static_cast<unsigned>(nodes);
    o.workers_per_node = 1;
    p = std::make_unique<sk::mpi::Pool>(*g_session, o);
  }
  return *p;
}

void BM_mpi_pool_map(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  const std::int64_t n = state.range(1) == 0 ? nodes : kItems;
  const int iters = state.range(1) == 0 ? 1 : kWorkIters;
  if (nodes > g_session->size()) return state.SkipWithError("not enough ranks (mpirun -np 4)");
  serve_from_now_on();
  auto& pool = mpi_pool(nodes);
  if (pool.nodes() != static_cast<unsigned>(nodes)) return state.SkipWithError("the pool did not get its nodes");
  const auto in = inputs(n);
  std::vector<std::uint64_t> out;
  for (auto _ : state) out = pool.map(Work{iters}, in);
  check(in, out, iters, state);
  const auto st = pool.last_stats();
  state.counters["chunks"] = static_cast<double>(st.chunks);
  state.counters["steals"] = static_cast<double>(st.steals);
  state.SetItemsProcessed(state.iterations() * n);
}

// ---- the local Pool (persistent workers, as on every node) -------------------

void BM_local_pool_map(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  const std::int64_t n = state.range(1) == 0 ? workers : kItems;
  const int iters = state.range(1) == 0 ? 1 : kWorkIters;
  serve_from_now_on();  // the other ranks stop following broadcasts: they idle in the session
  static std::map<int, std::unique_ptr<sk::Pool>> pools;
  auto& pool = pools[workers];
  if (!pool) pool = std::make_unique<sk::Pool>(static_cast<unsigned>(workers), sk::persistent);
  const auto in = inputs(n);
  std::vector<std::uint64_t> out;
  for (auto _ : state) out = pool->map(Work{iters}, in);
  check(in, out, iters, state);
  state.SetItemsProcessed(state.iterations() * n);
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"ranks", "items"});
  for (int k : {1, 2, 4}) b->Args({k, kItems});
  for (int k : {1, 2, 4}) b->Args({k, 0});  // items 0 = one trivial item per rank: per-call overhead
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

// Registration order is run order: the baselines need the followers first.
BENCHMARK(BM_mpi_scatter_gather)->Apply(args);
BENCHMARK(BM_mpi_pool_map)->Apply(args);
BENCHMARK(BM_local_pool_map)->Apply(args);

}  // namespace

int main(int argc, char** argv) {
  sk::mpi::Session session(argc, argv, sk::mpi::serve_later);
  g_session = &session;
  int rank = session.rank();
  for (int k : {1, 2, 4}) {
    MPI_Comm c = MPI_COMM_NULL;
    MPI_Comm_split(MPI_COMM_WORLD, rank < k ? 0 : MPI_UNDEFINED, rank, &c);
    g_comms[k] = c;
  }
  if (rank != 0) {
    follower();
    session.serve();  // does not return
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    serve_from_now_on();
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  serve_from_now_on();
  benchmark::Shutdown();
  return 0;
}
