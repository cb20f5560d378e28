#pragma once
// The mixed workload shared by the crash storm (tests/crash/storm_procs.cpp)
// and the soak (tests/stress/soak_procs.cpp): worker processes that update
// every slot kind of one Share and send checksummed messages through a Pipe,
// and the parent-side checks that compare the final state with a ledger kept
// OUTSIDE shared memory.
//
// A worker runs cycles seq = 1, 2, ...; each cycle is a fixed sequence of
// operations (see next_op()). After an operation RETURNS (= committed) the
// worker appends a 16-byte LogLine {op, inc, seq} to its ledger file with one
// write(2) (regular file, O_APPEND: a SIGKILL leaves the line written or not,
// never half). So for a worker killed by SIGKILL, the state may contain one
// operation more than its ledger: the one after its last logged line (the
// "in-flight" op, computable because the cycle is deterministic). The checks
// (verify()) accept exactly that and nothing else:
//   Atomic   total  in [logged, logged + in-flight atomic adds]
//   Counter  hits   in [logged, logged + in-flight counter adds]
//   Value    final value has a valid checksum and is a logged or in-flight
//            store; every load a worker made was intact (violations == 0)
//   Object   map inc -> seq: for every incarnation, exactly its last logged
//            update, or its in-flight one (a lost RMW update shows here)
//   List     every logged element exactly once, no duplicates, no garbage,
//            nothing else except in-flight appends
//   Log      the same for records (message "inc seq checksum"); "every" only
//            while it dropped none from its bounded retention
//   Shared   a == b (updated together), a in [logged, logged + in-flight]
//   Pipe     per incarnation the consumer saw seq 1..R in order, each intact,
//            R >= last logged send and R <= that + 1 if the send was in flight
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <sk/pipe.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/counter.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>
#include <sk/slots/object.hpp>
#include <sk/slots/shared.hpp>
#include <sk/slots/value.hpp>

#include "mix64.hpp"

namespace sktest::mixed {

using sk::test::mix64;

// ---- the shared state -------------------------------------------------------

// Value payload: a torn copy fails the checksum.
struct Rec {
  std::uint64_t inc = 0;
  std::uint64_t seq = 0;
  std::uint64_t data[5] = {};
  std::uint64_t sum = 0;
};
inline Rec make_rec(std::uint64_t inc, std::uint64_t seq) {
  Rec r;
  r.inc = inc;
  r.seq = seq;
  std::uint64_t s = mix64(inc * 1000003 + seq);
  for (auto& d : r.data) d = s = mix64(s + 1);
  r.sum = mix64(s ^ inc ^ (seq << 1));
  return r;
}
inline bool rec_ok(const Rec& r) {
  if (r.inc == 0 && r.seq == 0) return r.sum == 0;  // never written
  const Rec e = make_rec(r.inc, r.seq);
  return std::memcmp(&e, &r, sizeof r) == 0;
}

// List element.
struct Item {
  std::uint32_t inc = 0;
  std::uint32_t seq = 0;
  std::uint64_t check = 0;
};
inline std::uint64_t item_check(std::uint64_t inc, std::uint64_t seq) { return mix64((inc << 32) ^ seq ^ 0x5157); }

// Shared<U>: both fields are always updated together.
class Pair {
 public:
  void bump(long v) {
    a += v;
    b += v;
  }
  // On a snapshot (a local copy): plain accessors.
  long first() const { return a; }
  long second() const { return b; }

