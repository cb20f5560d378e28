// sk::mpi::Pool against the local sk::Pool: every flavour and modifier on the
// same inputs gives the same results (0 and 100,000 items, strings, star,
// Skprocess classes, skewed costs), and errors arrive as the local Pool's
// exceptions plus the rank and host. Run under mpirun by CTest
// (tests/mpi/mpirun_test.sh) with -np 1, 2 and 4, every rank its own node
// (SK_MPI_EVERY_RANK_A_NODE=1). Only rank 0 runs the tests; the other ranks
// serve inside the Session constructor.
#include <gtest/gtest.h>

#include <dirent.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <list>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <sk/mpi.hpp>

#include "pool_process_classes.hpp"

using namespace std::chrono_literals;

namespace {

sk::mpi::Session* g_session = nullptr;

// One pool for most tests (opening one forks every node's local workers).
sk::mpi::Pool& pool() {
  static sk::mpi::Pool p(*g_session);
  return p;
}
// The reference: the local Pool, in this process.
sk::Pool& local() {
  static sk::Pool p(2);
  return p;
}

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

template <class T>
std::vector<T> sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Busy for about `us` microseconds of this thread's CPU time.
void spin_us(long us) {
  timespec t0{}, t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  do {
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < us);
}

int leader_index(int rank) {
  const auto& ns = g_session->nodes();
  for (std::size_t i = 0; i < ns.size(); ++i)
    if (ns[i].leader == rank) return static_cast<int>(i);
  return -1;
}

struct Scale {  // a trivially copyable function object: travels as its bytes
  long k = 3;
  long operator()(int x) const { return k * x + 1; }
};

struct Labeler {  // a function object whose state needs sk::ser
  std::string prefix;
  std::vector<int> weights;
  std::string operator()(int x) const {
    return prefix + std::to_string(x * weights[static_cast<std::size_t>(x) % weights.size()]);
  }
  SK_FIELDS(prefix, weights)
};

}  // namespace

TEST(MpiPool, session_sees_every_rank_as_a_node) {
  ASSERT_EQ(g_session->rank(), 0);
  EXPECT_TRUE(g_session->every_rank_a_node());
  EXPECT_EQ(static_cast<int>(g_session->nodes().size()), g_session->size());
  for (const auto& n : g_session->nodes()) {
    EXPECT_FALSE(n.host.empty());
    EXPECT_EQ(n.ranks, 1);
  }
  EXPECT_EQ(pool().nodes(), static_cast<unsigned>(g_session->size()));
  EXPECT_GE(pool().workers(), pool().nodes());
}

TEST(MpiPool, every_flavour_and_modifier_matches_the_local_pool) {
  const auto items = iota_vec(3000);
  const int k = 7;
  auto fn = [k](int x) { return static_cast<long>(x) * x + k; };
  const auto want = local().map(fn, items);
  ASSERT_EQ(want.size(), items.size());

  EXPECT_EQ(pool().map(fn, items), want);
  EXPECT_EQ(sorted(pool().unordered_map(fn, items)), sorted(local().unordered_map(fn, items)));
  EXPECT_EQ(pool().imap(fn, items).collect(), want);
  EXPECT_EQ(sorted(pool().unordered_imap(fn, items).collect()), sorted(want));
  // Modifiers, alone and chained.
  EXPECT_EQ(pool().background().map(fn, items).get(), want);
  EXPECT_EQ(sk::sync_wait(pool().asynced().map(fn, items)), want);
  EXPECT_EQ(pool().background().imap(fn, items).get(), want);
  EXPECT_EQ(sorted(sk::sync_wait(pool().asynced().unordered_imap(fn, items))), sorted(want));
  EXPECT_EQ(pool().timeout(30s).retries(2).map(fn, items), want);
  EXPECT_EQ(pool().retries(0).timeout(30s).background().unordered_map(fn, items).get().size(), items.size());
  // Callables of every kind that can cross ranks.
  EXPECT_EQ(pool().map(Scale{5}, items), local().map(Scale{5}, items));
  const Labeler lab{"w", {1, 2, 3}};
  EXPECT_EQ(pool().map(lab, items), local().map(lab, items));
  const std::string prefix = "item-";
  auto bound = sk::mpi::bind([](const std::string& p, int x) { return p + std::to_string(x); }, prefix);
  EXPECT_EQ(pool().map(bound, items)[2999], "item-2999");
  // A range that is not random access is copied first, as locally.
  const std::list<int> lst(items.begin(), items.begin() + 100);
  EXPECT_EQ(pool().map(fn, lst), local().map(fn, lst));
  // void results are std::monostate.
  EXPECT_EQ(pool().map([](int) {}, items).size(), items.size());
}

