#pragma once
// The one fork primitive: every process this library starts (a Skprocess's
// supervisor and workers, Pool workers in both modes, test helpers above the
// ipc layer) is created by fork_process(), and ends with exit_child().
//
// What it guarantees:
//   - one process-wide fork lock (ForkLock): a thread that creates descriptors
//     meant for one child (an outcome pipe) holds it from creating them until
//     the parent's copies are closed or registered, so a fork on another
//     thread never copies them half-way (that child would hold another
//     child's pipe open, and the parent's wait for EOF would last as long as
//     the wrong child: seen with a Skprocess wait() behind a Pool item);
//   - private descriptors: a descriptor registered with register_private_fd()
//     (the parent's end of an outcome pipe, a pidfd, a worker's own outcome
//     write end) belongs to one relationship; every child closes all of them
//     right after fork, except those it is told to keep. Every such descriptor
//     is also close-on-exec;
//   - stdio: the parent's C and C++ streams are flushed before fork, so a
//     child never writes again what the parent had buffered (`./prog | cat`
//     would show it twice); exit_child() flushes what the child wrote, then
//     _exit()s (no atexit handlers, no static destructors of the parent's
//     objects);
//   - death with the parent (optional): PR_SET_PDEATHSIG(SIGKILL) plus a
//     getppid() check, so a child whose parent died before prctl took effect
//     exits at once. Linux sends the signal when the *thread* that forked
//     exits, so a child forked from a short-lived thread should watch its
//     parent another way (the supervisor uses a pidfd).
// A child killed by a signal loses what was still in its stdio buffers: that
// is any output after its last newline on a terminal, or after its last flush
// (sk::ipc::flush_stdio, fflush, std::endl) on a pipe or a file.
#include <sys/types.h>

#include <initializer_list>
#include <span>

namespace sk::ipc {

// Holds the process-wide fork lock for its scope. Re-entrant on one thread
// (fork_process() takes it too). In a child forked while it was held, the
// lock is fresh and unheld; a ForkLock object copied into the child by fork
// does nothing when it is destroyed there.
class ForkLock {
 public:
  ForkLock() noexcept;
  ~ForkLock();
  ForkLock(const ForkLock&) = delete;
  ForkLock& operator=(const ForkLock&) = delete;

 private:
  pid_t owner_;
};

struct ChildSetup {
  // PR_SET_PDEATHSIG(SIGKILL) in the child, and _exit(0) at once if the
  // parent is already gone.
  bool die_with_parent = true;
  // Registered private descriptors this child keeps (its own outcome write
  // end, say). Every other registered one is closed in the child.
  std::span<const int> keep{};
};

// fflush(nullptr) plus std::cout/cerr/clog.flush().
void flush_stdio() noexcept;

// flush_stdio(), then fork() under the fork lock; in the child, before it
// returns there: the lock is reset, every private descriptor not in
// setup.keep is closed (and unregistered), and die_with_parent is applied.
// Returns what fork() returns (-1 with errno set on failure).
pid_t fork_process(const ChildSetup& setup = {}) noexcept;

// flush_stdio(), then _exit(code).
[[noreturn]] void exit_child(int code) noexcept;

// Private descriptors (see the top). Both are cheap (the fork lock and a
// small table); unregister before closing, or use close_private_fd. A
// descriptor registered twice is kept once.
void register_private_fd(int fd) noexcept;
void unregister_private_fd(int fd) noexcept;
// unregister_private_fd(fd), close(fd), fd = -1. No-op for fd < 0.
void close_private_fd(int& fd) noexcept;
// How many private descriptors this process has registered (tests).
int private_fd_count() noexcept;

}  // namespace sk::ipc
