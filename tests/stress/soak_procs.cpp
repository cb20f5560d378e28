// Soak (issues #10, #15): the crash storm's mixed workload (tests/support/
// mixed_workload.hpp: every Share slot kind, Pipe traffic) without kills, plus
// a small Pool map every second, plus
//   - Object churn: 2 processes store strings of random sizes (1 B .. 100 KB,
//     log-uniform) into one sk::Object<std::string> of a second Share and
//     check what they load,
//   - a slow receiver: one process sends 1 MiB messages through a one-way
//     Pipe (8 MiB arena) as fast as it can, the receiver checks each and
//     pauses 20-80 ms every 8 messages (the sender blocks meanwhile),
// for SK_SOAK_SECONDS (env, default 60, the CI value, 20 under ASan;
// scripts/soak runs it longer). Every second it samples, into a CSV
// next to the test binary (path printed):
//   - arena bytes used of the Share and of each worker's Pipe (the pipes are
//     drained to empty right before, so what is left is ring/blocks of the few
//     messages sent since, not a backlog), of the churned Share and of the
//     slow receiver's Pipe,
//   - RSS (/proc/<pid>/statm) and open fds (/proc/<pid>/fd) of this process and
//     of every worker,
//   - our files in /dev/shm (the Share and the pipes are named for this).
// What is measured: steady state. sk::List grows by design (cells are never
// reused), so workers append to it (and log: sk::Log is bounded, but the
// workload ties both together) only in their first 800 cycles (well inside
// the warm-up); everything else (Atomic, Counter, Value,
// Object replaced in place, Shared, pipes, pool runs) runs all the time.
//
// No-growth rule, per series: drop the first 20% (warm-up); split the rest in
// quarters; max(last quarter) <= max(first quarter) + slack, with slack:
//   arena (Share, each pipe): 64 KiB  (Share: blocks being retired; pipe: a
//                                      full 16 KiB ring holds at most ~16
//                                      references to 4 KiB message blocks)
//   churned Share:            1 MiB   (the Object's committed block and its 8
//                                      retired ones, each up to 100 KB)
//   slow receiver's pipe:     2 MiB   (two 1 MiB messages in flight more or
//                                      less, depending on the sampling moment)
//   RSS (each process):       8 MiB   (+32 MiB under ASan: quarantine, set to
//                                      16 MiB below, and allocator caches)
//   fds (each process):       2  (a liveness check reads /proc/<pid>/stat)
//   our /dev/shm files:       always exactly 1 + workers, 0 after unlink.
// At the end every committed operation is checked as in the storm (with no
// kills the ledger is exact: each worker completed `cycles` whole cycles);
// the churners saw no wrong string, the slow receiver got every 1 MiB
// message in order and intact and still received in the last quarter (no
// stall), and its pipe's arena is back to its empty size once drained.
#include <gtest/gtest.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sk/pipe.hpp>
#include <sk/pool.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/object.hpp>

#include "../support/mixed_workload.hpp"
#include "test_fork.hpp"

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAsan = true;
// A bounded quarantine, so that RSS can plateau within a soak (the default is
// 256 MiB, which a soak fills slowly and would read as growth).
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=16"; }
#else
inline constexpr bool kAsan = false;
#endif

using namespace std::chrono_literals;
namespace mx = sktest::mixed;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kWorkers = 3;

long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/statm");
  long size = 0, resident = 0;
  f >> size >> resident;
  return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

long count_dir(const std::string& path, const std::string& contains = {}) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return -1;
  long n = 0;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (contains.empty() || name.find(contains) != std::string::npos) ++n;
  }
  ::closedir(d);
  return n - (contains.empty() ? 1 : 0);  // the fd of the open directory itself
}

std::string exe_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

// The Object churn and the slow receiver (issue #15), in a Share of their own.
struct Churn {
  sk::Object<std::string> blob;
  sk::Atomic<int> stop;
  sk::Atomic<long> stores;
  sk::Atomic<long> wrong;     // strings or messages that failed their check
  sk::Atomic<long> received;  // 1 MiB messages
  sk::Atomic<long> pauses;
};
SK_SHARE(Churn, blob, stop, stores, wrong, received, pauses);

