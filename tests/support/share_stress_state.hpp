#pragma once
// Schema shared by the Share stress tests (processes and threads).
#include <sched.h>

#include <cstdint>
#include <utility>

#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/counter.hpp>
#include <sk/slots/shared.hpp>
#include <sk/slots/value.hpp>

namespace sktest {

// Two halves that every update keeps equal: a reader that ever sees them
// differ has read a torn value.
struct Pair {
  long a = 0;
  long pad[6] = {};
  long b = 0;
};

// Every deposit(v) keeps balance == v * ops and last == v: a reader that
// sees otherwise saw fields from different calls.
class Ledger {
 public:
  void deposit(long v) {
    balance += v;
    last = v;
    ++ops;
  }
  std::pair<long, long> totals() const { return {balance, ops}; }

 private:
  long balance = 0;
  long last = 0;
  long ops = 0;
  SK_SHARED_FIELDS(Ledger, balance, last, ops);
};
SK_SHARED_METHOD(Ledger, deposit, writes(balance, last, ops), reads(balance, ops));
SK_SHARED_METHOD(Ledger, totals, reads(balance, ops));

struct StressState {
  sk::Atomic<long> plus;
  sk::Atomic<long> incr;
  sk::Atomic<double> fplus;
  sk::Counter<long> counter;
  sk::Value<Pair> pair;
  sk::Shared<Ledger> ledger;
  sk::Atomic<long> torn;  // readers count inconsistencies seen here
  sk::Atomic<int> ready;  // start barrier
};
SK_SHARE(StressState, plus, incr, fplus, counter, pair, ledger, torn, ready);

// Every worker starts when all `workers` have arrived, so they overlap.
inline void start_together(StressState& s, int workers) {
  ++s.ready;
  while (s.ready.load() < workers) sched_yield();
}

// One worker's share of every kind of update.
inline void stress_worker(StressState& s, int workers, long ops, long slow_ops) {
  start_together(s, workers);
  for (long i = 0; i < ops; ++i) {
    s.plus += 3;
    ++s.incr;
    s.counter += 1;
    if ((i & 63) == 0) s.fplus += 1.0;
  }
  for (long i = 0; i < slow_ops; ++i) {
    s.pair.update([](Pair& p) {
      ++p.a;
      ++p.b;
    });
    s.ledger.call<&Ledger::deposit>(2);
    const Pair seen = s.pair.load();
    if (seen.a != seen.b) s.torn += 1;  // Value torn
    const auto [balance, count] = s.ledger.call<&Ledger::totals>();
    if (balance != 2 * count) s.torn += 1000;  // Shared snapshot mixed two calls
  }
}

}  // namespace sktest
