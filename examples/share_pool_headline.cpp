// The pitch's headline with a Pool: a counter, a results list and a log
// shared by 4 parallel workers over 20 items, updated like plain variables.
//
//   Python:  pool = Pool(workers=4)
//            pool.star().map(Worker, [(share, x) for x in range(20)])
//   C++:     sk::Pool pool(4);
//            pool.star().map<Worker>(items);    // items: (share, x) tuples
#include <cstdio>
#include <tuple>
#include <vector>

#include <sk/pool.hpp>
#include <sk/process.hpp>
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

class Worker : public sk::Skprocess<int> {
 public:
  // No config.runs: in a Pool an item whose runs was never set runs once (the
  // Python original would loop forever here).
  Worker(sk::Share<State> share, int item) : share_(std::move(share)), item_(item) {}
  void run() override {
    result_ = item_ * 2;
    share_->results.append(result_);         // shared list
    share_->counter += 1;                    // shared counter
    share_->log.info("done: {}", result_);   // shared logger
  }
  int result() override { return result_; }

 private:
  sk::Share<State> share_;
  int item_;
  int result_ = 0;
};

int main() {
  sk::Share<State> share;
  sk::Pool pool(4);
  std::vector<std::tuple<sk::Share<State>, int>> items;
  for (int x = 0; x < 20; ++x) items.emplace_back(share, x);

  const auto results = pool.star().map<Worker>(items);

  const long counter = share->counter;
  const auto listed = share->results.snapshot();
  const auto messages = share->log.messages();
  std::printf("counter=%ld results=%zu list=%zu log=%zu\n", counter, results.size(), listed.size(), messages.size());
  const bool ok = counter == 20 && results.size() == 20 && listed.size() == 20 && messages.size() == 20 &&
                  results[7] == 14;
  std::printf("%s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