constexpr std::size_t kBigWords = (1 << 20) / 8;  // a 1 MiB message of u64 words

// A string of n bytes that says its own length.
std::string churn_string(std::size_t n) { return std::string(n, static_cast<char>('a' + n % 26)); }
bool churn_string_ok(const std::string& s) {
  return s.empty() || s.find_first_not_of(static_cast<char>('a' + s.size() % 26)) == std::string::npos;
}

void churn(sk::Share<Churn> c, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> logsize(0.0, std::log(100'000.0));
  while (c->stop.load() == 0) {
    const auto n = static_cast<std::size_t>(std::exp(logsize(rng)));
    c->blob.store(churn_string(n));
    c->stores += 1;
    if (!churn_string_ok(c->blob.load())) c->wrong += 1;
  }
}

void big_sender(sk::Share<Churn> c, sk::Pipe::OneWayAnchor tx) {
  std::vector<std::uint64_t> m(kBigWords);
  for (std::uint64_t k = 0; c->stop.load() == 0; ++k) {
    m.front() = k;
    m.back() = ~k;
    tx.send(m);  // blocks while the receiver pauses
  }
  tx.close();
}

void slow_receiver(sk::Share<Churn> c, sk::Pipe::OneWayPoint rx) {
  std::mt19937 rng(7);
  for (std::uint64_t k = 0;; ++k) {
    std::vector<std::uint64_t> m;
    try {
      m = rx.recv<std::vector<std::uint64_t>>();
    } catch (const sk::PeerClosed&) {
      return;  // the sender stopped; everything it sent was received
    }
    if (m.size() != kBigWords || m.front() != k || m.back() != ~k) c->wrong += 1;
    c->received += 1;
    if (k % 8 == 7) {
      c->pauses += 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 60));
    }
  }
}

// One series of samples with its no-growth slack.
struct Series {
  std::string name;
  long slack = 0;
  std::vector<long> v;
};

}  // namespace

