#pragma once
// Runs work(p) in `procs` forked processes at once and times them: the
// cross-process benchmarks report this wall time as manual time.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace bench {

// Seconds from the first fork until every child exited; -1 if one failed.
template <class Work>
double fork_all(int procs, Work work) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<pid_t> pids;
  for (int p = 0; p < procs; ++p) {
    const pid_t pid = fork();
    if (pid == 0) {
      work(p);
      _exit(0);
    }
    pids.push_back(pid);
  }
  bool ok = true;
  for (pid_t pid : pids) {
    int st = 0;
    waitpid(pid, &st, 0);
    ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return ok ? s : -1.0;
}

}  // namespace bench
