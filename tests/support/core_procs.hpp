#pragma once
// Process helpers for the core/ process and crash tests (core knows nothing of
// processes; the tests do): an object in MAP_SHARED|MAP_ANONYMOUS memory that
// forked children share, forking a child that runs a function, bounded waits,
// and a liveness check for owner_dead callbacks.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "test_fork.hpp"

namespace coretest {

// One T constructed in anonymous shared memory; children forked afterwards
// see the same object. The parent unmaps it (children just exit).
template <class T>
class SharedObject {
 public:
  template <class... Args>
  explicit SharedObject(Args&&... args) {
    void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
    obj_ = new (p) T(std::forward<Args>(args)...);
  }
  ~SharedObject() {
    obj_->~T();
    ::munmap(obj_, sizeof(T));
  }
  SharedObject(const SharedObject&) = delete;
  SharedObject& operator=(const SharedObject&) = delete;
  T* operator->() const noexcept { return obj_; }
  T& operator*() const noexcept { return *obj_; }

 private:
  T* obj_ = nullptr;
};

// Forks a child that runs fn() and _exits 0 when it returns true, 1 when it
// returns false, 2 when it throws.
template <class Fn>
pid_t fork_child(Fn&& fn) {
  const pid_t pid = sktest::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid != 0) return pid;
  int rc = 2;
  try {
    rc = fn() ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d threw: %s\n", static_cast<int>(::getpid()), e.what());
  } catch (...) {
  }
  std::fflush(nullptr);
  ::_exit(rc);
}

// Waits for the child: its exit code, 128 + signal number if a signal ended
// it, or -1 if it was still running after `limit` (it is then killed).
inline int wait_child(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -2;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return -1;
}

// Children of one test: wait() reaps one; whatever is still unreaped when the
// test ends (an ASSERT returned early) is killed, so no child outlives it.
class Children {
 public:
  Children() = default;
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;
  ~Children() {
    for (pid_t p : pids_) wait_child(p, std::chrono::milliseconds(0));
  }
  template <class Fn>
  pid_t fork(Fn&& fn) {
    const pid_t p = fork_child(std::forward<Fn>(fn));
    pids_.push_back(p);
    return p;
  }
  int wait(pid_t pid, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    std::erase(pids_, pid);
    return wait_child(pid, limit);
  }

 private:
  std::vector<pid_t> pids_;
};

// owner_dead callback for tags that are pids: gone, or a zombie (it will run
// no more code and holds nothing).
inline bool process_gone(std::uint64_t pid) {
  if (pid == 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%llu/stat", static_cast<unsigned long long>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return true;
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return true;
  buf[n] = '\0';
  const char* paren = std::strrchr(buf, ')');
  return paren != nullptr && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

// Spins (yielding) until pred() or the limit; returns pred().
template <class Pred>
bool eventually(Pred&& pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::yield();
  }
  return true;
}

}  // namespace coretest
