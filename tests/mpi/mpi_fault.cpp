// Faults across ranks (Open MPI 4.1, no ULFM): a rank SIGKILLed in the middle
// of a map ends the map with sk::mpi::RankLost naming the rank and its items
// within the stated bound (lost_after + one heartbeat period + 1 s of slack
// for a loaded machine), the pool goes on with the other nodes, and the job
// ends with nothing left behind (tests/mpi/mpirun_test.sh checks that).
//
// CTest runs it three ways (mpi/CMakeLists.txt):
//  - with mpirun --enable-recovery: every test here;
//  - without it: Open MPI ends the whole job when the rank dies; the job must
//    end (status != 0) and leave nothing behind;
//  - DISABLED_rank_0_killed_mid_map, with --enable-recovery: the serving
//    ranks notice that rank 0 is gone and exit.
#include <gtest/gtest.h>

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <sk/mpi.hpp>

using namespace std::chrono_literals;

namespace {

sk::mpi::Session* g_session = nullptr;
constexpr auto kLostAfter = 1000ms;

std::int64_t monotonic_ns() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);  // system-wide: the same clock in every rank of this machine
  return std::int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

int my_rank() {
  const char* r = std::getenv("OMPI_COMM_WORLD_RANK");  // set by mpirun in every rank (and its forks)
  return r ? std::atoi(r) : -1;
}

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// An item that, run on `victim` after `at_ns`, SIGKILLs that rank (its
// local Pool worker's parent); every item takes about 4 ms.
struct KillRank {
  int victim = 2;
  std::int64_t at_ns = 0;
  int operator()(int x) const {
    if (my_rank() == victim && monotonic_ns() >= at_ns) kill(getppid(), SIGKILL);
    std::this_thread::sleep_for(4ms);
    return x * 3;
  }
};

}  // namespace

TEST(MpiFault, rank_killed_mid_map) {
  if (g_session->size() < 3) GTEST_SKIP() << "needs 3 ranks or more";
  sk::mpi::Pool pool(*g_session);
  ASSERT_EQ(pool.nodes(), static_cast<unsigned>(g_session->size()));
  const auto items = iota_vec(4000);  // ~4 s of work per node at 1 worker: the kill lands mid-map
  const KillRank k{2, monotonic_ns() + 400'000'000};
  const auto beat = std::max(kLostAfter / 5, std::chrono::milliseconds(10));
  const auto bound = kLostAfter + beat + 1s;
  try {
    pool.map(k, items);
    FAIL() << "no exception";
  } catch (const sk::mpi::RankLost& e) {
    const auto caught = monotonic_ns();
    EXPECT_EQ(e.rank(), 2);
    EXPECT_EQ(e.host(), g_session->nodes()[2].host);
    ASSERT_FALSE(e.items().empty());
    for (const auto& r : e.items()) {
      EXPECT_LT(r.begin, r.end);
      EXPECT_LE(r.end, items.size());
    }
    const std::string w = e.what();
    EXPECT_NE(w.find("lost rank 2"), std::string::npos) << w;
    const auto took = std::chrono::nanoseconds(caught - k.at_ns);
    EXPECT_LT(took, bound) << "RankLost came " << std::chrono::duration<double>(took).count()
                           << " s after the kill; the bound is "
                           << std::chrono::duration<double>(bound).count() << " s";
    std::printf("RankLost %.3f s after the kill (bound %.3f s): %s\n", std::chrono::duration<double>(took).count(),
                std::chrono::duration<double>(bound).count(), w.c_str());
  }
  // The pool goes on with the nodes it has left; the dead one gets nothing.
  auto twice = [](int x) { return 2 * x; };
  const auto out = pool.map(twice, iota_vec(3000));
  ASSERT_EQ(out.size(), 3000u);
  for (int i = 0; i < 3000; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], 2 * i);
  const auto st = pool.last_stats();
  EXPECT_EQ(st.items_per_node[2], 0u);
  EXPECT_EQ(st.items, 3000u);
  // So does a new pool: it opens on the living nodes only.
  sk::mpi::Pool again(*g_session);
  EXPECT_EQ(again.nodes(), static_cast<unsigned>(g_session->size() - 1));
  EXPECT_EQ(again.unordered_map(twice, iota_vec(100)).size(), 100u);
}

TEST(MpiFault, DISABLED_rank_0_killed_mid_map) {
  sk::mpi::Pool pool(*g_session);
  auto slow = [](int x) {
    std::this_thread::sleep_for(5ms);
    return x;
  };
  auto fut = pool.background().map(slow, iota_vec(10000));
  std::this_thread::sleep_for(300ms);
  std::fflush(nullptr);
  raise(SIGKILL);  // the other ranks must notice within lost_after and exit
}

int main(int argc, char** argv) {
  sk::mpi::SessionOptions o;
  o.lost_after = kLostAfter;
  sk::mpi::Session session(argc, argv, o);
  g_session = &session;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
