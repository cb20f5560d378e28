// Resource limits (issue #10): a full /dev/shm gives a clear exception when a
// segment is created, never a SIGBUS later. Each test runs in a forked child
// with a private mount namespace and a small tmpfs mounted on /dev/shm (the
// real /dev/shm is untouched); where that is not permitted the test is
// skipped with the reason.
//
// Also: no inodes left on /dev/shm, and no descriptors left in the process
// (EMFILE) give messages that say what is exhausted and what to do.
#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/header.hpp>
#include <sk/pipe.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/alloc/owner.hpp>

#include "test_fork.hpp"

namespace {

constexpr int kNotPermitted = 77;

struct Small {
  sk::Atomic<long> n;
};
SK_SHARE(Small, n);

struct ChildResult {
  int code = -1;
  std::string skip_reason;
};

// Runs body() in a forked child whose /dev/shm is a fresh tmpfs mounted with
// `mount_opts`. Exit 0: body passed; kNotPermitted: namespace or mount refused
// (the reason comes back through a pipe); 1: a gtest assertion failed in the
// child (printed there); 128+sig: the child was killed (e.g. SIGBUS).
template <class Body>
ChildResult in_small_shm(const char* mount_opts, Body&& body) {
  int why[2];
  if (::pipe(why) != 0) return {};
  std::fflush(nullptr);
  const pid_t pid = sktest::fork();
  if (pid == 0) {
    ::close(why[0]);
    auto refuse = [&](const char* step) {
      const std::string msg = std::string(step) + ": " + std::strerror(errno);
      (void)!::write(why[1], msg.data(), msg.size());
      ::_exit(kNotPermitted);
    };
    if (::unshare(CLONE_NEWNS) != 0) refuse("unshare(CLONE_NEWNS)");
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) refuse("mount(/, MS_REC|MS_PRIVATE)");
    if (::mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, mount_opts) != 0) refuse("mount tmpfs on /dev/shm");
    ::close(why[1]);
    try {
      body();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "unexpected exception: " << e.what();
    }
    std::fflush(nullptr);
    ::_exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  ::close(why[1]);
  ChildResult r;
  char buf[256];
  ssize_t n = 0;
  while ((n = ::read(why[0], buf, sizeof buf)) > 0) r.skip_reason.append(buf, static_cast<std::size_t>(n));
  ::close(why[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

// (variadic: the body is a lambda whose commas the preprocessor would split)
#define SK_RUN_IN_SMALL_SHM(opts, ...)                                                          \
  do {                                                                                          \
    const ChildResult r_ = in_small_shm(opts, __VA_ARGS__);                                     \
    if (r_.code == kNotPermitted) GTEST_SKIP() << "cannot mount a private tmpfs on /dev/shm: " << r_.skip_reason; \
    ASSERT_EQ(r_.code, 0) << "the child failed (see its output above); 128+7 would be SIGBUS"; \
  } while (0)

// Files in /dev/shm other than the owner registry (sk/alloc/owner.hpp: one
// per user, made by the first process that uses a segment, kept for good).
std::vector<std::string> shm_files() {
  std::vector<std::string> out;
  const std::string registry = sk::alloc::owner_registry_path().substr(std::string("/dev/shm/").size());
  if (DIR* d = ::opendir("/dev/shm")) {
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.' && e->d_name != registry) out.emplace_back(e->d_name);
    }
    ::closedir(d);
  }
  return out;
}

// Expects the message of a failed creation to say the space is gone, how
// many bytes were asked for and what to do.
void expect_full_message(const std::string& what, std::size_t bytes) {
  std::printf("[shm_full] message: %s\n", what.c_str());
  EXPECT_NE(what.find("/dev/shm is full"), std::string::npos) << what;
  EXPECT_NE(what.find(std::to_string(bytes)), std::string::npos) << "no request size in: " << what;
  EXPECT_NE(what.find("smaller capacity"), std::string::npos) << "no advice in: " << what;
  EXPECT_NE(what.find("sweep_stale_segments"), std::string::npos) << "no advice in: " << what;
}

// Writes `fill` to every byte of [from, to) of `a`, then reads it back.
bool write_every_byte(sk::alloc::Arena& a, std::size_t from, unsigned char fill) {
  std::memset(a.base() + from, fill, a.capacity() - from);
  for (std::size_t i = from; i < a.capacity(); ++i)
    if (static_cast<unsigned char>(a.base()[i]) != fill) return false;
  return true;
}

// Creates segments "<prefix>0", "<prefix>1", ... of `bytes` until creation
// fails (at most `limit`); on_fail() runs first thing in the handler.
struct Filled {
  std::vector<sk::alloc::Arena> arenas;
  std::optional<std::string> failure;
};
Filled create_until_failure(const std::string& prefix, std::size_t bytes, int limit,
                            const std::function<void()>& on_fail = {}) {
  Filled f;
  for (int i = 0; i < limit && !f.failure; ++i) {
    try {
      f.arenas.push_back(sk::alloc::Arena::create(prefix + std::to_string(i), bytes));
    } catch (const sk::alloc::SegmentError& e) {
      if (on_fail) on_fail();
      f.failure = e.what();
    }
  }
  return f;
}

}  // namespace

TEST(ShmFull, procs_share_above_free_space_is_a_clear_error_and_leaves_no_file) {
  SK_RUN_IN_SMALL_SHM("size=1m", [] {
    constexpr std::size_t kAsk = 4u << 20;
    try {
      (void)sk::Share<Small>::create("full-share", kAsk);
      ADD_FAILURE() << "a 4 MiB Share was created on a 1 MiB /dev/shm";
    } catch (const sk::alloc::SegmentError& e) {
      expect_full_message(e.what(), kAsk);
    }
    EXPECT_TRUE(shm_files().empty()) << "the failed creation left a file behind";
    // The failed attempt gave its space back: a Share that fits is fine.
    auto ok = sk::Share<Small>::create("fits", 256 * 1024);
    ok->n += 5;
    EXPECT_EQ(ok->n.load(), 5);
    sk::Share<Small>::unlink("fits");
  });
}

TEST(ShmFull, procs_named_pipe_above_free_space_is_a_clear_error_and_leaves_no_file) {
  SK_RUN_IN_SMALL_SHM("size=1m", [] {
    const sk::PipeOptions opts;  // default: a 32 MiB arena
    try {
      (void)sk::Pipe::pair_named("full-pipe", opts);
      ADD_FAILURE() << "a named Pipe with a 32 MiB arena was created on a 1 MiB /dev/shm";
    } catch (const sk::alloc::SegmentError& e) {
      expect_full_message(e.what(), opts.arena_bytes);
    }
    EXPECT_TRUE(shm_files().empty()) << "the failed creation left a file behind";
    sk::PipeOptions small;
    small.ring_bytes = 16 * 1024;
    small.arena_bytes = 256 * 1024;
    auto [anchor, point] = sk::Pipe::pair_named("fits", small);
    sk::Pipe::unlink("fits");
  });
}

TEST(ShmFull, procs_fill_until_creation_fails_then_every_byte_is_writable) {
  SK_RUN_IN_SMALL_SHM("size=1m", [] {
    constexpr std::size_t kSeg = 96 * 1024;
    auto [arenas, failure] = create_until_failure("fill-", kSeg, 64);
    ASSERT_TRUE(failure.has_value()) << "64 segments of 96 KiB fit in a 1 MiB tmpfs?";
    expect_full_message(*failure, kSeg);
    ASSERT_GE(arenas.size(), 5u);
    EXPECT_EQ(shm_files().size(), arenas.size()) << "the failed creation left a file behind";
    std::printf("[shm_full] %zu segments of %zu bytes fit in a 1 MiB /dev/shm\n", arenas.size(), kSeg);
    // Every byte of every segment was reserved at creation: touching them
    // all now is no SIGBUS (a sparse file would die here, see the next test).
    for (std::size_t i = 0; i < arenas.size(); ++i)
      EXPECT_TRUE(write_every_byte(arenas[i], sk::alloc::kHeaderBytes, static_cast<unsigned char>(0xA0 + i)));
    // Space comes back: remove one, and creation succeeds again.
    sk::alloc::Arena::unlink("fill-0");
    arenas.erase(arenas.begin());
    auto again = sk::alloc::Arena::create("fill-again", kSeg);
    EXPECT_TRUE(write_every_byte(again, sk::alloc::kHeaderBytes, 0x5A));
    // The allocator works in every one of them.
    for (auto& a : arenas) EXPECT_NE(a.allocate(64), sk::alloc::kNullOffset);
    for (const auto& f : shm_files()) ::unlink(("/dev/shm/" + f).c_str());
  });
}

// Control: the same small tmpfs does turn a sparse (ftruncate'd, not
// reserved) file into a SIGBUS on first touch. This is what the tests above
// would catch if segment creation stopped reserving its pages.
TEST(ShmFull, procs_control_sparse_file_on_full_tmpfs_is_sigbus) {
  SK_RUN_IN_SMALL_SHM("size=1m", [] {
    const std::string path = "/dev/shm/sparse";
    const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    constexpr std::size_t kBytes = 4u << 20;
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(kBytes)), 0);
    void* p = ::mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ASSERT_NE(p, MAP_FAILED);
    std::fflush(nullptr);
    const pid_t toucher = sktest::fork();
    if (toucher == 0) {
      // Default action for SIGBUS, set with the raw system call: under ASan
      // its own handler (which sigaction() cannot replace) would turn the
      // SIGBUS into a report and an abort.
      struct {
        void (*handler)(int);
        unsigned long flags;
        void (*restorer)();
        unsigned long mask;
      } dfl{SIG_DFL, 0, nullptr, 0};
      ::syscall(SYS_rt_sigaction, SIGBUS, &dfl, nullptr, sizeof dfl.mask);
      std::memset(p, 1, kBytes);
      ::_exit(0);
    }
    int st = 0;
    ASSERT_EQ(::waitpid(toucher, &st, 0), toucher);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS) << "status " << st;
    ::munmap(p, kBytes);
    ::close(fd);
    ::unlink(path.c_str());
  });
}