TEST(MpiPool, zero_items_every_flavour_is_empty) {
  const std::vector<int> none;
  auto fn = [](int x) { return x + 1; };
  EXPECT_TRUE(pool().map(fn, none).empty());
  EXPECT_TRUE(pool().unordered_map(fn, none).empty());
  EXPECT_TRUE(pool().imap(fn, none).collect().empty());
  EXPECT_TRUE(pool().unordered_imap(fn, none).collect().empty());
  EXPECT_TRUE(pool().background().map(fn, none).get().empty());
  EXPECT_TRUE(sk::sync_wait(pool().asynced().imap(fn, none)).empty());
  EXPECT_TRUE(pool().star().map([](int a, int b) { return a + b; }, std::vector<std::pair<int, int>>{}).empty());
  EXPECT_TRUE(pool().map<Doubler>(std::vector<int>{}).empty());
}

TEST(MpiPool, hundred_thousand_items_in_few_chunks_every_flavour) {
  const auto items = iota_vec(100000);
  auto fn = [](int x) { return static_cast<std::uint64_t>(x) * 2654435761u; };
  const auto want = local().map(fn, items);
  EXPECT_EQ(pool().map(fn, items), want);
  const auto st = pool().last_stats();
  EXPECT_EQ(st.items, items.size());
  // Ranges travel in chunks, never item by item: a few dozen messages per node.
  EXPECT_LT(st.chunks, 100u * pool().nodes());
  std::uint64_t sum = 0;
  int nodes_used = 0;
  for (auto c : st.items_per_node) {
    sum += c;
    nodes_used += c > 0;
  }
  EXPECT_EQ(sum, items.size());
  if (pool().nodes() > 1) {
    EXPECT_GT(nodes_used, 1);
  }
  EXPECT_EQ(sorted(pool().unordered_map(fn, items)), sorted(want));
  EXPECT_EQ(pool().imap(fn, items).collect(), want);
  EXPECT_EQ(sorted(pool().unordered_imap(fn, items).collect()), sorted(want));
  // Serialized items and results (not trivially copyable) take the other path.
  std::vector<std::string> words;
  for (int i = 0; i < 100000; ++i) words.push_back("w" + std::to_string(i));
  auto up = [](const std::string& s) { return s + "/" + std::to_string(s.size()); };
  EXPECT_EQ(pool().map(up, words), local().map(up, words));
}

TEST(MpiPool, chunk_size_grows_with_cheap_items) {
  // 10,000 items of ~40 us: a node's first chunks hold one item per worker,
  // later ones grow toward the 20 ms target (about 500 items at 40 us).
  const auto items = iota_vec(10000);
  auto fn = [](int x) {
    spin_us(40);
    return x;
  };
  EXPECT_EQ(pool().map(fn, items), items);
  const auto st = pool().last_stats();
  std::uint64_t largest = 0;
  for (auto c : st.largest_chunk) largest = std::max(largest, c);
  EXPECT_GT(largest, 16u);
  EXPECT_LT(st.chunks, 2000u);
}

TEST(MpiPool, chunk_overhead_is_fitted_apart_from_item_cost) {
  // A function object whose state is not trivially copyable runs on each
  // node's fork-per-call local Pool: every chunk pays forks (~1 ms or more),
  // far above this pool's 1 ms chunk_target. Taken for item cost, that
  // overhead would keep chunks at one item per worker (thousands of chunks,
  // each paying its forks); fitted apart, chunks grow until it is a small
  // part of each.
  sk::mpi::PoolOptions o;
  o.chunk_target = 1ms;
  sk::mpi::Pool p(*g_session, o);
  const Labeler lab{"n", {2, 3}};
  const auto items = iota_vec(4000);
  EXPECT_EQ(p.map(lab, items), local().map(lab, items));
  const auto st = p.last_stats();
  std::uint64_t largest = 0;
  for (auto c : st.largest_chunk) largest = std::max(largest, c);
  EXPECT_LT(st.chunks, 40u * p.nodes()) << "largest chunk " << largest;
  EXPECT_GT(largest, 64u);
}

