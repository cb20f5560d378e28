// One lifecycle engine: the same Skprocess class run standalone (start/get)
// and as a pool.map<W> item (fork mode and persistent mode) behaves the same
// in every config field: runs, stop(), lives spent on exceptions, crashes
// and hook timeouts (enforced while the hook is stuck), error()'s value,
// onfinish failures, refused configs, timers. Before the one engine, the
// Pool had its own loop: lives = 0 silently became 1, a non-positive timeout
// made every hook time out, a stuck hook was never interrupted, stop() and
// timers() were inert.
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include <sk/pool.hpp>
#include <sk/process.hpp>

using namespace std::chrono_literals;

namespace {

enum class What : std::uint8_t {
  plain,              // runs 3
  stop_at_2,          // runs 10, run() calls stop() at run 2
  throw_twice,        // run() throws on its first 2 calls; lives 3
  throw_always,       // run() always throws; lives 2
  error_value,        // run() throws; error() returns -7
  stuck_once,         // run() hangs on its first call; timeouts.run 200 ms, lives 2
  stuck_always,       // run() always hangs; timeouts.run 200 ms, lives 2
  crash_once,         // run() aborts at run 1 on its first attempt; lives 2
  crash_always,       // run() always aborts; lives 1
  onfinish_throws,    // onfinish() throws
  lives_zero,         // config.lives = 0
  timeout_zero,       // config.timeouts.run = 0 ms
  timers_in_result,   // runs 4; result() returns timers().run.num_times()
  join_in,            // runs unset, join_in 150 ms, run() sleeps 20 ms
  kCount
};
constexpr std::size_t kScenarios = static_cast<std::size_t>(What::kCount);
enum Hook { kPrerun, kRun, kPostrun, kOnfinish, kResult, kError, kHooks };

// Per (round, scenario) hook counts, in memory every process of the test shares.
struct Counts {
  std::atomic<int> n[3][kScenarios][kHooks];
};
Counts* g_counts = nullptr;

// The item: a scenario and the column its counts go to (0 standalone, 1
// fork-mode pool, 2 persistent pool: persistent workers were forked before
// the call, so the column travels in the item, not in a global).
struct Item {
  What what;
  int round;
};

class Scenario : public sk::Skprocess<int> {
 public:
  explicit Scenario(Item it) : w_(it.what), round_(it.round) {
    switch (w_) {
      case What::plain: config.runs = 3; break;
      case What::stop_at_2: config.runs = 10; break;
      case What::throw_twice: config.runs = 2; config.lives = 3; break;
      case What::throw_always: config.runs = 2; config.lives = 2; break;
      case What::error_value: config.runs = 1; break;
      case What::stuck_once:
      case What::stuck_always:
        config.runs = 2;
        config.lives = 2;
        config.timeouts.run = 200ms;
        break;
      case What::crash_once: config.runs = 3; config.lives = 2; break;
      case What::crash_always: config.runs = 2; break;
      case What::onfinish_throws: config.runs = 1; break;
      case What::lives_zero: config.runs = 1; config.lives = 0; break;
      case What::timeout_zero: config.runs = 1; config.timeouts.run = 0ms; break;
      case What::timers_in_result: config.runs = 4; break;
      case What::join_in: config.join_in = 150ms; break;
      case What::kCount: break;
    }
  }
  void prerun() override { ++count(w_, kPrerun); }
  void run() override {
    const int calls = ++count(w_, kRun);
    switch (w_) {
      case What::stop_at_2:
        if (current_run() == 2) stop();
        break;
      case What::throw_twice:
        if (calls <= 2) throw std::runtime_error("flaky " + std::to_string(calls));
        break;
      case What::throw_always:
      case What::error_value:
        throw std::out_of_range("always");
      case What::stuck_once:
        if (calls == 1) std::this_thread::sleep_for(30s);
        break;
      case What::stuck_always:
        std::this_thread::sleep_for(30s);
        break;
      case What::crash_once:
        if (calls == 2) ::abort();  // run index 1 of the first attempt
        break;
      case What::crash_always:
        ::abort();
      case What::join_in:
        std::this_thread::sleep_for(20ms);
        break;
      default:
        break;
    }
  }
  void postrun() override { ++count(w_, kPostrun); }
  void onfinish() override {
    ++count(w_, kOnfinish);
    if (w_ == What::onfinish_throws) throw std::logic_error("onfinish failed");
  }
  int result() override {
    ++count(w_, kResult);
    if (w_ == What::timers_in_result) return static_cast<int>(timers().run.num_times());
    if (w_ == What::join_in) return current_run() >= 3 && current_run() <= 9 ? 1 : -1;
    return static_cast<int>(current_run());
  }
  int error(const sk::ProcessError& e) override {
    ++count(w_, kError);
    if (w_ == What::error_value) return -7;
    return Skprocess<int>::error(e);
  }

