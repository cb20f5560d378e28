#pragma once
// Runs work(p) in `procs` forked processes at once and times them: the
// cross-process benchmarks report this wall time as manual time. The clock
// runs from a start gate (every child forked and waiting) to the last
// child's finish, so fork and exit are not counted.
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include <baselines/fork_peer.hpp>
#include <sk/core/futex.hpp>

namespace bench {

// Start gate and finish count for one round of forked workers.
struct ForkGate {
  std::atomic<std::uint32_t> ready{0};
  std::atomic<std::uint32_t> go{0};
  sk::core::WaitPoint go_wp;
  alignas(128) std::atomic<std::uint32_t> done{0};
  sk::core::WaitPoint done_wp;
};

// Seconds from opening the gate until every child finished; -1 if one failed.
template <class Work>
double fork_all(int procs, Work work) {
  SharedMemory shm(4096);
  ForkGate* g = shm.make<ForkGate>(0);
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = fork();
    if (pid == 0) {
      g->ready.fetch_add(1, std::memory_order_relaxed);
      // SYNC POINT: acquire pairs with the parent's release of go.
      while (!g->go_wp.wait_for([&] { return g->go.load(std::memory_order_acquire) != 0; }, std::chrono::seconds(30))) {
      }
      work(p);
      // SYNC POINT: release publishes the child's work to the parent's acquire.
      g->done.fetch_add(1, std::memory_order_release);
      g->done_wp.notify_all();
      _exit(0);
    }
    pids.push_back(pid);
  }
  while (g->ready.load(std::memory_order_relaxed) < static_cast<std::uint32_t>(procs)) sched_yield();
  const auto t0 = std::chrono::steady_clock::now();
  // SYNC POINT: release: the children start after everything set up before.
  g->go.store(1, std::memory_order_release);
  g->go_wp.notify_all();
  // SYNC POINT: acquire pairs with the children's release of done.
  while (!g->done_wp.wait_for(
      [&] { return g->done.load(std::memory_order_acquire) >= static_cast<std::uint32_t>(procs); },
      std::chrono::seconds(60))) {
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  bool ok = true;
  for (pid_t pid : pids) {
    int st = 0;
    waitpid(pid, &st, 0);
    ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  return ok ? s : -1.0;
}

}  // namespace bench
