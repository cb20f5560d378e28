// sk::Pool unit tests: every map flavour, ordering, star, Skprocess classes,
// modifiers, the by-reference capture rule, errors, 1 and 8 workers, 0 items.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <sk/pool.hpp>

#include "pool_process_classes.hpp"

using namespace std::chrono_literals;

namespace {

int twice(int x) { return 2 * x; }

std::vector<int> iota_vec(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

struct Times3 {
  int k = 3;
  int operator()(int x) const { return k * x; }
};

}  // namespace

TEST(Pool, procs_4workers_map_function_pointer_ordered) {
  sk::Pool pool(4);
  const auto out = pool.map(twice, iota_vec(100));
  ASSERT_EQ(out.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], 2 * i);
}

TEST(Pool, procs_4workers_every_callable_kind) {
  sk::Pool pool(4);
  const auto items = iota_vec(20);
  const int k = 7;
  std::string tag = "v";
  EXPECT_EQ(pool.map([k](int x) { return x + k; }, items)[5], 12);             // by value
  EXPECT_EQ(pool.map([&k](int x) { return x * k; }, items)[3], 21);            // by reference
  EXPECT_EQ(pool.map(Times3{}, items)[4], 12);                                  // functor
  std::function<long(int)> fn = [](int x) { return long{x} * x; };
  EXPECT_EQ(pool.map(fn, items)[9], 81);                                        // std::function
  EXPECT_EQ(pool.map([tag](int x) { return tag + std::to_string(x); }, items)[11], "v11");  // non-trivial result
}

TEST(Pool, procs_4workers_reference_capture_sees_current_state_on_every_call) {
  sk::Pool pool(4);
  std::vector<int> data{1, 2, 3};
  auto sum_with = [&data](int x) { return x + std::accumulate(data.begin(), data.end(), 0); };
  EXPECT_EQ(pool.map(sum_with, std::vector<int>{0, 1}), (std::vector<int>{6, 7}));
  data.push_back(10);
  EXPECT_EQ(pool.map(sum_with, std::vector<int>{0, 1}), (std::vector<int>{16, 17}));
  data.clear();
  EXPECT_EQ(pool.map(sum_with, std::vector<int>{0, 1}), (std::vector<int>{0, 1}));
}

TEST(Pool, procs_0items_every_flavour_is_empty) {
  sk::Pool pool(4);
  const std::vector<int> none;
  EXPECT_TRUE(pool.map(twice, none).empty());
  EXPECT_TRUE(pool.unordered_map(twice, none).empty());
  int n = 0;
  for (int v : pool.imap(twice, none)) n += v + 1;
  for (int v : pool.unordered_imap(twice, none)) n += v + 1;
  EXPECT_EQ(n, 0);
  EXPECT_TRUE(pool.background().map(twice, none).get().empty());
}

TEST(Pool, procs_1worker_and_8workers_same_results) {
  for (unsigned w : {1u, 8u}) {
    sk::Pool pool(w);
    const auto out = pool.map([](int x) { return x * x; }, iota_vec(1000));
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(out[static_cast<std::size_t>(i)], i * i) << w << " workers";
  }
}

TEST(Pool, procs_4workers_unordered_map_has_every_result_once) {
  sk::Pool pool(4);
  auto out = pool.unordered_map(twice, iota_vec(500));
  std::sort(out.begin(), out.end());
  for (int i = 0; i < 500; ++i) ASSERT_EQ(out[static_cast<std::size_t>(i)], 2 * i);
}

TEST(Pool, procs_2workers_unordered_map_is_completion_order) {
  sk::Pool pool(2);
  // Item 0 is slow, item 1 fast: in completion order 1 comes before 0.
  auto out = pool.unordered_map(
      [](int x) {
        if (x == 0) std::this_thread::sleep_for(300ms);
        return x;
      },
      std::vector<int>{0, 1});
  EXPECT_EQ(out, (std::vector<int>{1, 0}));
}

