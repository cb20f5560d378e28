// The pitch's headline, in C++: a counter and a results list shared by 4
// parallel processes, each doing 5 items, updated like plain variables.
//
//   Python original:            share.counter += 1; share.results.append(r)
//   here:                       share->counter += 1; share->results.call<&Results::append>(r)
//
// (Uses fork() directly; with sk::Pool it is pool.map over the 20 items.
// sk::List / sk::Log slots, when present, replace the Results class.)
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>

#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/counter.hpp>
#include <sk/slots/shared.hpp>

// A user class kept in the Share: each call locks only the fields it writes.
class Results {
 public:
  void append(int v) {
    if (size < static_cast<int>(items.size())) items[static_cast<std::size_t>(size++)] = v;
  }
  int count() const { return size; }
  long sum() const {
    long s = 0;
    for (int i = 0; i < size; ++i) s += items[static_cast<std::size_t>(i)];
    return s;
  }

 private:
  std::array<int, 64> items{};
  int size = 0;
  SK_SHARED_FIELDS(Results, items, size);
};
SK_SHARED_METHOD(Results, append, writes(items, size), reads(size));
SK_SHARED_METHOD(Results, count, reads(size));
SK_SHARED_METHOD(Results, sum, reads(items, size));

struct State {
  sk::Atomic<long> counter;     // share.counter = 0
  sk::Counter<long> work_done;  // striped: += never contends
  sk::Shared<Results> results;  // share.results = []
};
SK_SHARE(State, counter, work_done, results);

int main() {
  sk::Share<State> share;  // anonymous arena, inherited by the forked workers

  constexpr int kWorkers = 4, kItemsEach = 5;
  for (int w = 0; w < kWorkers; ++w) {
    if (::fork() == 0) {
      for (int i = 0; i < kItemsEach; ++i) {
        const int item = w * kItemsEach + i;
        share->results.call<&Results::append>(item * 2);  // shared list
        share->counter += 1;                              // shared counter
        share->work_done += 1;
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
  const int size = share->results.call<&Results::count>();
  const long sum = share->results.call<&Results::sum>();
  std::printf("counter = %ld\nresults.size() = %d (sum %ld)\nwork_done = %ld\n\n%s", counter, size, sum,
              share->work_done.load(), share.describe().c_str());
  const bool ok = failed == 0 && counter == 20 && size == 20 && sum == 2 * (19 * 20 / 2) &&
                  share->work_done.load() == 20;
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
