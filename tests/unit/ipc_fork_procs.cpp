// The one fork primitive (sk/ipc/fork.hpp), tested at the ipc layer: private
// descriptors, the fork lock, the child's fresh lock, death with the parent.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <sk/ipc/fork.hpp>

using namespace std::chrono_literals;

namespace {

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Runs fn in a child made by fork_process; returns its exit code (or 100 +
// signal). The child reports failures with write(2): _exit flushes nothing.
template <class Fn>
int in_child(Fn&& fn, const sk::ipc::ChildSetup& setup = {}) {
  const pid_t pid = sk::ipc::fork_process(setup);
  if (pid == 0) ::_exit(fn());
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

}  // namespace

TEST(Fork, private_descriptors_are_closed_in_children_unless_kept) {
  int a[2], b[2];
  ASSERT_EQ(::pipe(a), 0);
  ASSERT_EQ(::pipe(b), 0);
  const int before = sk::ipc::private_fd_count();
  sk::ipc::register_private_fd(a[0]);
  sk::ipc::register_private_fd(a[1]);
  sk::ipc::register_private_fd(a[1]);  // twice: kept once
  EXPECT_EQ(sk::ipc::private_fd_count(), before + 2);
  EXPECT_NE(::fcntl(a[0], F_GETFD) & FD_CLOEXEC, 0);  // registered descriptors are close-on-exec
  const int keep[] = {a[1]};
  const int rc = in_child(
      [&] {
        if (fd_open(a[0])) return 1;                      // registered, not kept: closed
        if (!fd_open(a[1])) return 2;                     // kept
        if (!fd_open(b[0]) || !fd_open(b[1])) return 3;   // never registered: untouched
        if (sk::ipc::private_fd_count() != 1) return 4;   // the kept one stays registered
        // A grandchild that keeps nothing closes the kept one too.
        const pid_t g = sk::ipc::fork_process();
        if (g == 0) ::_exit(fd_open(a[1]) ? 5 : 0);
        int st = 0;
        ::waitpid(g, &st, 0);
        return WIFEXITED(st) ? WEXITSTATUS(st) : 6;
      },
      {.die_with_parent = true, .keep = keep});
  EXPECT_EQ(rc, 0);
  EXPECT_TRUE(fd_open(a[0]) && fd_open(a[1]));  // the parent's are untouched
  sk::ipc::close_private_fd(a[0]);
  sk::ipc::close_private_fd(a[1]);
  EXPECT_EQ(a[0], -1);
  EXPECT_EQ(sk::ipc::private_fd_count(), before);
  ::close(b[0]);
  ::close(b[1]);
}

// A thread holding the fork lock (creating a child's pipe, say) delays
// another thread's fork until it lets go, so that fork cannot copy the pipe.
TEST(Fork, threads_2_fork_waits_for_the_lock_holder) {
  std::atomic<int> phase{0};
  std::atomic<bool> forked{false};
  std::thread holder([&] {
    sk::ipc::ForkLock lock;
    phase = 1;
    std::this_thread::sleep_for(200ms);
    EXPECT_FALSE(forked.load()) << "fork_process ran while another thread held the fork lock";
    phase = 2;
  });
  while (phase.load() == 0) std::this_thread::yield();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(in_child([] { return 0; }), 0);
  forked = true;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
  EXPECT_EQ(phase.load(), 2);
  holder.join();
}

// The lock is re-entrant on one thread, and a child forked while it was held
// gets a fresh one: it can take it and fork again.
TEST(Fork, child_forked_under_the_lock_can_fork_again) {
  sk::ipc::ForkLock outer;
  const int rc = in_child([] {
    sk::ipc::ForkLock again;  // would deadlock if the child inherited a held lock
    const pid_t g = sk::ipc::fork_process();
    if (g == 0) ::_exit(0);
    int st = 0;
    ::waitpid(g, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 7;
  });
  EXPECT_EQ(rc, 0);
}

// die_with_parent: a grandchild dies when the child that forked it exits.
TEST(Fork, die_with_parent_kills_the_orphan) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const pid_t child = sk::ipc::fork_process();
  if (child == 0) {
    const pid_t g = sk::ipc::fork_process({.die_with_parent = true});
    if (g == 0) {
      for (;;) ::pause();
    }
    const auto gp = static_cast<int>(g);
    if (::write(p[1], &gp, sizeof gp) != sizeof gp) ::_exit(2);
    ::_exit(0);
  }
  ::close(p[1]);
  int g = 0;
  ASSERT_EQ(::read(p[0], &g, sizeof g), static_cast<ssize_t>(sizeof g));
  ::close(p[0]);
  int st = 0;
  ::waitpid(child, &st, 0);
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::kill(g, 0) != 0;  // reaped by init once killed
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone) << "the grandchild outlived its parent by 2 s";
  if (!gone) ::kill(g, SIGKILL);
}

// exit_child flushes what the child wrote; fork_process flushed the parent's
// buffer first, so it is not written twice.
TEST(Fork, stdio_is_flushed_once_across_fork_and_exit_child) {
  char path[] = "/tmp/sk-fork-stdio-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  std::FILE* f = ::fdopen(fd, "w");
  ASSERT_NE(f, nullptr);
  std::setvbuf(f, nullptr, _IOFBF, 4096);
  std::fputs("parent\n", f);  // buffered, not yet written
  const pid_t pid = sk::ipc::fork_process();
  if (pid == 0) {
    std::fputs("child\n", f);
    sk::ipc::exit_child(0);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  std::fclose(f);
  char buf[64] = {};
  const int rfd = ::open(path, O_RDONLY);
  const ssize_t n = ::read(rfd, buf, sizeof buf - 1);
  ::close(rfd);
  ::unlink(path);
  ASSERT_GT(n, 0);
  EXPECT_STREQ(buf, "parent\nchild\n");
}