TEST(MpiPool, star_unpacks_pairs_and_tuples) {
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < 500; ++i) pairs.emplace_back(i, 2 * i);
  auto add = [](int a, int b) { return a + b; };
  EXPECT_EQ(pool().star().map(add, pairs), local().star().map(add, pairs));
  std::vector<std::tuple<int, std::string, double>> triples{{1, "a", 0.5}, {2, "b", 1.5}};
  auto fmt = [](int i, const std::string& s, double d) { return s + std::to_string(i) + std::to_string(d); };
  EXPECT_EQ(pool().star().map(fmt, triples), local().star().map(fmt, triples));
  EXPECT_EQ(sorted(pool().star().unordered_imap(add, pairs).collect()), sorted(local().star().map(add, pairs)));
  // A non-tuple item is passed as is.
  EXPECT_EQ(pool().star().map([](int x) { return x * 3; }, iota_vec(5)), (std::vector<int>{0, 3, 6, 9, 12}));
}

TEST(MpiPool, skewed_costs_are_balanced_by_stealing) {
  // The first 40 items (all in rank 0's initial range) cost 100x the others.
  const auto items = iota_vec(400);
  auto fn = [](int x) {
    spin_us(x < 40 ? 5000 : 50);
    return x * 2;
  };
  EXPECT_EQ(pool().map(fn, items), local().map(fn, items));
  const auto st = pool().last_stats();
  if (pool().nodes() > 1) {
    EXPECT_GT(st.steals, 0u);
    int nodes_used = 0;
    for (auto c : st.items_per_node) nodes_used += c > 0;
    EXPECT_EQ(nodes_used, static_cast<int>(pool().nodes()));
  }
  EXPECT_EQ(sorted(pool().unordered_map(fn, items)), sorted(local().map(fn, items)));
}

TEST(MpiPool, item_exception_arrives_as_item_error_with_rank_and_host) {
  const auto items = iota_vec(1000);
  auto fn = [](int x) {
    if (x == 777) throw std::out_of_range("item 777 is out of range");
    return x;
  };
  std::size_t local_index = 0;
  std::string local_type, local_what;
  try {
    local().map(fn, items);
  } catch (const sk::ItemError& e) {
    local_index = e.index();
    local_type = e.type_name();
    local_what = e.original_what();
  }
  try {
    pool().map(fn, items);
    FAIL() << "no exception";
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.index(), local_index);
    EXPECT_EQ(e.type_name(), local_type);
    EXPECT_EQ(e.type_name(), "std::out_of_range");
    EXPECT_EQ(e.original_what(), local_what);
    EXPECT_GE(leader_index(e.rank()), 0) << e.rank();
    EXPECT_EQ(e.host(), g_session->nodes()[static_cast<std::size_t>(leader_index(e.rank()))].host);
    const std::string w = e.what();
    EXPECT_NE(w.find("item 777"), std::string::npos) << w;
    EXPECT_NE(w.find("rank " + std::to_string(e.rank())), std::string::npos) << w;
  }
  EXPECT_THROW(pool().unordered_map(fn, items), sk::ItemError);
  EXPECT_THROW(pool().background().map(fn, items).get(), sk::ItemError);
  EXPECT_THROW(sk::sync_wait(pool().asynced().unordered_imap(fn, items)), sk::ItemError);
  // The pool stays usable.
  EXPECT_EQ(pool().map([](int x) { return x + 1; }, iota_vec(10))[9], 10);
}

TEST(MpiPool, imap_error_comes_at_its_position) {
  auto fn = [](int x) {
    if (x == 500) throw std::invalid_argument("five hundred");
    return x;
  };
  int next = 0;
  try {
    for (int v : pool().imap(fn, iota_vec(1000))) EXPECT_EQ(v, next++);
    FAIL() << "no exception";
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.index(), 500u);
    EXPECT_EQ(e.type_name(), "std::invalid_argument");
  }
  EXPECT_EQ(next, 500);  // every earlier result first, in order
  // unordered_imap: results delivered before the failure are usable.
  std::set<int> seen;
  try {
    for (int v : pool().unordered_imap(fn, iota_vec(1000))) seen.insert(v);
    FAIL() << "no exception";
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.index(), 500u);
  }
  EXPECT_EQ(seen.count(500), 0u);
}

