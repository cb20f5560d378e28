// The one fork primitive (see sk/ipc/fork.hpp): the fork lock, the table of
// private descriptors every child closes, stdio flushing, death with the
// parent.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <vector>

#include <sk/ipc/fork.hpp>

namespace sk::ipc {

namespace {

pthread_mutex_t g_fork_mutex = PTHREAD_MUTEX_INITIALIZER;
thread_local int t_lock_depth = 0;

// Guarded by g_fork_mutex. A plain vector: it is only read in a child right
// after fork (one thread, a consistent copy, because the parent forked while
// holding the lock).
std::vector<int>& private_fds() {
  static std::vector<int> fds;
  return fds;
}

}  // namespace

ForkLock::ForkLock() noexcept : owner_(::getpid()) {
  if (t_lock_depth++ == 0) pthread_mutex_lock(&g_fork_mutex);
}

ForkLock::~ForkLock() {
  if (owner_ != ::getpid()) return;  // copied into a child by fork: its lock is fresh
  if (--t_lock_depth == 0) pthread_mutex_unlock(&g_fork_mutex);
}

void register_private_fd(int fd) noexcept {
  if (fd < 0) return;
  ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
  ForkLock lock;
  auto& v = private_fds();
  if (std::find(v.begin(), v.end(), fd) != v.end()) return;
  try {
    v.push_back(fd);
  } catch (...) {
    // Out of memory: the descriptor stays close-on-exec but a forked child
    // keeps a copy. Nothing else can be done without memory.
  }
}

void unregister_private_fd(int fd) noexcept {
  if (fd < 0) return;
  ForkLock lock;
  auto& v = private_fds();
  v.erase(std::remove(v.begin(), v.end(), fd), v.end());
}

void close_private_fd(int& fd) noexcept {
  if (fd < 0) return;
  ForkLock lock;  // unregister and close as one step: no fork copies a stale entry
  unregister_private_fd(fd);
  ::close(fd);
  fd = -1;
}

int private_fd_count() noexcept {
  ForkLock lock;
  return static_cast<int>(private_fds().size());
}

void flush_stdio() noexcept {
  // The iostreams first: with sync_with_stdio(false) they buffer on their own
  // and their flush lands in the fds directly; with it (the default) they
  // write through to the C streams that fflush then empties.
  try {
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
  } catch (...) {
    // a stream with exceptions() set whose fd is gone: nothing more to do
  }
  std::fflush(nullptr);
}

pid_t fork_process(const ChildSetup& setup) noexcept {
  ForkLock lock;
  flush_stdio();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  // The child: one thread, the one that held the lock. Give it a fresh lock.
  pthread_mutex_init(&g_fork_mutex, nullptr);
  t_lock_depth = 0;
  auto& v = private_fds();
  auto kept = v.begin();  // compacted in place: no allocation in the child
  for (const int fd : v) {
    if (std::find(setup.keep.begin(), setup.keep.end(), fd) != setup.keep.end()) {
      *kept++ = fd;
    } else {
      ::close(fd);
    }
  }
  v.erase(kept, v.end());
  if (setup.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(0);  // the parent died before prctl took effect
  }
  return 0;
}

[[noreturn]] void exit_child(int code) noexcept {
  flush_stdio();
  ::_exit(code);
}

}  // namespace sk::ipc
