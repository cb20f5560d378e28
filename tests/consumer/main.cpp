// Links against suitkaise and uses every layer across real processes: a
// Share (api, alloc, core) updated by a forked child and by Pool workers (ipc).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <numeric>
#include <vector>

#include <sk/pool.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/version.hpp>

struct State {
  sk::Atomic<long> hits;
};
SK_SHARE(State, hits);

int main() {
  sk::Share<State> share;
  const pid_t pid = fork();
  if (pid == 0) {
    share->hits += 1;
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
  std::vector<int> items(8);
  std::iota(items.begin(), items.end(), 1);
  sk::Pool pool(2);
  const auto out = pool.map([share](int x) { share->hits += 1; return x * 2; }, items);
  if (out.size() != items.size() || out[7] != 16 || share->hits.load() != 9) return 1;
  std::printf("consumer: suitkaise %s ok\n", sk::version());
  return 0;
}