TEST(MpiPool, timeout_ends_the_call_with_timeout_error) {
  auto fn = [](int x) {
    if (x == 13) std::this_thread::sleep_for(20s);
    return x;
  };
  const auto t0 = std::chrono::steady_clock::now();
  try {
    pool().timeout(300ms).map(fn, iota_vec(40));
    FAIL() << "no exception";
  } catch (const sk::TimeoutError& e) {
    EXPECT_EQ(e.index(), 13u);
    EXPECT_DOUBLE_EQ(e.seconds(), 0.3);
    // Where it ran: the node's leader rank and host, also in what().
    EXPECT_GE(leader_index(e.rank()), 0) << e.rank();
    EXPECT_EQ(e.host(), g_session->nodes()[static_cast<std::size_t>(leader_index(e.rank()))].host);
    EXPECT_NE(std::string(e.what()).find("rank " + std::to_string(e.rank())), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  // The local Pool says the same.
  EXPECT_THROW(local().timeout(300ms).map(fn, iota_vec(40)), sk::TimeoutError);
  EXPECT_EQ(pool().map([](int x) { return x; }, iota_vec(5)), iota_vec(5));
}

TEST(MpiPool, crashed_worker_is_worker_crashed_like_locally) {
  auto fn = [](int x) {
    if (x == 3) raise(SIGKILL);  // the item's local worker dies, not the rank
    return x;
  };
  try {
    pool().retries(0).map(fn, iota_vec(8));
    FAIL() << "no exception";
  } catch (const sk::WorkerCrashed& e) {
    EXPECT_EQ(e.index(), 3u);
    EXPECT_EQ(e.signal(), SIGKILL);
    EXPECT_GE(leader_index(e.rank()), 0) << e.rank();
    EXPECT_EQ(e.host(), g_session->nodes()[static_cast<std::size_t>(leader_index(e.rank()))].host);
    EXPECT_NE(std::string(e.what()).find("host " + e.host()), std::string::npos) << e.what();
  }
  EXPECT_THROW(local().retries(0).map(fn, iota_vec(8)), sk::WorkerCrashed);
  EXPECT_EQ(pool().map([](int x) { return -x; }, iota_vec(3)), (std::vector<int>{0, -1, -2}));
}

TEST(MpiPool, skprocess_classes_run_their_lifecycle_on_the_nodes) {
  const std::vector<int> xs = iota_vec(50);
  EXPECT_EQ(pool().map<Doubler>(xs), local().map<Doubler>(xs));
  EXPECT_EQ(sorted(pool().unordered_map<Doubler>(xs)), sorted(local().map<Doubler>(xs)));
  EXPECT_EQ(pool().imap<Doubler>(xs).collect(), local().map<Doubler>(xs));
  const std::vector<std::tuple<int, std::string>> args{{1, "a"}, {2, "b"}, {3, "c"}};
  EXPECT_EQ(pool().star().map<Adder>(args), local().star().map<Adder>(args));
  EXPECT_EQ(pool().map<Flaky>(std::vector<int>{1, 2}), (std::vector<int>{2, 2}));
  try {
    pool().map<Flaky>(std::vector<int>{3});
    FAIL() << "no exception";
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.type_name(), "sk::RunError");
  }
  EXPECT_EQ(pool().background().map<Doubler>(xs).get(), local().map<Doubler>(xs));
}

TEST(MpiPool, on_progress_reports_to_the_end) {
  std::vector<sk::PoolProgress> reports;
  const auto out = pool().on_progress([&](const sk::PoolProgress& p) { reports.push_back(p); })
                       .map([](int x) { return x; }, iota_vec(5000));
  EXPECT_EQ(out.size(), 5000u);
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().done, 5000u);
  EXPECT_EQ(reports.back().total, 5000u);
  for (std::size_t i = 1; i < reports.size(); ++i) EXPECT_LE(reports[i - 1].done, reports[i].done);
  std::size_t imap_last = 0;
  pool().on_progress([&](const sk::PoolProgress& p) { imap_last = p.done; }).imap([](int x) { return x; }, iota_vec(300)).collect();
  EXPECT_EQ(imap_last, 300u);
}

