#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <vector>

#include <sk/alloc/errors.hpp>
#include <sk/alloc/owner.hpp>

namespace {

using sk::alloc::OwnerId;

// Forks a child that reports its owner id through a pipe and then runs `rest`.
template <class Rest>
std::pair<pid_t, OwnerId> fork_reporting(Rest rest) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    const std::uint64_t me = sk::alloc::self_owner().pack();
    (void)!write(fds[1], &me, sizeof me);
    rest();
    _exit(0);
  }
  std::uint64_t got = 0;
  EXPECT_EQ(read(fds[0], &got, sizeof got), static_cast<ssize_t>(sizeof got));
  close(fds[0]);
  close(fds[1]);
  return {pid, OwnerId::unpack(got)};
}

}  // namespace

TEST(Owner, self_is_registered_alive_and_compact_is_nonzero) {
  const OwnerId me = sk::alloc::self_owner();
  EXPECT_FALSE(me.empty());
  EXPECT_NE(me.gen, 0u);
  EXPECT_NE(me.compact(), 0u);
  EXPECT_TRUE(sk::alloc::is_alive(me));
  EXPECT_TRUE(sk::alloc::is_alive_compact(me.compact()));
  EXPECT_EQ(sk::alloc::owner_pid(me), static_cast<std::uint32_t>(getpid()));
  EXPECT_EQ(OwnerId::unpack(me.pack()), me);
}

TEST(Owner, another_generation_of_a_slot_is_dead) {
  const OwnerId me = sk::alloc::self_owner();
  EXPECT_FALSE(sk::alloc::is_alive(OwnerId{me.slot, me.gen + 1}));
  EXPECT_FALSE(sk::alloc::is_alive_compact(OwnerId{me.slot, me.gen + 1}.compact()));
}

TEST(Owner, words_no_owner_wrote_are_dead) {
  EXPECT_FALSE(sk::alloc::is_alive(OwnerId{}));
  EXPECT_FALSE(sk::alloc::is_alive(OwnerId{sk::alloc::kOwnerSlots + 1, 1}));
  EXPECT_FALSE(sk::alloc::is_alive(OwnerId::unpack(~std::uint64_t{0})));
  EXPECT_FALSE(sk::alloc::is_alive_compact(0));
  EXPECT_FALSE(sk::alloc::is_alive_compact(0x0000FFFFu));
}

TEST(Owner, killed_child_is_dead_even_as_unreaped_zombie) {
  auto [pid, child] = fork_reporting([] { pause(); });
  EXPECT_TRUE(sk::alloc::is_alive(child));
  EXPECT_TRUE(sk::alloc::is_alive_compact(child.compact()));
  kill(pid, SIGKILL);
  // Not reaped yet: the kernel released the child's lock as it died.
  for (int i = 0; i < 1000 && sk::alloc::is_alive(child); ++i) usleep(1000);
  EXPECT_FALSE(sk::alloc::is_alive(child));
  EXPECT_FALSE(sk::alloc::is_alive_compact(child.compact()));
  waitpid(pid, nullptr, 0);
  EXPECT_FALSE(sk::alloc::is_alive(child));
}

TEST(Owner, child_after_fork_gets_its_own_id_and_sees_its_parent_alive) {
  const OwnerId parent = sk::alloc::self_owner();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    const OwnerId child = sk::alloc::self_owner();
    const char ok = child != parent && !child.empty() && sk::alloc::is_alive(parent) && sk::alloc::is_alive(child)
                        ? 'y'
                        : 'n';
    (void)!write(fds[1], &ok, 1);
    _exit(0);
  }
  char ok = 0;
  ASSERT_EQ(read(fds[0], &ok, 1), 1);
  waitpid(pid, nullptr, 0);
  EXPECT_EQ(ok, 'y');
}

TEST(Owner, a_stopped_process_is_alive) {
  auto [pid, child] = fork_reporting([] { pause(); });
  kill(pid, SIGSTOP);
  usleep(20'000);
  EXPECT_TRUE(sk::alloc::is_alive(child));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_FALSE(sk::alloc::is_alive(child));
}

// The check needs no descriptor: a process at its limit still tells a live
// owner from a dead one (the pid + /proc check called every live owner dead).
TEST(Owner, out_of_descriptors_live_is_alive_and_dead_is_dead) {
  (void)sk::alloc::self_owner();  // as any process that uses a segment: registered (children inherit it)
  auto [live_pid, live] = fork_reporting([] { pause(); });
  auto [dead_pid, dead] = fork_reporting([] {});
  waitpid(dead_pid, nullptr, 0);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  if (pid == 0) {
    struct rlimit rl {64, 64};
    setrlimit(RLIMIT_NOFILE, &rl);
    std::vector<int> held;
    for (int fd; (fd = dup(0)) >= 0;) held.push_back(fd);
    const bool emfile = errno == EMFILE;
    const char ok = emfile && sk::alloc::is_alive(live) && !sk::alloc::is_alive(dead) &&
                            sk::alloc::is_alive(sk::alloc::self_owner())
                        ? 'y'
                        : 'n';
    (void)!write(fds[1], &ok, 1);
    _exit(0);
  }
  char ok = 0;
  ASSERT_EQ(read(fds[0], &ok, 1), 1);
  waitpid(pid, nullptr, 0);
  kill(live_pid, SIGKILL);
  waitpid(live_pid, nullptr, 0);
  EXPECT_EQ(ok, 'y');
}

TEST(Owner, owner_of_child_finds_the_forked_child) {
  auto [pid, child] = fork_reporting([] { pause(); });
  EXPECT_EQ(sk::alloc::owner_of_child(pid), child);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  EXPECT_THROW(sk::alloc::owner_of_child(pid, std::chrono::milliseconds(50)), sk::alloc::OwnerRegistryError);
}
