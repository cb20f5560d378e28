#pragma once
// Fork helpers for the alloc process tests: run a lambda in a child, wait for
// it with a generous limit (a hang is a failure, not a stuck CI), kill it.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <thread>

#include "test_fork.hpp"

namespace alloctest {

// Runs fn() in a forked child: exit 0 if it returns true, 1 if false, 2 if it throws.
template <class Fn>
pid_t spawn(Fn&& fn) {
  const pid_t pid = sktest::fork();
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

// Exit code, 128 + signal if killed, -1 if still running after `limit` (then killed and reaped).
inline int reap(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -2;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

inline void kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
}

}  // namespace alloctest
