#pragma once
// Fork helpers for the Share tests: run a function in a child process and
// collect its exit status.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>
#include <vector>

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

// Runs fn() in a forked child; the child exits 0 if fn returns true, 1 if
// false, 2 if it throws (printing what()).
template <class Fn>
pid_t fork_child(Fn&& fn) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 1;
    try {
      rc = fn() ? 0 : 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child %d threw: %s\n", static_cast<int>(::getpid()), e.what());
      rc = 2;
    } catch (...) {
      rc = 2;
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  return pid;
}

// Exit code of the child, or 128 + signal number; -1 if it did not end
// within `limit` (then it is killed).
inline int wait_child(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Forks n children running fn(i); returns true if all exited 0.
template <class Fn>
bool run_children(int n, Fn&& fn) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) pids.push_back(fork_child([&fn, i] { return fn(i); }));
  bool ok = true;
  for (pid_t p : pids) ok = wait_child(p) == 0 && ok;
  return ok;
}

}  // namespace sktest