TEST(Soak, procs_3workers_mixed_workload_no_growth) {
  const char* env = std::getenv("SK_SOAK_SECONDS");
  const long seconds = env && *env ? std::atol(env) : (kAsan ? 20 : 60);
  ASSERT_GE(seconds, 5) << "SK_SOAK_SECONDS must be at least 5 (warm-up plus four quarters)";
  const std::string tag = "soak-" + std::to_string(::getpid());
  mx::Options o;
  o.list_until = 800;

  mx::Control* ctl = mx::map_control();
  ASSERT_NE(ctl, nullptr);
  auto share = sk::Share<mx::State>::create(tag, 32u << 20);
  std::vector<mx::Rx> rx(kWorkers);
  std::vector<mx::Incarnation> inc(kWorkers);
  std::vector<pid_t> pids(kWorkers, -1);
  for (int i = 0; i < kWorkers; ++i) {
    auto [tx, r] = sk::Pipe::pair_named(tag + "-p" + std::to_string(i), sk::one_way, mx::pipe_options());
    rx[static_cast<std::size_t>(i)] = r;
    inc[static_cast<std::size_t>(i)].inc = static_cast<std::uint32_t>(i + 1);
    std::fflush(nullptr);
    const pid_t pid = sktest::fork();
    if (pid == 0) {
      int rc = 0;
      try {
        mx::run_worker(share, ctl, i, static_cast<std::uint32_t>(i + 1), -1, tx, o);
      } catch (const std::exception& e) {
        if (ctl->violations.fetch_add(1) == 0)
          std::snprintf(ctl->violation, sizeof ctl->violation, "worker threw: %s", e.what());
        rc = 2;
      }
      ::_exit(rc);
    }
    ASSERT_GT(pid, 0);
    pids[static_cast<std::size_t>(i)] = pid;
  }
  // The churned Share and the slow receiver's pipe (anonymous: inherited).
  sk::Share<Churn> churned(16u << 20);
  sk::PipeOptions big_opts;
  big_opts.ring_bytes = 64 * 1024;
  big_opts.arena_bytes = 8u << 20;
  auto [big_tx, big_rx] = sk::Pipe::pair(sk::one_way, big_opts);
  const auto* big_base = big_rx.channel().mapping().data();
  const std::size_t big_empty = sk::alloc::ArenaView(const_cast<std::byte*>(big_base)).used();
  std::vector<pid_t> extra;
  auto spawn_extra = [&](std::function<void()> fn) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      int rc = 0;
      try {
        fn();
      } catch (const std::exception& e) {
        std::fprintf(stderr, "soak churn process threw: %s\n", e.what());
        std::fflush(stderr);
        rc = 2;
      }
      ::_exit(rc);
    }
    extra.push_back(pid);
  };
  spawn_extra([&] { churn(churned, 1); });
  spawn_extra([&] { churn(churned, 2); });
  spawn_extra([&] { big_sender(churned, big_tx); });
  spawn_extra([&] { slow_receiver(churned, big_rx); });
  auto kill_all = [&] {
    for (pid_t& p : extra)
      if (p > 0) {
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
        p = -1;
      }
    for (pid_t& p : pids)
      if (p > 0) {
        ::kill(p, SIGKILL);
        ::waitpid(p, nullptr, 0);
        p = -1;
      }
  };
  // Whatever fails below: no worker, name or mapping outlives the test.
  struct Cleanup {
    std::function<void()> fn;
    ~Cleanup() { fn(); }
  } cleanup{[&] {
    kill_all();
    try {
      sk::Share<mx::State>::unlink(tag);
    } catch (const std::exception&) {
    }
    for (int i = 0; i < kWorkers; ++i) try {
        sk::Pipe::unlink(tag + "-p" + std::to_string(i));
      } catch (const std::exception&) {
      }
  }};

  // Receives what is queued; with `until_empty` loops until a pass finds
  // nothing (bounded at 200 ms: the producers never stop, and a backlog the
  // size of a ring is within the pipe arena's slack anyway).
  std::string bad;
  auto drain = [&](bool until_empty) {
    const auto until = Clock::now() + 200ms;
    for (bool got = true; got && bad.empty() && Clock::now() < until;) {
      got = false;
      for (std::size_t i = 0; i < rx.size() && bad.empty(); ++i)
        for (int k = 0; k < 512; ++k) {
          const int r = mx::drain_one(o, rx[i], inc[i], 0ns, bad);
          if (r <= 0) break;
          got = true;
        }
      if (!until_empty) break;
    }
  };

  std::vector<Series> series;
  auto add = [&](std::string name, long slack) {
    series.push_back(Series{std::move(name), slack, {}});
    series.back().v.reserve(static_cast<std::size_t>(seconds));  // the samples themselves must not read as growth
    return series.size() - 1;
  };
  const long rss_slack = (8 + (kAsan ? 32 : 0)) * 1024;
  const std::size_t s_share = add("share_arena_B", 64 << 10);
  std::vector<std::size_t> s_pipe, s_rss, s_fds;
  for (int i = 0; i < kWorkers; ++i) s_pipe.push_back(add("pipe" + std::to_string(i) + "_arena_B", 64 << 10));
  s_rss.push_back(add("parent_rss_KiB", rss_slack));
  for (int i = 0; i < kWorkers; ++i) s_rss.push_back(add("worker" + std::to_string(i) + "_rss_KiB", rss_slack));
  s_fds.push_back(add("parent_fds", 2));
  for (int i = 0; i < kWorkers; ++i) s_fds.push_back(add("worker" + std::to_string(i) + "_fds", 2));
  const std::size_t s_shm = add("our_shm_files", 0);
  const std::size_t s_ops = add("ops", -1);
  const std::size_t s_churn = add("churned_share_arena_B", 1 << 20);
  const std::size_t s_big = add("slow_pipe_arena_B", 2 << 20);
  const std::size_t s_big_msgs = add("slow_pipe_messages", -1);

  const std::string csv_path = exe_dir() + "/soak_samples.csv";
  std::FILE* csv = std::fopen(csv_path.c_str(), "w");
  ASSERT_NE(csv, nullptr) << csv_path;
  std::fprintf(csv, "t_s");
  for (const Series& s : series) std::fprintf(csv, ",%s", s.name.c_str());
  std::fprintf(csv, "\n");

  sk::Pool pool(2);
  std::vector<std::uint64_t> items(64);
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = i;
  std::uint64_t pool_items = 0;

  const auto t0 = Clock::now();
  auto next = t0 + 1s;
  // One sample a second for `seconds` of wall time.
  while (Clock::now() - t0 < std::chrono::seconds(seconds) && bad.empty()) {
    while (Clock::now() < next && bad.empty()) {
      drain(false);
      std::this_thread::sleep_for(1ms);
    }
    next += 1s;
    // A Pool map: exactly one correct result per item, every second.
    const auto out = pool.map([](std::uint64_t x) { return x * 3 + 1; }, items);
    for (std::size_t i = 0; i < items.size(); ++i) ASSERT_EQ(out[i], i * 3 + 1);
    pool_items += items.size();
    drain(true);
    ASSERT_TRUE(bad.empty()) << bad;
    ASSERT_EQ(ctl->violations.load(), 0u) << ctl->violation;
    series[s_share].v.push_back(static_cast<long>(share.arena().used()));
    for (int i = 0; i < kWorkers; ++i) {
      const auto* base = rx[static_cast<std::size_t>(i)].channel().mapping().data();
      series[s_pipe[static_cast<std::size_t>(i)]].v.push_back(
          static_cast<long>(sk::alloc::ArenaView(const_cast<std::byte*>(base)).used()));
    }
    series[s_rss[0]].v.push_back(rss_kib(::getpid()));
    series[s_fds[0]].v.push_back(count_dir("/proc/self/fd"));
    for (int i = 0; i < kWorkers; ++i) {
      const pid_t p = pids[static_cast<std::size_t>(i)];
      series[s_rss[static_cast<std::size_t>(i) + 1]].v.push_back(rss_kib(p));
      series[s_fds[static_cast<std::size_t>(i) + 1]].v.push_back(count_dir("/proc/" + std::to_string(p) + "/fd") + 1);
    }
    series[s_shm].v.push_back(count_dir("/dev/shm", tag));
    long ops = 0;
    for (int i = 0; i < kWorkers; ++i) ops += static_cast<long>(ctl->heartbeat[i].load());
    series[s_ops].v.push_back(ops);
    series[s_churn].v.push_back(static_cast<long>(churned.arena().used()));
    series[s_big].v.push_back(static_cast<long>(sk::alloc::ArenaView(const_cast<std::byte*>(big_base)).used()));
    series[s_big_msgs].v.push_back(churned->received.load());
    ASSERT_EQ(churned->wrong.load(), 0) << "a churned string or a 1 MiB message was wrong";
    std::fprintf(csv, "%.1f", std::chrono::duration<double>(Clock::now() - t0).count());
    for (const Series& s : series) std::fprintf(csv, ",%ld", s.v.back());
    std::fprintf(csv, "\n");
    std::fflush(csv);
  }
  std::fclose(csv);
  if (!bad.empty()) kill_all();
  ASSERT_TRUE(bad.empty()) << bad;

  // Stop the churn: the sender closes its end, the receiver drains it.
  churned->stop = 1;
  for (pid_t& p : extra) {
    int st = 0;
    ASSERT_EQ(::waitpid(p, &st, 0), p);
    p = -1;
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "churn process status " << st;
  }
  EXPECT_EQ(churned->wrong.load(), 0);
  EXPECT_GT(churned->stores.load(), 0);
  EXPECT_GT(churned->pauses.load(), 0);
  const std::size_t big_drained = sk::alloc::ArenaView(const_cast<std::byte*>(big_base)).used();
  EXPECT_EQ(big_drained, big_empty) << "the slow receiver's pipe holds blocks after it was drained";

  // Stop; each worker finishes its cycle and closes its pipe.
  ctl->stop.store(1, std::memory_order_release);  // SYNC POINT: pairs with the workers' acquire load
  for (std::size_t i = 0; i < rx.size(); ++i) {
    const auto ts = Clock::now();
    bool closed = false;
    while (!closed && Clock::now() - ts < 10s) {
      try {
        ASSERT_GE(mx::drain_one(o, rx[i], inc[i], 20ms, bad), 0) << bad;
      } catch (const sk::PeerClosed&) {
        closed = true;
      }
    }
    EXPECT_TRUE(closed) << "worker " << i << " did not stop within 10 s";
    int st = 0;
    ASSERT_EQ(::waitpid(pids[i], &st, 0), pids[i]);
    pids[i] = -1;
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st << "; " << ctl->violation;
    inc[i].last = {mx::kPipe, ctl->cycles[i].load()};  // no kills: whole cycles, exactly
  }
  const mx::Verdict v = mx::verify(o, *share, inc);
  for (const auto& e : v.errors) ADD_FAILURE() << e;
  EXPECT_EQ(ctl->violations.load(), 0u) << ctl->violation;

  // No growth after warm-up.
  const std::size_t n = series[0].v.size();
  const std::size_t warm = n / 5;
  const std::size_t q = (n - warm) / 4;
  ASSERT_GE(q, 1u);
  auto range = [&](const Series& s, std::size_t from, std::size_t to) {
    return std::pair{*std::min_element(s.v.begin() + static_cast<long>(from), s.v.begin() + static_cast<long>(to)),
                     *std::max_element(s.v.begin() + static_cast<long>(from), s.v.begin() + static_cast<long>(to))};
  };
  for (const Series& s : series) {
    if (s.slack < 0) continue;
    const long first = range(s, warm, warm + q).second;
    const long last = range(s, n - q, n).second;
    EXPECT_LE(last, first + s.slack) << s.name << " grew: max of the first post-warm-up quarter " << first
                                     << ", of the last quarter " << last << " (slack " << s.slack << "); samples in "
                                     << csv_path;
  }
  for (long x : series[s_shm].v) EXPECT_EQ(x, 1 + kWorkers) << "our /dev/shm files";
  const auto& msgs = series[s_big_msgs].v;
  EXPECT_GT(msgs[n - 1], msgs[n - q]) << "the slow receiver got no message in the last quarter (a stall)";

  auto span = [&](std::size_t idx) {
    const auto [lo, hi] = range(series[idx], warm, n);
    return std::to_string(lo) + ".." + std::to_string(hi);
  };
  long wr_lo = LONG_MAX, wr_hi = 0, wf_lo = LONG_MAX, wf_hi = 0, pa_lo = LONG_MAX, pa_hi = 0;
  for (int i = 0; i < kWorkers; ++i) {
    const auto [a, b] = range(series[s_rss[static_cast<std::size_t>(i) + 1]], warm, n);
    const auto [c, d] = range(series[s_fds[static_cast<std::size_t>(i) + 1]], warm, n);
    const auto [e, f] = range(series[s_pipe[static_cast<std::size_t>(i)]], warm, n);
    wr_lo = std::min(wr_lo, a), wr_hi = std::max(wr_hi, b), wf_lo = std::min(wf_lo, c), wf_hi = std::max(wf_hi, d);
    pa_lo = std::min(pa_lo, e), pa_hi = std::max(pa_hi, f);
  }
  std::printf("soak samples: %s\n", csv_path.c_str());
  std::printf("soak: %ld s, %llu ops, %llu messages, %llu pool items, arena share %s B pipes %ld..%ld B, "
              "rss parent %s KiB workers %ld..%ld KiB, fds parent %s workers %ld..%ld, shm files %s%s\n",
              seconds, static_cast<unsigned long long>(v.ops), static_cast<unsigned long long>(v.messages),
              static_cast<unsigned long long>(pool_items), span(s_share).c_str(), pa_lo, pa_hi, span(s_rss[0]).c_str(),
              wr_lo, wr_hi, span(s_fds[0]).c_str(), wf_lo, wf_hi, span(s_shm).c_str(), kAsan ? " (ASan)" : "");
  std::printf("soak churn: %ld Object stores of 1 B..100 KB strings, arena %s B; %ld 1 MiB messages to a slow "
              "receiver (%ld pauses), its pipe arena %s B, %zu B once drained (%zu B empty)\n",
              churned->stores.load(), span(s_churn).c_str(), churned->received.load(), churned->pauses.load(),
              span(s_big).c_str(), big_drained, big_empty);
  std::printf("soak check: %s\n", v.summary.c_str());

  // Clean up: names gone from /dev/shm.
  cleanup.fn();
  cleanup.fn = [] {};
  EXPECT_EQ(count_dir("/dev/shm", tag), 0);
  mx::unmap_control(ctl);
}
