#pragma once
// Fork helpers for the Share tests: the alloc tests' spawn/reap, plus
// running N children at once and knowing whether we run under TSan (fork
// tests in unit files are skipped there).
#include <vector>

#include "alloc_fork.hpp"

namespace sktest {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#else
inline constexpr bool kTsan = false;
#endif

// fn() in a forked child: exit 0 if it returns true, 1 if false, 2 if it throws.
using alloctest::spawn;
// Exit code, 128 + signal if killed, -1 if still running after the limit (then killed).
using alloctest::reap;

// Forks n children running fn(i); returns true if all exited 0.
template <class Fn>
bool run_children(int n, Fn&& fn) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) pids.push_back(spawn([&fn, i] { return fn(i); }));
  bool ok = true;
  for (pid_t p : pids) ok = reap(p) == 0 && ok;
  return ok;
}

}  // namespace sktest
