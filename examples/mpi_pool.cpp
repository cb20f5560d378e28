// The same Pool across machines: sk::mpi::Pool over the nodes of an MPI job.
//
//   mpirun -np 4 build/default/components/mpi/ex_mpi_pool
//
// (one rank per machine in a real job: mpirun --map-by ppr:1:node; on one
// machine SK_MPI_EVERY_RANK_A_NODE=1 makes every rank a node of its own.)
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <sk/mpi.hpp>

struct Tally : sk::Skprocess<long> {  // a Skprocess class as the item
  explicit Tally(int n) : n_(n) { config.runs = 3; }
  void run() override { sum_ += n_; }
  long result() override { return sum_; }
  int n_;
  long sum_ = 0;
};

int main(int argc, char** argv) {
  sk::mpi::Session session(argc, argv);  // ranks other than 0 serve in here until rank 0 ends
  sk::mpi::Pool pool(session);
  std::printf("%zu nodes, %u workers in all\n", session.nodes().size(), pool.workers());

  std::vector<int> items(10000);
  std::iota(items.begin(), items.end(), 0);
  const int k = 3;
  auto scaled = pool.map([k](int x) { return x * k; }, items);  // captures travel as bytes
  std::printf("map: scaled[9999] = %d\n", scaled.back());

  std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
  auto sums = pool.star().map([](int a, int b) { return a + b; }, pairs);
  std::printf("star: %d %d %d\n", sums[0], sums[1], sums[2]);

  auto tallies = pool.map<Tally>(std::vector<int>{1, 2, 3});
  std::printf("Skprocess items: %ld %ld %ld\n", tallies[0], tallies[1], tallies[2]);

  const std::string prefix = "item-";
  auto names = pool.map(sk::mpi::bind([](const std::string& p, int x) { return p + std::to_string(x); }, prefix),
                        std::vector<int>{7, 8});
  std::printf("bind: %s %s\n", names[0].c_str(), names[1].c_str());

  try {
    pool.map([](int x) { return x == 4242 ? throw std::runtime_error("bad item") : x; }, items);
  } catch (const sk::ItemError& e) {
    std::printf("error: item %zu raised %s on rank %d (%s)\n", e.index(), e.type_name().c_str(), e.rank(),
                e.host().c_str());
  }
  const auto s = pool.last_stats();
  std::printf("last call: %llu chunks, %llu steals\n", static_cast<unsigned long long>(s.chunks),
              static_cast<unsigned long long>(s.steals));
  return 0;
}
