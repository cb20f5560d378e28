// The pitch's ShareCounter: 10 Skprocess workers in a Pool of 4, each running
// 10 times, counting in a shared counter and logging the count.
//
//   Python:  pool.map(ShareCounter, [share] * 10)
//            share.counter       -> 100
//            share.log.messages  -> ['1', '2', ..., '100'] in order
//   C++:     pool.map<ShareCounter>(std::vector(10, share));
//
// "In order" needs the increment and the log append to happen in the same
// order in every process: each run takes a ticket (the counter's new value)
// and appends its record when the log holds exactly the records of the
// lower tickets. sk::Log gives every process one total order of records.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <sk/pool.hpp>
#include <sk/process.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/log.hpp>

struct State {
  sk::Atomic<long> counter;
  sk::Log log{"ShareLog"};
};
SK_SHARE(State, counter, log);

class ShareCounter : public sk::Skprocess<void> {
 public:
  explicit ShareCounter(sk::Share<State> share) : share_(std::move(share)) { config.runs = 10; }
  void run() override {
    const long ticket = (share_->counter += 1);
    while (share_->log.size() < static_cast<std::size_t>(ticket - 1)) std::this_thread::yield();
    share_->log.info("{}", ticket);
  }

 private:
  sk::Share<State> share_;
};

int main() {
  sk::Share<State> share;
  sk::Pool pool(4);
  pool.map<ShareCounter>(std::vector<sk::Share<State>>(10, share));

  const long counter = share->counter;
  const auto messages = share->log.messages();
  bool in_order = messages.size() == 100;
  for (std::size_t i = 0; in_order && i < messages.size(); ++i) in_order = messages[i] == std::to_string(i + 1);
  std::printf("counter=%ld records=%zu first=%s last=%s in_order=%d\n", counter, messages.size(),
              messages.empty() ? "-" : messages.front().c_str(), messages.empty() ? "-" : messages.back().c_str(),
              in_order ? 1 : 0);
  const bool ok = counter == 100 && in_order;
  std::printf("%s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