TEST(MpiPool, imap_dropped_early_cancels_and_the_pool_goes_on) {
  auto slow = [](int x) {
    spin_us(2000);
    return x;
  };
  {
    auto r = pool().imap(slow, iota_vec(2000));
    int n = 0;
    for (int v : r) {
      EXPECT_EQ(v, n);
      if (++n == 3) break;
    }
  }  // the rest is cancelled here: this must not take the 2000 items' time
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(pool().map([](int x) { return x * 2; }, iota_vec(100))[99], 198);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(MpiPool, pools_with_options_and_two_pools_at_once) {
  sk::mpi::PoolOptions o;
  o.workers_per_node = 1;
  o.max_nodes = 2;
  o.chunk_target = 5ms;
  sk::mpi::Pool small(*g_session, o);
  EXPECT_EQ(small.nodes(), std::min(2u, static_cast<unsigned>(g_session->size())));
  EXPECT_EQ(small.workers(), small.nodes());
  auto fn = [](int x) { return x - 1; };
  const auto want = local().map(fn, iota_vec(5000));
  auto a = small.background().map(fn, iota_vec(5000));
  auto b = pool().background().map(fn, iota_vec(5000));
  EXPECT_EQ(a.get(), want);
  EXPECT_EQ(b.get(), want);
  EXPECT_THROW(pool().timeout(0ms), sk::PoolUsageError);
  EXPECT_THROW(pool().retries(201), sk::PoolUsageError);
}

namespace {

// What a node's leader holds, seen from one of its local Pool's workers (the
// workers are forked by the leader's executor thread: their parent is it).
struct LeaderUsage {
  int pid = 0;
  long fds = 0;
  long rss_kib = 0;
};

LeaderUsage usage_of(int pid) {
  LeaderUsage u;
  u.pid = pid;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(fd_dir.c_str())) {
    while (dirent* e = readdir(d)) u.fds += e->d_name[0] != '.';
    closedir(d);
  }
  if (FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/statm").c_str(), "r")) {
    long size = 0, resident = 0;
    if (std::fscanf(f, "%ld %ld", &size, &resident) == 2) u.rss_kib = resident * (sysconf(_SC_PAGESIZE) / 1024);
    std::fclose(f);
  }
  return u;
}

std::map<int, LeaderUsage> leaders_usage() {
  auto probe = [](int) {
    const LeaderUsage u = usage_of(getppid());
    return std::array<long, 3>{u.pid, u.fds, u.rss_kib};
  };
  std::map<int, LeaderUsage> by_pid;
  for (const auto& a : pool().map(probe, iota_vec(64 * static_cast<int>(pool().nodes())))) {
    auto& u = by_pid[static_cast<int>(a[0])];
    u.pid = static_cast<int>(a[0]);
    u.fds = std::max(u.fds, a[1]);
    u.rss_kib = std::max(u.rss_kib, a[2]);
  }
  by_pid[getpid()] = usage_of(getpid());  // rank 0 itself
  return by_pid;
}

}  // namespace

TEST(MpiPool, many_calls_keep_descriptors_and_memory_flat) {
  auto fn = [](int x) { return x + 1; };
  auto fails = [](int x) {
    if (x == 50) throw std::runtime_error("fifty");
    return x;
  };
  auto churn = [&](int rounds) {
    for (int i = 0; i < rounds; ++i) {
      pool().map(fn, iota_vec(1000));
      pool().unordered_imap(fn, iota_vec(300)).collect();
      pool().map([](const std::string& s) { return s + s; }, std::vector<std::string>(50, "ab"));
      EXPECT_THROW(pool().map(fails, iota_vec(100)), sk::ItemError);
      { auto r = pool().imap(fn, iota_vec(500)); (void)r.begin(); }  // dropped early
    }
  };
  churn(20);
  const auto before = leaders_usage();
  churn(150);
  const auto after = leaders_usage();
  for (const auto& [pid, u] : after) std::printf("pid %d fds %ld->%ld rss %ld->%ld KiB\n", pid, before.at(pid).fds, u.fds, before.at(pid).rss_kib, u.rss_kib);
  EXPECT_EQ(before.size(), after.size());
  for (const auto& [pid, b] : before) {
    ASSERT_TRUE(after.count(pid)) << "leader pid " << pid;
    const auto& a = after.at(pid);
    EXPECT_EQ(a.fds, b.fds) << "descriptors of pid " << pid;
#if defined(__SANITIZE_ADDRESS__)
    continue;  // ASan keeps freed memory in its quarantine (up to 256 MiB): resident memory grows by design
#endif
    EXPECT_LT(a.rss_kib - b.rss_kib, 8 * 1024) << "resident memory of pid " << pid << ": " << b.rss_kib << " KiB -> "
                                               << a.rss_kib << " KiB";
  }
}

int main(int argc, char** argv) {
  sk::mpi::Session session(argc, argv);  // ranks other than 0 serve in here and exit at the end
  g_session = &session;
  ::testing::InitGoogleTest(&argc, argv);
  const int rc = RUN_ALL_TESTS();
  return rc;
}
