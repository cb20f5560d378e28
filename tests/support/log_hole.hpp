#pragma once
// Makes a hole in an sk::Log's order on purpose: a child process writes in a
// loop; it is stopped (SIGSTOP) until it is caught between taking its ticket
// and committing its record, then SIGKILLed there. Its seq then never gets a
// record: what a tailing reader must survive (sk::LogForwarder's lost()).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <thread>

#include <sk/slots/log.hpp>

#include "alloc_fork.hpp"

namespace logtest {

struct Hole {
  std::uint64_t seq = UINT64_MAX;  // the seq without a record; UINT64_MAX = not caught
  int tries = 0;
};

// write(): one record into `log` (the child is its only writer while this
// runs). Gives up after `max_tries` stops.
template <class Write>
Hole kill_writer_mid_record(const sk::Log& log, Write write, int max_tries = 5000) {
  const pid_t child = alloctest::spawn([&] {
    for (;;) write();
    return true;
  });
  std::mt19937 rng(static_cast<unsigned>(child));
  Hole hole;
  std::uint64_t at = log.written();
  for (; hole.tries < max_tries; ++hole.tries) {
    std::this_thread::sleep_for(std::chrono::microseconds(20 + rng() % 200));
    ::kill(child, SIGSTOP);
    int st = 0;
    ::waitpid(child, &st, WUNTRACED);
    const std::uint64_t hi = log.written();
    sk::LogBatch b;
    do {  // consume everything committed, up to the first seq without a record
      b = log.read_from(at, 1 << 16);
      at = b.next;
    } while (!b.waiting && at < hi);
    if (b.waiting && at < hi) {  // a ticket taken, its record not stored: the stopped child's
      hole.seq = at;
      break;
    }
    ::kill(child, SIGCONT);
  }
  alloctest::kill_and_reap(child);
  return hole;
}

}  // namespace logtest