TEST(Pool, procs_2workers_imap_streams_in_order_while_later_items_run) {
  sk::Pool pool(2);
  // Item 1 blocks until item 0's result has been consumed by the parent (it
  // waits for a file the parent creates after reading result 0).
  char path[] = "/tmp/sk_pool_imapXXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  ::unlink(path);
  const std::string flag = path;
  std::vector<int> got;
  for (int v : pool.imap(
           [flag](int x) {
             if (x == 1)
               for (int i = 0; i < 500 && ::access(flag.c_str(), F_OK) != 0; ++i) std::this_thread::sleep_for(10ms);
             return x * 10 + (::access(flag.c_str(), F_OK) == 0 ? 1 : 0);
           },
           std::vector<int>{0, 1})) {
    got.push_back(v);
    if (got.size() == 1) ::close(::open(flag.c_str(), O_CREAT | O_WRONLY, 0600));
  }
  ::unlink(flag.c_str());
  EXPECT_EQ(got, (std::vector<int>{0, 11}));  // item 1 saw the flag: result 0 was usable first
}

TEST(Pool, procs_4workers_unordered_imap_every_result_once) {
  sk::Pool pool(4);
  std::multiset<int> got;
  for (int v : pool.unordered_imap(twice, iota_vec(300))) got.insert(v);
  ASSERT_EQ(got.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(got.count(2 * i), 1u);
}

TEST(Pool, procs_4workers_star_unpacks_tuple_pair_array) {
  sk::Pool pool(4);
  std::vector<std::tuple<int, int, int>> t{{1, 2, 3}, {4, 5, 6}};
  EXPECT_EQ(pool.star().map([](int a, int b, int c) { return a + b + c; }, t), (std::vector<int>{6, 15}));
  std::vector<std::pair<int, std::string>> p{{1, "a"}, {2, "b"}};
  EXPECT_EQ(pool.star().map([](int n, const std::string& s) { return s + std::to_string(n); }, p),
            (std::vector<std::string>{"a1", "b2"}));
  std::vector<std::array<int, 2>> a{{3, 4}, {5, 6}};
  EXPECT_EQ(pool.star().map([](int x, int y) { return x * y; }, a), (std::vector<int>{12, 30}));
  // A non-tuple item is passed as is.
  EXPECT_EQ(pool.star().map(twice, std::vector<int>{4}), (std::vector<int>{8}));
  // Without star the tuple is one argument.
  EXPECT_EQ(pool.map([](const std::pair<int, std::string>& x) { return x.first; }, p), (std::vector<int>{1, 2}));
}

TEST(Pool, procs_4workers_void_results) {
  sk::Pool pool(4);
  const auto out = pool.map([](int) {}, iota_vec(10));
  EXPECT_EQ(out.size(), 10u);
}

TEST(Pool, procs_4workers_non_indexable_input_is_materialized) {
  sk::Pool pool(4);
  std::map<int, int> m{{1, 10}, {2, 20}};
  EXPECT_EQ(pool.star().map([](int k, int v) { return k + v; }, m), (std::vector<int>{11, 22}));
  auto view = std::views::iota(0, 5) | std::views::transform([](int x) { return x + 1; });
  EXPECT_EQ(pool.map(twice, view), (std::vector<int>{2, 4, 6, 8, 10}));
}

// ---- errors -----------------------------------------------------------------

TEST(Pool, procs_4workers_exception_keeps_type_what_and_index_and_pool_stays_usable) {
  sk::Pool pool(4);
  auto f = [](int x) {
    if (x == 3) throw std::out_of_range("three is out");
    return 2 * x;
  };
  try {
    pool.map(f, std::vector<int>{1, 2, 3});
    FAIL() << "no exception";
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.index(), 2u);
    EXPECT_EQ(e.type_name(), "std::out_of_range");
    EXPECT_EQ(e.original_what(), "three is out");
  }
  EXPECT_EQ(pool.map(f, std::vector<int>{1, 2, 4}), (std::vector<int>{2, 4, 8}));
}

TEST(Pool, procs_4workers_map_throws_at_first_failure_and_cancels_the_rest) {
  sk::Pool pool(4);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(pool.map(
                   [](int x) {
                     if (x == 0) throw std::runtime_error("early");
                     std::this_thread::sleep_for(20ms);
                     return x;
                   },
                   iota_vec(2000)),
               sk::ItemError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 8s);  // 2000 x 20 ms / 4 = 10 s if not cancelled
}

TEST(Pool, procs_4workers_imap_error_comes_at_its_position) {
  sk::Pool pool(4);
  std::vector<int> got;
  try {
    for (int v : pool.imap(
             [](int x) {
               if (x == 5) throw std::logic_error("five");
               return x;
             },
             iota_vec(10)))
      got.push_back(v);
    FAIL() << "no exception";
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.index(), 5u);
    EXPECT_EQ(e.type_name(), "std::logic_error");
  }
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(Pool, procs_2workers_non_std_exception) {
  sk::Pool pool(2);
  try {
    pool.map([](int) -> int { throw 42; }, std::vector<int>{0});
    FAIL();
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.type_name(), "int");
  }
}