 private:
  long a = 0;
  long b = 0;
  SK_SHARED_FIELDS(Pair, a, b);
};
SK_SHARED_METHOD(Pair, bump, writes(a, b), reads(a, b));

struct State {
  sk::Atomic<long> total;
  sk::Counter<long> hits;
  sk::Value<Rec> value;
  sk::Object<std::map<std::uint32_t, std::uint64_t>> latest;  // inc -> seq of its last update
  sk::List<Item> items;
  sk::Log log{"storm"};
  sk::Shared<Pair> pair;
};
SK_SHARE(State, total, hits, value, latest, items, log, pair);

// ---- control area (plain MAP_SHARED, not under test) -------------------------

inline constexpr int kMaxSlots = 8;
struct Control {
  std::atomic<std::uint32_t> stop{0};
  std::atomic<std::uint64_t> violations{0};
  std::atomic<std::uint64_t> heartbeat[kMaxSlots] = {};  // ops completed by the slot's current worker
  std::atomic<std::uint64_t> cycles[kMaxSlots] = {};     // completed cycles (soak: read after exit)
  char violation[256] = {};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

inline Control* map_control() {
  void* p = ::mmap(nullptr, sizeof(Control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return new (p) Control();
}
inline void unmap_control(Control* c) { ::munmap(c, sizeof(Control)); }

// ---- the cycle --------------------------------------------------------------

enum Op : std::uint32_t { kAtomic = 1, kCounter, kValue, kObject, kList, kLog, kShared, kPipe, kOpEnd };
inline const char* op_name(std::uint32_t op) {
  static const char* const names[] = {"?", "atomic", "counter", "value", "object", "list", "log", "shared", "pipe"};
  return op < kOpEnd ? names[op] : "?";
}

struct Options {
  std::uint64_t list_every = 8;              // List and Log ops in cycles seq % list_every == 0
  std::uint64_t list_until = UINT64_MAX;     // ... and seq <= list_until (soak: bounded growth)
  std::uint64_t big_every = 16;              // every big_every-th message goes through an arena block
};

inline bool has_list(const Options& o, std::uint64_t seq) { return seq % o.list_every == 0 && seq <= o.list_until; }

struct OpAt {
  std::uint32_t op;
  std::uint64_t seq;
};
// The operation after `cur` (cur.op == 0: before the first).
inline OpAt next_op(const Options& o, OpAt cur) {
  if (cur.op == 0 || cur.op == kPipe) return {kAtomic, cur.seq + 1};
  std::uint32_t op = cur.op + 1;
  if ((op == kList || op == kLog) && !has_list(o, cur.seq)) op = kShared;
  return {op, cur.seq};
}

struct LogLine {
  std::uint32_t op = 0;
  std::uint32_t inc = 0;
  std::uint64_t seq = 0;
};
static_assert(sizeof(LogLine) == 16);

// Pipe message: [inc, seq, filler..., checksum].
using Msg = std::vector<std::uint64_t>;
inline Msg make_msg(const Options& o, std::uint64_t inc, std::uint64_t seq) {
  const std::size_t n = seq % o.big_every == 0 ? 120 : 4;  // 960 B > inline_max (512) below
  Msg m(n);
  m[0] = inc;
  m[1] = seq;
  std::uint64_t s = mix64(inc ^ (seq << 20));
  for (std::size_t i = 2; i + 1 < n; ++i) m[i] = s = mix64(s + i);
  m[n - 1] = mix64(s ^ n);
  return m;
}
inline bool msg_ok(const Options& o, const Msg& m) { return m.size() >= 2 && m == make_msg(o, m[0], m[1]); }

inline sk::PipeOptions pipe_options() {
  sk::PipeOptions p;
  p.ring_bytes = 16 * 1024;
  p.arena_bytes = 2 << 20;
  p.inline_max = 512;
  return p;
}

using Tx = sk::Pipe::OneWayAnchor;
using Rx = sk::Pipe::OneWayPoint;

// ---- the worker -------------------------------------------------------------

// Runs in a forked child until ctl->stop (checked between cycles). ledger_fd
// < 0: no ledger (the soak, which has no kills, checks against cycles[slot]).
// Every blocking call has a timeout: the pipe send is send_for (retried, the
// consumer always drains); the Share operations never wait on a dead process
// (they repair after a bounded wait). Returns normally when stopped.
inline void run_worker(sk::Share<State> share, Control* ctl, int slot, std::uint32_t inc, int ledger_fd, Tx tx,
                       const Options& o) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a failed test
  State& s = *share;
  s.log.no_sinks();
  auto& beat = ctl->heartbeat[slot];
  auto violation = [&](const std::string& what) {
    if (ctl->violations.fetch_add(1) == 0) std::snprintf(ctl->violation, sizeof ctl->violation, "%s", what.c_str());
  };
  auto done = [&](std::uint32_t op, std::uint64_t seq) {
    if (ledger_fd >= 0) {
      const LogLine l{op, inc, seq};
      if (::write(ledger_fd, &l, sizeof l) != static_cast<ssize_t>(sizeof l)) violation("ledger write failed");
    }
    beat.fetch_add(1, std::memory_order_relaxed);
  };
  // Claim the pipe before anything else (see storm_procs.cpp: a producer that
  // never claimed its end looks alive while the creator lives).
  while (!tx.send_for(Msg{inc, 0}, std::chrono::milliseconds(100))) {
  }
  beat.fetch_add(1, std::memory_order_relaxed);
  // SYNC POINT: acquire pairs with the parent's release store of `stop`
  // (nothing else is published with it; a late stop only costs one cycle).
  for (std::uint64_t seq = 1; ctl->stop.load(std::memory_order_acquire) == 0; ++seq) {
    s.total += 1;
    done(kAtomic, seq);
    s.hits += 1;
    done(kCounter, seq);
    s.value.store(make_rec(inc, seq));
    done(kValue, seq);
    if (const Rec r = s.value.load(); !rec_ok(r)) violation("torn Value: inc " + std::to_string(r.inc));
    s.latest.update([&](std::map<std::uint32_t, std::uint64_t>& m) { m[inc] = seq; });
    done(kObject, seq);
    if (has_list(o, seq)) {
      s.items.append(Item{inc, static_cast<std::uint32_t>(seq), item_check(inc, seq)});
      done(kList, seq);
      s.log.info("{} {} {}", inc, seq, item_check(inc, seq));
      done(kLog, seq);
    }
    s.pair.call<&Pair::bump>(1L);
    done(kShared, seq);
    if (const Pair p = s.pair.snapshot(); p.first() != p.second())
      violation("torn Shared snapshot: a " + std::to_string(p.first()) + " b " + std::to_string(p.second()));
    const Msg m = make_msg(o, inc, seq);
    while (!tx.send_for(m, std::chrono::milliseconds(100))) {
    }
    done(kPipe, seq);
    // SYNC POINT: release; the parent reads it after waitpid() (which orders
    // it anyway) as the count of whole cycles this worker committed.
    ctl->cycles[slot].store(seq, std::memory_order_release);
  }
  tx.close();
}

// ---- parent side -------------------------------------------------------------

// What the parent knows about one worker incarnation. Its ledger is always a
// prefix of the cycle (set_ledger() checks that), so it is kept as the last
// committed op alone: a soak's billions of ops need no memory.
struct Incarnation {
  std::uint32_t inc = 0;
  bool killed = false;
  OpAt last{0, 0};                // last committed op ({0, 0}: none)
  std::uint64_t received = 0;     // pipe messages received (seq 1..received)
  std::optional<OpAt> inflight;   // killed: the op after `last`
};

inline bool applies(const Options& o, std::uint32_t op, std::uint64_t seq) {
  return seq >= 1 && op >= kAtomic && op < kOpEnd && ((op != kList && op != kLog) || has_list(o, seq));
}
// Whether w's ledger holds op `op` of cycle `seq`.
inline bool logged(const Options& o, const Incarnation& w, std::uint32_t op, std::uint64_t seq) {
  return applies(o, op, seq) && (seq < w.last.seq || (seq == w.last.seq && op <= w.last.op));
}
// Number of cycles in [1, n] that have List/Log ops.
inline std::uint64_t list_cycles(const Options& o, std::uint64_t n) {
  return std::min(n, o.list_until) / o.list_every;
}
// How many `op`s w's ledger holds.
inline std::uint64_t logged_count(const Options& o, const Incarnation& w, std::uint32_t op) {
  if (w.last.seq == 0) return 0;
  const std::uint64_t full = w.last.seq - 1;
  const std::uint64_t before = (op == kList || op == kLog) ? list_cycles(o, full) : full;
  return before + (logged(o, w, op, w.last.seq) ? 1 : 0);
}
// The last cycle whose `op` w's ledger holds (0: none).
inline std::uint64_t last_logged(const Options& o, const Incarnation& w, std::uint32_t op) {
  for (std::uint64_t s = w.last.seq; s >= 1; --s)
    if (logged(o, w, op, s)) return s;  // at most list_every steps back
  return 0;
}

inline std::vector<LogLine> read_ledger(const std::string& path) {
  std::vector<LogLine> out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  LogLine buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n / static_cast<ssize_t>(sizeof(LogLine)));
  }
  ::close(fd);
  return out;
}

// Checks that a ledger follows the cycle order exactly (nothing skipped,
// repeated or reordered), records its last op and, for a killed incarnation,
// the in-flight op after it. Returns an error text or "".
inline std::string set_ledger(const Options& o, Incarnation& w, const std::vector<LogLine>& ledger) {
  OpAt cur{0, 0};
  for (const LogLine& l : ledger) {
    const OpAt want = next_op(o, cur);
    if (l.op != want.op || l.seq != want.seq || l.inc != w.inc)
      return "ledger of inc " + std::to_string(w.inc) + " out of order at seq " + std::to_string(l.seq);
    cur = want;
  }
  w.last = cur;
  if (w.killed) w.inflight = next_op(o, cur);
  return "";
}

struct Verdict {
  std::vector<std::string> errors;
  std::uint64_t ops = 0;       // committed (logged) operations
  std::uint64_t messages = 0;  // pipe messages received
  std::string summary;
};

inline Verdict verify(const Options& o, State& s, const std::vector<Incarnation>& all) {
  Verdict v;
  auto err = [&](std::string e) {
    if (v.errors.size() < 20) v.errors.push_back(std::move(e));
  };
  std::uint64_t total[kOpEnd] = {};
  std::uint64_t inflight[kOpEnd] = {};
  std::map<std::uint32_t, const Incarnation*> by_inc;
  for (const Incarnation& w : all) {
    by_inc[w.inc] = &w;
    for (std::uint32_t op = kAtomic; op < kOpEnd; ++op) {
      total[op] += logged_count(o, w, op);
      v.ops += logged_count(o, w, op);
    }
    v.messages += w.received;
    if (w.inflight) ++inflight[w.inflight->op];
    const std::uint64_t last_pipe = last_logged(o, w, kPipe);
    const bool pipe_inflight = w.inflight && w.inflight->op == kPipe;
    if (w.received < last_pipe || w.received > last_pipe + (pipe_inflight ? 1 : 0))
      err("pipe of inc " + std::to_string(w.inc) + ": received " + std::to_string(w.received) + ", logged sent " +
          std::to_string(last_pipe) + (pipe_inflight ? " (+1 in flight)" : ""));
  }
  // Logged or in flight: the only operations the state may contain.
  auto made = [&](std::uint32_t op, std::uint32_t inc, std::uint64_t seq) {
    const auto it = by_inc.find(inc);
    if (it == by_inc.end()) return false;
    const Incarnation& w = *it->second;
    return logged(o, w, op, seq) || (w.inflight && w.inflight->op == op && w.inflight->seq == seq);
  };
  auto in_range = [&](const char* what, long got, std::uint32_t op) {
    const auto lo = static_cast<long>(total[op]);
    const auto hi = static_cast<long>(total[op] + inflight[op]);
    if (got < lo || got > hi)
      err(std::string(what) + " = " + std::to_string(got) + ", expected [" + std::to_string(lo) + ", " +
          std::to_string(hi) + "]");
  };
  in_range("Atomic total", s.total.load(), kAtomic);
  in_range("Counter hits", s.hits.load(), kCounter);
  {
    const Pair p = s.pair.snapshot();
    if (p.first() != p.second())
      err("Shared pair torn: a " + std::to_string(p.first()) + " b " + std::to_string(p.second()));
    in_range("Shared pair.a", p.first(), kShared);
  }
  {
    const Rec r = s.value.load();
    if (!rec_ok(r)) err("Value torn at the end");
    else if (total[kValue] + inflight[kValue] > 0 && !made(kValue, static_cast<std::uint32_t>(r.inc), r.seq))
      err("Value holds a store nobody made: inc " + std::to_string(r.inc) + " seq " + std::to_string(r.seq));
  }
  {
    const auto m = s.latest.load();
    for (const auto& [inc, w] : by_inc) {
      const std::uint64_t last = last_logged(o, *w, kObject);
      const auto it = m.find(inc);
      const bool in = it != m.end();
      const bool ok = (in && it->second == last && last != 0) || (!in && last == 0) ||
                      (in && w->inflight && w->inflight->op == kObject && w->inflight->seq == it->second);
      if (!ok)
        err("Object latest[" + std::to_string(inc) + "] = " + (in ? std::to_string(it->second) : "absent") +
            ", last logged update " + std::to_string(last));
    }
    for (const auto& [inc, seq] : m)
      if (!by_inc.count(inc))
        err("Object latest has unknown inc " + std::to_string(inc) + " seq " + std::to_string(seq));
  }
  // complete: every logged element must be there (false for a Log that
  // dropped records from its bounded retention: then only the seen ones are checked).
  auto check_elements = [&](const char* what, std::uint32_t op,
                            const std::vector<std::pair<std::uint32_t, std::uint64_t>>& seen, bool complete = true) {
    std::set<std::pair<std::uint32_t, std::uint64_t>> uniq;
    for (const auto& e : seen) {
      if (!uniq.insert(e).second)
        err(std::string(what) + " duplicate inc " + std::to_string(e.first) + " seq " + std::to_string(e.second));
      if (!made(op, e.first, e.second))
        err(std::string(what) + " element nobody appended: inc " + std::to_string(e.first) + " seq " +
            std::to_string(e.second));
    }
    if (!complete) return;
    for (const auto& [inc, w] : by_inc)
      for (std::uint64_t q = o.list_every; q <= std::min(w->last.seq, o.list_until); q += o.list_every)
        if (logged(o, *w, op, q) && !uniq.count({inc, q}))
          err(std::string(what) + " lost inc " + std::to_string(inc) + " seq " + std::to_string(q));
  };
  {
    std::vector<std::pair<std::uint32_t, std::uint64_t>> seen;
    for (const Item& it : s.items.snapshot()) {
      if (it.check != item_check(it.inc, it.seq)) err("List element with a bad checksum (garbage)");
      seen.push_back({it.inc, it.seq});
    }
    check_elements("List", kList, seen);
  }
  {
    std::vector<std::pair<std::uint32_t, std::uint64_t>> seen;
    for (const sk::LogRecord& r : s.log.records()) {
      unsigned long long inc = 0, seq = 0, chk = 0;
      if (std::sscanf(r.message.c_str(), "%llu %llu %llu", &inc, &seq, &chk) != 3 || chk != item_check(inc, seq) ||
          r.logger != "storm") {
        err("Log record garbled: '" + r.message + "'");
        continue;
      }
      seen.push_back({static_cast<std::uint32_t>(inc), seq});
    }
    check_elements("Log", kLog, seen, s.log.dropped() == 0);
  }
  std::uint64_t in_flight = 0;
  for (auto x : inflight) in_flight += x;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "ops %" PRIu64 " (in flight at kills: %" PRIu64 "), messages %" PRIu64 ", list %zu, log %zu", v.ops,
                in_flight, v.messages, s.items.size(), s.log.size());
  v.summary = buf;
  return v;
}

// Receives one message for incarnation w (waiting up to `wait`), checking
// order and contents. 1: got one, 0: none within `wait`, -1: a bad message
// (the error is in `why`). Throws sk::PeerClosed when the producer is gone
// and everything it committed was received.
inline int drain_one(const Options& o, Rx& rx, Incarnation& w, std::chrono::nanoseconds wait, std::string& why) {
  std::optional<Msg> m = wait.count() == 0 ? rx.try_recv<Msg>() : rx.recv_for<Msg>(wait);
  if (!m) return 0;
  if (m->size() == 2 && (*m)[0] == w.inc && (*m)[1] == 0 && w.received == 0) return 1;  // hello
  if (!msg_ok(o, *m) || (*m)[0] != w.inc || (*m)[1] != w.received + 1) {
    why = "pipe of inc " + std::to_string(w.inc) + ": message " + (m->size() >= 2 ? std::to_string((*m)[1]) : "?") +
          " after " + std::to_string(w.received) + (msg_ok(o, *m) ? " (out of order)" : " (corrupt)");
    return -1;
  }
  ++w.received;
  return 1;
}

}  // namespace sktest::mixed
