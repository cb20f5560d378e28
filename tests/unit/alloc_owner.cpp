#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <sk/alloc/owner.hpp>

TEST(Owner, self_is_alive_and_has_start_time) {
  auto me = sk::alloc::self_owner();
  EXPECT_EQ(me.pid, static_cast<std::uint32_t>(getpid()));
  EXPECT_NE(me.start, 0u);
  EXPECT_TRUE(sk::alloc::is_alive(me));
}

TEST(Owner, wrong_start_time_means_pid_was_reused) {
  auto me = sk::alloc::self_owner();
  EXPECT_FALSE(sk::alloc::is_alive(me.pid, me.start + 1));
}

TEST(Owner, killed_child_is_dead_even_as_unreaped_zombie) {
  pid_t pid = fork();
  if (pid == 0) {
    pause();
    _exit(0);
  }
  const auto start = sk::alloc::process_start_time(pid);
  EXPECT_TRUE(sk::alloc::is_alive(pid, start));
  kill(pid, SIGKILL);
  // Not reaped yet: a zombie. Give the kernel a moment to deliver the signal.
  for (int i = 0; i < 1000 && sk::alloc::is_alive(pid, start); ++i) usleep(1000);
  EXPECT_FALSE(sk::alloc::is_alive(pid, start));
  waitpid(pid, nullptr, 0);
  EXPECT_FALSE(sk::alloc::is_alive(pid, start));
}

TEST(Owner, child_after_fork_gets_its_own_id) {
  auto parent = sk::alloc::self_owner();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    auto child = sk::alloc::self_owner();
    std::uint32_t p = child.pid;
    (void)!write(fds[1], &p, sizeof p);
    _exit(0);
  }
  std::uint32_t got = 0;
  ASSERT_EQ(read(fds[0], &got, sizeof got), static_cast<ssize_t>(sizeof got));
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(got, static_cast<std::uint32_t>(pid));
  EXPECT_NE(got, parent.pid);
}