// ---- modifiers --------------------------------------------------------------

TEST(Pool, procs_2workers_timeout_kills_stuck_item_and_names_it) {
  sk::Pool pool(2);
  try {
    pool.timeout(200ms).map(
        [](int x) {
          if (x == 3) std::this_thread::sleep_for(30s);
          return x;
        },
        iota_vec(6));
    FAIL() << "no timeout";
  } catch (const sk::TimeoutError& e) {
    EXPECT_EQ(e.index(), 3u);
  }
  EXPECT_EQ(pool.timeout(5s).map(twice, std::vector<int>{1}), (std::vector<int>{2}));
}

TEST(Pool, procs_4workers_background_returns_future) {
  sk::Pool pool(4);
  auto fut = pool.background().map(twice, iota_vec(50));
  const auto out = fut.get();
  EXPECT_EQ(out[49], 98);
  auto fut2 = pool.timeout(5s).background().unordered_map(twice, std::vector<int>{1, 2});
  auto u = fut2.get();
  std::sort(u.begin(), u.end());
  EXPECT_EQ(u, (std::vector<int>{2, 4}));
  auto fut3 = pool.background().timeout(5s).imap(twice, std::vector<int>{1, 2});
  EXPECT_EQ(fut3.get(), (std::vector<int>{2, 4}));
}

namespace {
sk::Task<int> sum_async(const sk::Pool& pool) {
  // (the items are built before co_await: g++ 12 rejects braced temporaries inside it)
  std::vector<std::pair<int, int>> items;
  items.emplace_back(2, 3);
  items.emplace_back(4, 5);
  auto v = co_await pool.star().asynced().unordered_map([](int a, int b) { return a * b; }, std::move(items));
  co_return std::accumulate(v.begin(), v.end(), 0);
}
}  // namespace

TEST(Pool, procs_2workers_asynced_is_awaitable) {
  sk::Pool pool(2);
  EXPECT_EQ(sk::sync_wait(sum_async(pool)), 26);
  EXPECT_EQ(sk::sync_wait(pool.asynced().timeout(5s).map(twice, std::vector<int>{7})), (std::vector<int>{14}));
}

TEST(Pool, procs_4workers_modifiers_chain_in_any_order) {
  sk::Pool pool(4);
  const std::vector<std::pair<int, int>> prs{{1, 2}, {3, 4}};
  auto add = [](int a, int b) { return a + b; };
  EXPECT_EQ(pool.star().timeout(5s).map(add, prs), (std::vector<int>{3, 7}));
  EXPECT_EQ(pool.timeout(5s).star().map(add, prs), (std::vector<int>{3, 7}));
  EXPECT_EQ(pool.timeout(5s).background().star().map(add, prs).get(), (std::vector<int>{3, 7}));
  EXPECT_EQ(pool.star().background().timeout(5s).imap(add, prs).get(), (std::vector<int>{3, 7}));
  EXPECT_EQ(sk::sync_wait(pool.timeout(5s).star().asynced().imap(add, prs)), (std::vector<int>{3, 7}));
  std::vector<int> seen;
  for (int v : pool.retries(2).star().timeout(5s).imap(add, prs)) seen.push_back(v);
  EXPECT_EQ(seen, (std::vector<int>{3, 7}));
}

TEST(Pool, procs_4workers_on_progress_reports_to_the_end) {
  sk::Pool pool(4);
  std::vector<sk::PoolProgress> reports;
  pool.on_progress([&](const sk::PoolProgress& p) { reports.push_back(p); }).map(twice, iota_vec(200));
  ASSERT_FALSE(reports.empty());
  EXPECT_EQ(reports.back().done, 200u);
  EXPECT_EQ(reports.back().total, 200u);
  for (std::size_t i = 1; i < reports.size(); ++i) EXPECT_LE(reports[i - 1].done, reports[i].done);
  // The ready-made bar runs (it draws on stderr).
  EXPECT_EQ(pool.on_progress(sk::progress_bar).map(twice, iota_vec(10)).size(), 10u);
}

// ---- Skprocess classes ------------------------------------------------------