 private:
  std::atomic<int>& count(What w, Hook h) { return g_counts->n[round_][static_cast<std::size_t>(w)][h]; }
  What w_;
  int round_;
};

std::string demangled(const std::exception& e) {
  // The Pool reports the dynamic type by its demangled name; build the same
  // text for the standalone exception from the closed set of types.
  if (dynamic_cast<const sk::ProcessTimeoutError*>(&e)) return "sk::ProcessTimeoutError";
  if (dynamic_cast<const sk::ProcessCrashed*>(&e)) return "sk::ProcessCrashed";
  if (dynamic_cast<const sk::RunError*>(&e)) return "sk::RunError";
  if (dynamic_cast<const sk::OnFinishError*>(&e)) return "sk::OnFinishError";
  if (dynamic_cast<const sk::ProcessConfigError*>(&e)) return "sk::ProcessConfigError";
  return typeid(e).name();
}

std::string standalone(What w) {
  try {
    Scenario s(Item{w, 0});
    return "ok " + std::to_string(s.execute());
  } catch (const std::exception& e) {
    return "error " + demangled(e) + ": " + e.what();
  }
}

std::string in_pool(sk::Pool& pool, What w, int round) {
  try {
    const auto out = pool.map<Scenario>(std::vector<Item>{Item{w, round}});
    return "ok " + std::to_string(out.at(0));
  } catch (const sk::ItemError& e) {
    return "error " + e.type_name() + ": " + e.original_what();
  } catch (const std::exception& e) {
    return std::string("unexpected ") + e.what();
  }
}

class Parity : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    void* p = ::mmap(nullptr, sizeof(Counts), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(p, MAP_FAILED);
    g_counts = new (p) Counts{};
  }
  static void TearDownTestSuite() { ::munmap(g_counts, sizeof(Counts)); }
};

}  // namespace

TEST_F(Parity, procs_2workers_every_config_field_means_the_same_standalone_and_in_a_pool) {
  sk::Pool fork_pool(2);
  sk::Pool persistent(2, sk::persistent);  // forked after g_counts exists: it sees it
  for (std::size_t k = 0; k < kScenarios; ++k) {
    const auto w = static_cast<What>(k);
    const std::string a = standalone(w);
    const std::string b = in_pool(fork_pool, w, 1);
    const std::string c = in_pool(persistent, w, 2);
    SCOPED_TRACE("scenario " + std::to_string(k));
    EXPECT_EQ(b, a) << "fork-mode pool.map<W> differs from a started W";
    EXPECT_EQ(c, a) << "persistent pool.map<W> differs from a started W";
    for (int h = 0; h < kHooks; ++h) {
      const int sa = g_counts->n[0][k][h].load(), sb = g_counts->n[1][k][h].load(), sc = g_counts->n[2][k][h].load();
      if (w == What::join_in && h != kOnfinish && h != kResult && h != kError) continue;  // timing-dependent count
      EXPECT_EQ(sb, sa) << "hook " << h << " ran a different number of times (fork-mode pool)";
      EXPECT_EQ(sc, sa) << "hook " << h << " ran a different number of times (persistent pool)";
    }
  }
  // A few outcomes spelled out, so that "equal" is not "equally wrong".
  EXPECT_EQ(standalone(What::plain), "ok 3");
  EXPECT_EQ(standalone(What::stop_at_2), "ok 2");  // stop() in run 2: the rest of that iteration is skipped
  EXPECT_EQ(standalone(What::throw_twice), "ok 2");
  EXPECT_EQ(standalone(What::error_value), "ok -7");
  EXPECT_EQ(standalone(What::crash_once), "ok 3");
  EXPECT_EQ(standalone(What::timers_in_result), "ok 4");
}

// The stuck hook is interrupted while it is stuck (it sleeps 30 s), in a
// Pool as for a started process: the call ends in well under 30 s.
TEST_F(Parity, procs_2workers_hook_timeout_fires_while_the_hook_is_stuck_in_a_pool) {
  sk::Pool pool(2);
  const auto t0 = std::chrono::steady_clock::now();
  const std::string r = in_pool(pool, What::stuck_always, 1);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 10s) << r;
  EXPECT_NE(r.find("sk::ProcessTimeoutError: Timeout in run after 200 ms on run 0"), std::string::npos) << r;
}

// What differs, by design: a pool item whose runs was never set runs once;
// tell/listen inside an item say why they cannot work.
class Unbounded : public sk::Skprocess<int> {
 public:
  explicit Unbounded(int) {}
  void run() override {}
  int result() override { return static_cast<int>(current_run()); }
};
class Talker : public sk::Skprocess<std::string> {
 public:
  explicit Talker(int) { config.runs = 1; }
  void run() override { tell(1); }
};

TEST(PoolLifecycle, procs_2workers_item_without_runs_runs_once_and_tell_is_refused) {
  sk::Pool pool(2);
  EXPECT_EQ(pool.map<Unbounded>(std::vector<int>{1, 2, 3}), (std::vector<int>{1, 1, 1}));
  try {
    pool.map<Talker>(std::vector<int>{1});
    FAIL() << "tell() inside a pool item did not fail";
  } catch (const sk::ItemError& e) {
    EXPECT_EQ(e.type_name(), "sk::RunError");
    EXPECT_NE(std::string(e.what()).find("sk::ProcessUsageError"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no parent-side handle"), std::string::npos) << e.what();
  }
}
