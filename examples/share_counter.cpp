// The pitch's headline, in C++: a logger, a list and a counter shared by 4
// parallel processes, each doing 5 items, all updated like plain variables.
//
//   Python original                     here
//   share.counter += 1                   share->counter += 1
//   share.results.append(result)         share->results.append(result)
//   share.log.info(f"done: {result}")    share->log.info("done: {}", result)
//
// (Uses fork() directly to stay a Share-only example; with sk::Pool it is
// pool.map over the 20 items.)
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>

struct State {
  sk::Atomic<long> counter;  // share.counter = 0
  sk::List<int> results;     // share.results = []
  sk::Log log{"worker"};     // share.log = logging.getLogger("worker")
};
SK_SHARE(State, counter, results, log);

int main() {
  sk::Share<State> share;  // anonymous arena, inherited by the forked workers
  share->log.no_sinks();   // keep the records in the Share only (quiet example)

  constexpr int kWorkers = 4, kItemsEach = 5;
  for (int w = 0; w < kWorkers; ++w) {
    if (::fork() == 0) {
      for (int i = 0; i < kItemsEach; ++i) {
        const int result = (w * kItemsEach + i) * 2;
        share->results.append(result);          // shared list
        share->counter += 1;                    // shared counter
        share->log.info("done: {}", result);    // shared logger
      }
      ::_exit(0);
    }
  }
  int failed = 0;
  for (int w = 0; w < kWorkers; ++w) {
    int status = 0;
    ::wait(&status);
    failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }

  const long counter = share->counter;
  const std::size_t results = share->results.size();
  const std::size_t records = share->log.size();
  std::printf("counter = %ld\nresults.size() = %zu\nlog records = %zu\n\n%s", counter, results, records,
              share.describe().c_str());
  return failed == 0 && counter == 20 && results == 20 && records == 20 ? EXIT_SUCCESS : EXIT_FAILURE;
}