namespace {

class Doomed : public sk::Skprocess<int> {
 public:
  explicit Doomed(bool recover) : recover_(recover) { config.runs = 1; }
  void run() override { throw std::invalid_argument("doomed"); }
  int error(const sk::ProcessError& e) override {
    if (!recover_) e.rethrow();
    return -1;
  }

 private:
  bool recover_;
};

}  // namespace

TEST(Pool, procs_4workers_skprocess_classes_run_their_lifecycle) {
  sk::Pool pool(4);
  EXPECT_EQ(pool.map<Doubler>(std::vector<int>{1, 2, 3}), (std::vector<int>{6, 12, 18}));
  EXPECT_EQ(pool.star().map<Adder>(std::vector<std::tuple<int, std::string>>{{1, "a"}, {2, "b"}}),
            (std::vector<std::string>{"a[1]!", "b[2]!"}));
  // Lives: 2 failures + 2 good runs fit in 3 lives? No: lives are total
  // attempts, 2 failures leave 1, so Flaky(1) completes and Flaky(3) fails.
  EXPECT_EQ(pool.map<Flaky>(std::vector<int>{1, 2}), (std::vector<int>{2, 2}));
  try {
    pool.map<Flaky>(std::vector<int>{3});
    FAIL();
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.type_name(), "sk::RunError");
  }
  EXPECT_EQ(pool.map<Doomed>(std::vector<bool>{true}), (std::vector<int>{-1}));
  EXPECT_THROW(pool.map<Doomed>(std::vector<bool>{false}), sk::ItemError);
  auto u = pool.unordered_map<Doubler>(std::vector<int>{1});
  EXPECT_EQ(u, (std::vector<int>{6}));
}

// ---- persistent mode --------------------------------------------------------

namespace {
int g_offset = 100;  // set before the persistent pool is created
}

TEST(Pool, procs_4workers_persistent_mode_reuses_workers) {
  g_offset = 100;
  sk::Pool pool(4, sk::persistent);
  EXPECT_TRUE(pool.persistent());
  EXPECT_EQ(pool.map(twice, iota_vec(10))[9], 18);
  EXPECT_EQ(pool.map([](int x) { return x + g_offset; }, std::vector<int>{1, 2}), (std::vector<int>{101, 102}));
  // The workers keep the memory of pool creation: a later change is not seen.
  g_offset = 5;
  EXPECT_EQ(pool.map([](int x) { return x + g_offset; }, std::vector<int>{1}), (std::vector<int>{101}));
  // What must change travels in the items (or in values captured by copy).
  const int k = 9;
  EXPECT_EQ(pool.map([k](int x) { return x * k; }, std::vector<int>{2}), (std::vector<int>{18}));
  EXPECT_EQ(pool.map([](const std::string& s) { return s + "!"; }, std::vector<std::string>{"a", "b"}),
            (std::vector<std::string>{"a!", "b!"}));
  EXPECT_EQ(pool.star().map([](int a, int b) { return a - b; }, std::vector<std::pair<int, int>>{{5, 2}}),
            (std::vector<int>{3}));
  auto u = pool.unordered_map(twice, iota_vec(1000));
  EXPECT_EQ(u.size(), 1000u);
  int n = 0;
  for (int v : pool.imap(twice, iota_vec(100))) EXPECT_EQ(v, 2 * n++);
  EXPECT_EQ(n, 100);
  EXPECT_TRUE(pool.map(twice, std::vector<int>{}).empty());
}

TEST(Pool, procs_2workers_persistent_errors_and_timeouts_keep_pool_usable) {
  sk::Pool pool(2, sk::persistent);
  auto f = [](int x) {
    if (x == 1) throw std::domain_error("one");
    return x;
  };
  try {
    pool.map(f, iota_vec(4));
    FAIL();
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.index(), 1u);
    EXPECT_EQ(e.type_name(), "std::domain_error");
  }
  EXPECT_EQ(pool.map(f, std::vector<int>{0, 2}), (std::vector<int>{0, 2}));
  EXPECT_THROW(pool.timeout(200ms).map(
                   [](int x) {
                     if (x == 0) std::this_thread::sleep_for(30s);
                     return x;
                   },
                   iota_vec(3)),
               sk::TimeoutError);
  EXPECT_EQ(pool.map(twice, iota_vec(5)), (std::vector<int>{0, 2, 4, 6, 8}));
}