TEST(ShmFull, procs_no_free_inodes_is_a_clear_error) {
  SK_RUN_IN_SMALL_SHM("size=8m,nr_inodes=4", [] {
    auto [arenas, failure] = create_until_failure("inode-", 64 * 1024, 16);
    ASSERT_TRUE(failure.has_value()) << "16 files fit in a tmpfs with nr_inodes=4?";
    std::printf("[shm_full] message: %s\n", failure->c_str());
    EXPECT_NE(failure->find("no free inodes"), std::string::npos) << *failure;
    EXPECT_NE(failure->find("sweep_stale_segments"), std::string::npos) << "no advice in: " << *failure;
    EXPECT_EQ(shm_files().size(), arenas.size());
    for (const auto& f : shm_files()) ::unlink(("/dev/shm/" + f).c_str());
  });
}

TEST(ShmFull, procs_too_many_open_files_is_a_clear_error) {
  SK_RUN_IN_SMALL_SHM("size=8m", [] {
    std::vector<sk::alloc::Arena> arenas;
    arenas.push_back(sk::alloc::Arena::create("fd-first", 16 * 1024));
    // Leave two descriptors free: each named segment keeps one open while
    // mapped. Lower the limit just above the highest open descriptor, take
    // every free number below it, then give two back.
    int highest = 0;
    for (int fd = 0; fd < 4096; ++fd)
      if (::fcntl(fd, F_GETFD) != -1) highest = fd;
    const rlimit lim{static_cast<rlim_t>(highest + 8), static_cast<rlim_t>(highest + 8)};
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0) << std::strerror(errno);
    std::vector<int> ballast;
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) ballast.push_back(fd);
    ASSERT_EQ(errno, EMFILE);
    ASSERT_GE(ballast.size(), 2u);
    for (int i = 0; i < 2; ++i) {
      ::close(ballast.back());
      ballast.pop_back();
    }
    // While no descriptor is free, touch nothing polymorphic: the
    // sanitizers' vptr check probes memory through a pipe() and would
    // report a false "invalid vptr". Free two first, then read what().
    auto breathe = [&ballast] {
      for (int i = 0; i < 2 && !ballast.empty(); ++i) {
        ::close(ballast.back());
        ballast.pop_back();
      }
    };
    auto [more, failure] = create_until_failure("fd-", 16 * 1024, 16, breathe);
    ASSERT_TRUE(failure.has_value()) << "16 more segments opened with two descriptors free";
    std::printf("[shm_full] message: %s\n", failure->c_str());
    EXPECT_NE(failure->find("too many open files"), std::string::npos) << *failure;
    EXPECT_NE(failure->find("ulimit -n"), std::string::npos) << "no advice in: " << *failure;
    // Opening an existing one fails the same clear way.
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) ballast.push_back(fd);
    std::optional<std::string> open_failure;
    try {
      (void)sk::alloc::Arena::open("fd-first");
    } catch (const sk::alloc::SegmentError& e) {
      breathe();
      open_failure = e.what();
    }
    ASSERT_TRUE(open_failure.has_value()) << "opened a segment with no descriptor left";
    std::printf("[shm_full] message: %s\n", open_failure->c_str());
    EXPECT_NE(open_failure->find("too many open files"), std::string::npos) << *open_failure;
    std::printf("[shm_full] %zu segments mapped when the descriptors ran out\n", arenas.size() + more.size());
    more.clear();
    arenas.clear();
    for (int fd : ballast) ::close(fd);
    for (const auto& f : shm_files()) ::unlink(("/dev/shm/" + f).c_str());
  });
}
