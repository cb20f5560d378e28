#pragma once
// The owner and thief loops of the WsDeque stress tests (threads and procs).
// The owner pushes 0..items-1 in chunks of 1, 2, 3, 5, 1 and 200 items and
// drains the deque after each chunk, so it often races the thieves for the
// last item (the pop/steal CAS), and the 200-item chunks fill the deque (the
// full path, wrap-around). Every item must reach take() exactly once.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iterator>
#include <thread>

#include <sk/core/backoff.hpp>
#include <sk/core/ws_deque.hpp>

namespace coretest {

template <class Deque, class Take>
void run_owner(Deque& d, std::uint64_t items, bool thieves, Take&& take) {
  static constexpr std::uint64_t kChunks[] = {1, 2, 3, 5, 1, 200};
  std::uint64_t next = 0;
  for (std::size_t c = 0; next < items; ++c) {
    const std::uint64_t end = std::min(items, next + kChunks[c % std::size(kChunks)]);
    for (; next < end; ++next) {
      // Full: give the thieves a chance first (yield), then help by popping.
      for (int tries = 1; !d.push(next); ++tries) {
        if (thieves && tries % 4 != 0) {
          std::this_thread::yield();
        } else if (auto x = d.pop()) {
          take(*x);
        }
      }
    }
    while (auto x = d.pop()) take(*x);
  }
}

// Steals until the deque is empty after owner_done() turned true. Bumps
// `thieves_in` after the first attempt (the owner waits for every thief).
// Returns the number of items stolen.
template <class Deque, class Done, class Take>
std::uint64_t run_thief(Deque& d, Done&& owner_done, std::atomic<std::uint32_t>& thieves_in, Take&& take) {
  sk::core::Backoff backoff;
  std::uint64_t mine = 0;
  for (bool first = true;; first = false) {
    const bool done = owner_done();
    const auto s = d.steal();
    if (first) thieves_in.fetch_add(1);
    if (s) {
      take(s.value);
      ++mine;
      backoff.reset();
    } else if (s.state == sk::core::StealState::empty && done) {
      return mine;
    } else if (backoff.steps() < 16) {
      backoff.pause();
    } else {
      std::this_thread::yield();
    }
  }
}

}  // namespace coretest
