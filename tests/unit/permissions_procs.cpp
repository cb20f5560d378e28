// Permissions of named segments, proved with a second user for real. CI runs
// the tests as root; forked children drop to user nobody (65534) to play
// "another user on the same machine". For raw arenas (Arena::create), named
// Shares (Share<S>::create) and named Pipes (Pipe::pair_named):
//   - the file in /dev/shm is a regular file, mode 0600 whatever the umask,
//     owned by the creator's uid and gid, with the creator's uid in its name;
//   - another user can neither open(2) it nor attach to it through our API,
//     cannot delete it, and the same name used by another user is another file;
//   - a file, symlink, FIFO or socket pre-created at our path (by another user
//     or by us) is refused by create() and open() with a specific exception:
//     never used, never truncated, never followed, its bytes unchanged.
// alloc_segment_errors.cpp covers the single-user cases at the Arena level
// (wrong mode, chown'd file, symlink to a segment, directory); this file adds
// a real second uid, the Share and Pipe level, and unchanged contents.
#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/errors.hpp>
#include <sk/alloc/segment.hpp>
#include <sk/pipe.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>

#include "alloc_fork.hpp"
#include "test_fork.hpp"

using namespace std::chrono_literals;
using sk::alloc::Arena;
using sk::alloc::BadSegment;
using sk::alloc::SegmentError;

namespace {

constexpr uid_t kNobody = 65534;
constexpr gid_t kNogroup = 65534;
constexpr std::size_t kBytes = std::size_t{1} << 20;

struct PermState {
  sk::Atomic<long> value;
  sk::Atomic<long> other;
};
SK_SHARE(PermState, value, other);
using PermShare = sk::Share<PermState>;

const sk::alloc::Layout kArenaLayout{0x5045524D54455354ull, "PermTest{bytes}"};

sk::PipeOptions small_pipe() {
  sk::PipeOptions o;
  o.arena_bytes = 2 * kBytes;
  return o;
}

// ---- the three kinds of named objects ------------------------------------------

enum class Kind { arena, share, pipe };
constexpr Kind kKinds[] = {Kind::arena, Kind::share, Kind::pipe};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::arena: return "Arena";
    case Kind::share: return "Share";
    case Kind::pipe: return "Pipe";
  }
  return "?";
}

// Keeps one named object of any kind alive.
struct Held {
  std::optional<Arena> arena;
  std::optional<PermShare> share;
  std::optional<std::pair<sk::Pipe::Anchor, sk::Pipe::Point>> pipe;
};

Held create(Kind k, const std::string& name) {
  Held h;
  switch (k) {
    case Kind::arena: h.arena.emplace(Arena::create(name, kBytes, kArenaLayout)); break;
    case Kind::share: h.share.emplace(PermShare::create(name, kBytes)); break;
    case Kind::pipe: h.pipe.emplace(sk::Pipe::pair_named(name, small_pipe())); break;
  }
  return h;
}

// Attaches like an unrelated program would (and lets go at once).
void open(Kind k, const std::string& name) {
  switch (k) {
    case Kind::arena: (void)Arena::open(name, kArenaLayout, 500ms); break;
    case Kind::share: (void)PermShare::open(name, 500ms); break;
    case Kind::pipe: (void)sk::Pipe::attach_point(name); break;
  }
}

// ---- names and files -------------------------------------------------------------

std::string shm_path_for(uid_t uid, const std::string& name) {
  return "/dev/shm/sk-" + std::to_string(uid) + "-" + name;
}

// A unique name, our path and nobody's path for it; both removed before and after.
struct Names {
  std::string name;
  std::string ours;
  std::string nobodys;
  explicit Names(const std::string& what)
      : name("perm-" + std::to_string(::getpid()) + "-" + what),
        ours(Arena::path_for(name)),
        nobodys(shm_path_for(kNobody, name)) {
    cleanup();
  }
  ~Names() { cleanup(); }
  Names(const Names&) = delete;
  Names& operator=(const Names&) = delete;
  void cleanup() const {
    ::unlink(ours.c_str());
    ::unlink(nobodys.c_str());
  }
};

// Everything about a path that an attack could change (lstat; contents of a
// regular file; target of a symlink).
struct FileState {
  bool exists = false;
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  off_t size = 0;
  ino_t ino = 0;
  std::string content;  // bytes of a regular file, target of a symlink
  bool operator==(const FileState&) const = default;
};

FileState snapshot(const std::string& path) {
  FileState f;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return f;
  f.exists = true;
  f.mode = st.st_mode;
  f.uid = st.st_uid;
  f.gid = st.st_gid;
  f.size = st.st_size;
  f.ino = st.st_ino;
  if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    const ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
    if (n > 0) f.content.assign(buf, static_cast<std::size_t>(n));
  } else if (S_ISREG(st.st_mode)) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      char buf[65536];
      ssize_t n = 0;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) f.content.append(buf, static_cast<std::size_t>(n));
      ::close(fd);
    }
  }
  return f;
}

std::string describe(const FileState& f) {
  if (!f.exists) return "absent";
  char mode[16];
  std::snprintf(mode, sizeof mode, "%06o", static_cast<unsigned>(f.mode));
  return std::string("mode ") + mode + " uid " + std::to_string(f.uid) + " gid " + std::to_string(f.gid) +
         " size " + std::to_string(f.size) + " ino " + std::to_string(f.ino) + " content " +
         std::to_string(f.content.size()) + " bytes";
}

// Writes `bytes` into a new file at path with exactly `mode`.
bool write_file(const std::string& path, const std::string& bytes, mode_t mode) {
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return false;
  const bool ok = ::fchmod(fd, mode) == 0 &&
                  (bytes.empty() || ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  return ok;
}

// ---- checks that work in a forked child too ---------------------------------------

// Collects failures as text (a child cannot use EXPECT_*; it sends the text back).
struct Checks {
  std::string failures;

  void expect(bool ok, const std::string& what) {
    if (!ok) failures += what + "\n";
  }
  // Runs f, which must throw E whose what() contains every part. Returns what().
  template <class E, class F>
  std::string expect_throw(const std::string& ctx, F&& f, std::initializer_list<std::string> parts) {
    std::string msg;
    try {
      f();
      failures += ctx + ": no exception\n";
      return {};
    } catch (const E& e) {
      msg = e.what();
    } catch (const std::exception& e) {
      failures += ctx + ": wrong exception type: " + e.what() + "\n";
      return {};
    }
    for (const std::string& p : parts)
      if (msg.find(p) == std::string::npos) failures += ctx + ": message lacks '" + p + "': " + msg + "\n";
    return msg;
  }
};

bool running_as_root() { return ::geteuid() == 0; }

// Makes this (forked) process user nobody, group nogroup, no supplementary groups.
std::string become_nobody() {
  if (::setgroups(0, nullptr) != 0) return std::string("setgroups: ") + std::strerror(errno);
  if (::setgid(kNogroup) != 0) return std::string("setgid: ") + std::strerror(errno);
  if (::setuid(kNobody) != 0) return std::string("setuid: ") + std::strerror(errno);
  // Deliberately left non-dumpable, as every process that drops privileges
  // is: named segments are linked through /proc/self/fd, which must still work.
  if (::getuid() != kNobody || ::geteuid() != kNobody || ::getgid() != kNogroup || ::getegid() != kNogroup)
    return "still privileged after setuid";
  return {};
}

// Real uid nobody, effective uid root: what a setuid-root program run by
// nobody (or a daemon after seteuid) is. Its files are owned by root.
std::string become_setuid_style() {
  if (::setgroups(0, nullptr) != 0) return std::string("setgroups: ") + std::strerror(errno);
  if (::setresuid(kNobody, 0, 0) != 0) return std::string("setresuid: ") + std::strerror(errno);
  if (::getuid() != kNobody || ::geteuid() != 0) return "setresuid did not give ruid 65534, euid 0";
  return {};
}

enum class As { root, nobody, setuid_style };

// Runs fn in a forked child (as nobody if asked); returns fn's failure text,
// or why the child did not finish (a hang is killed after 10 s and reported).
std::string in_child(As as, const std::function<std::string()>& fn) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe2 failed";
  std::fflush(nullptr);
  const pid_t pid = sktest::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(p[0]);
    std::string out;
    try {
      out = as == As::nobody ? become_nobody() : as == As::setuid_style ? become_setuid_style() : std::string();
      if (out.empty()) out = fn();
    } catch (const std::exception& e) {
      out = std::string("child threw: ") + e.what();
    } catch (...) {
      out = "child threw something";
    }
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::write(p[1], out.data() + done, out.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd pfd{p[0], POLLIN, 0};
    if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) == 0) {
      alloctest::kill_and_reap(pid);
      ::close(p[0]);
      return out + "child did not finish within 10 s (hung)";
    }
    char buf[4096];
    const ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  const int rc = alloctest::reap(pid, 10s);
  if (rc != 0) out += "child exited with " + std::to_string(rc);
  return out;
}

// Root, and allowed to become nobody (not so in a user namespace that does not map uid 65534).
bool can_play_another_user() {
  static const bool ok = running_as_root() && in_child(As::nobody, [] { return std::string(); }).empty();
  return ok;
}

#define SKIP_UNLESS_ROOT()                                                                             \
  if (!can_play_another_user())                                                                        \
  GTEST_SKIP() << "needs root that may setuid to 65534, to play another user; CI runs the tests as root"

// Puts a marker into a freshly created object, so that we can tell it was not changed.
void mark(Held& h, long v) {
  if (h.share) (*h.share)->value = v;
  if (h.arena) {
    const auto off = h.arena->allocate(64);
    std::snprintf(h.arena->ptr<char>(off), 64, "marker %ld", v);
  }
}

}  // namespace

// ---- the file as created ---------------------------------------------------------------

TEST(Permissions, procs_1creator_file_is_0600_regular_owned_by_creator_uid_in_name) {
  for (const Kind k : kKinds) {
    for (const mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
      SCOPED_TRACE(std::string(kind_name(k)) + " umask " + std::to_string(mask));
      Names n("mode");
      const mode_t old = ::umask(mask);
      Held h = create(k, n.name);
      ::umask(old);
      EXPECT_EQ(n.ours, "/dev/shm/sk-" + std::to_string(::getuid()) + "-" + n.name);
      struct stat st {};
      ASSERT_EQ(::lstat(n.ours.c_str(), &st), 0) << std::strerror(errno);
      EXPECT_TRUE(S_ISREG(st.st_mode));
      EXPECT_EQ(st.st_mode & 07777, 0600u);
      EXPECT_EQ(st.st_uid, ::getuid());
      EXPECT_EQ(st.st_gid, ::getgid());
      EXPECT_EQ(st.st_nlink, 1u);
      Arena::unlink(n.name);
    }
  }
}

// ---- another user ----------------------------------------------------------------------

TEST(Permissions, procs_1creator_1other_user_cannot_open_attach_or_remove) {
  SKIP_UNLESS_ROOT();
  for (const Kind k : kKinds) {
    SCOPED_TRACE(kind_name(k));
    Names n("other");
    Held h = create(k, n.name);
    mark(h, 42);
    const FileState before = snapshot(n.ours);
    ASSERT_TRUE(before.exists);

    const std::string failures = in_child(As::nobody, [&] {
      Checks c;
      for (const int flags : {O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_NONBLOCK}) {
        errno = 0;
        const int fd = ::open(n.ours.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
        const int e = errno;
        if (fd >= 0) ::close(fd);
        c.expect(fd < 0 && e == EACCES, "open(2) with flags " + std::to_string(flags) +
                                            " did not fail with EACCES: " + std::strerror(e));
      }
      // Our own low-level open on that very path: refused, with the path and what to do.
      c.expect_throw<SegmentError>("Segment::open_file", [&] { (void)sk::alloc::Segment::open_file(n.ours); },
                                   {n.ours, "Permission denied", "as the user that created it"});
      // The API by name reaches nobody's own path, which does not exist: no collision.
      c.expect_throw<SegmentError>(std::string(kind_name(k)) + " open by name", [&] { open(k, n.name); },
                                   {"no shared segment", n.nobodys, "create it first"});
      // Another user can neither sweep it nor unlink it (sticky /dev/shm).
      (void)sk::alloc::sweep_stale_segments();
      Arena::unlink(n.name);  // removes nobody's name, which is absent: no error
      errno = 0;
      c.expect(::unlink(n.ours.c_str()) != 0 && (errno == EPERM || errno == EACCES),
               "another user could unlink our segment file");
      struct stat st {};
      c.expect(::lstat(n.ours.c_str(), &st) == 0, "our segment file vanished");
      return c.failures;
    });
    EXPECT_EQ(failures, "");
    const FileState after = snapshot(n.ours);
    EXPECT_TRUE(after == before) << "before: " << describe(before) << "\nafter:  " << describe(after);
    if (h.share) {
      EXPECT_EQ((*h.share)->value.load(), 42);
    }
    EXPECT_NO_THROW(open(k, n.name)) << "the creator's user can still attach";
  }
}

TEST(Permissions, procs_1creator_1other_user_same_name_is_another_file) {
  SKIP_UNLESS_ROOT();
  for (const Kind k : kKinds) {
    SCOPED_TRACE(kind_name(k));
    Names n("same");
    Held h = create(k, n.name);
    mark(h, 1);
    const FileState before = snapshot(n.ours);

    const std::string failures = in_child(As::nobody, [&] {
      Checks c;
      Held mine = create(k, n.name);  // nobody's own segment of the same name
      mark(mine, 2);
      struct stat st {};
      c.expect(::lstat(n.nobodys.c_str(), &st) == 0, "nobody's segment is not at " + n.nobodys);
      c.expect(st.st_uid == kNobody && st.st_gid == kNogroup && (st.st_mode & 07777) == 0600,
               "nobody's segment is not 0600 nobody:nogroup");
      if (k == Kind::share) {
        c.expect(PermShare::open(n.name)->value.load() == 2, "nobody reopened another value than its own");
      } else if (k == Kind::arena) {
        c.expect(Arena::open(n.name, kArenaLayout).creator() == sk::alloc::self_owner(),
                 "nobody reopened a segment it did not create");
      }
      return c.failures;
    });
    EXPECT_EQ(failures, "");
    struct stat st {};
    ASSERT_EQ(::lstat(n.nobodys.c_str(), &st), 0) << "nobody's segment is missing";
    EXPECT_EQ(st.st_uid, kNobody);
    EXPECT_NE(st.st_ino, before.ino);
    const FileState after = snapshot(n.ours);
    EXPECT_TRUE(after == before) << "before: " << describe(before) << "\nafter:  " << describe(after);
    if (k == Kind::share) {
      EXPECT_EQ(PermShare::open(n.name)->value.load(), 1);
    }
    if (k == Kind::arena) {
      EXPECT_EQ(Arena::open(n.name, kArenaLayout).creator(), sk::alloc::self_owner());
    }
  }
}

// A process whose real and effective uids differ creates its files as its
// effective uid, so that is the uid its names and ownership checks must use:
// otherwise it cannot open its own segments, and it would accept a segment
// that its (unprivileged) real user planted under the real uid's name.
TEST(Permissions, procs_1creator_1other_user_setuid_style_process_uses_effective_uid) {
  SKIP_UNLESS_ROOT();
  for (const Kind k : kKinds) {
    SCOPED_TRACE(kind_name(k));
    Names n("euid");
    // The real user plants a genuine segment of the same layout under its own name.
    const std::string planted = in_child(As::nobody, [&] {
      Held mine = create(k, n.name);
      mark(mine, 666);
      return std::string();
    });
    ASSERT_EQ(planted, "");
    const FileState before = snapshot(n.nobodys);
    ASSERT_TRUE(before.exists);

    const std::string failures = in_child(As::setuid_style, [&] {
      Checks c;
      c.expect_throw<SegmentError>("open before create", [&] { open(k, n.name); }, {"no shared segment", n.ours});
      Held mine = create(k, n.name);
      mark(mine, 5);
      struct stat st {};
      c.expect(::lstat(n.ours.c_str(), &st) == 0, "the segment is not at " + n.ours);
      c.expect(st.st_uid == 0 && (st.st_mode & 07777) == 0600, "the segment is not 0600 and owned by euid 0");
      try {
        open(k, n.name);
      } catch (const std::exception& e) {
        c.expect(false, std::string("cannot open its own segment: ") + e.what());
      }
      if (k == Kind::share) c.expect(PermShare::open(n.name)->value.load() == 5, "opened another Share");
      return c.failures;
    });
    EXPECT_EQ(failures, "");
    const FileState after = snapshot(n.nobodys);
    EXPECT_TRUE(after == before) << "before: " << describe(before) << "\nafter:  " << describe(after);
  }
}

// ---- things pre-created at our path ------------------------------------------------------

namespace {

// What another user leaves at our path before we create or open it.
enum class Trap { file_0600, file_0666, empty_file, real_segment_renamed };
constexpr Trap kTraps[] = {Trap::file_0600, Trap::file_0666, Trap::empty_file, Trap::real_segment_renamed};

const char* trap_name(Trap t) {
  switch (t) {
    case Trap::file_0600: return "file 0600";
    case Trap::file_0666: return "file 0666";
    case Trap::empty_file: return "empty file";
    case Trap::real_segment_renamed: return "valid segment renamed into place";
  }
  return "?";
}

// create() and open() of `k` at n refuse what is there, with specific exceptions.
void expect_refused(Kind k, const Names& n, std::initializer_list<std::string> create_parts,
                    std::initializer_list<std::string> open_parts) {
  Checks c;
  const std::string create_msg =
      c.expect_throw<SegmentError>("create", [&] { (void)create(k, n.name); }, create_parts);
  c.expect_throw<BadSegment>("open", [&] { open(k, n.name); }, open_parts);
  (void)sk::alloc::sweep_stale_segments();
  EXPECT_EQ(c.failures, "");
  EXPECT_NE(create_msg.find(n.ours), std::string::npos) << create_msg;
}

}  // namespace

TEST(Permissions, procs_1creator_1other_user_precreated_file_refused_and_untouched) {
  SKIP_UNLESS_ROOT();
  for (const Kind k : kKinds) {
    for (const Trap t : kTraps) {
      SCOPED_TRACE(std::string(kind_name(k)) + ", " + trap_name(t));
      Names n("trap");
      const std::string setup = in_child(As::nobody, [&]() -> std::string {
        switch (t) {
          case Trap::file_0600: return write_file(n.ours, std::string(8192, '\x5A'), 0600) ? "" : "write failed";
          case Trap::file_0666: return write_file(n.ours, std::string(8192, '\xA5'), 0666) ? "" : "write failed";
          case Trap::empty_file: return write_file(n.ours, "", 0600) ? "" : "write failed";
          case Trap::real_segment_renamed: {
            Held mine = create(k, n.name);  // a genuine segment of the same layout, at nobody's path
            mark(mine, 666);
            return ::rename(n.nobodys.c_str(), n.ours.c_str()) == 0 ? "" : std::string("rename failed");
          }
        }
        return "?";
      });
      ASSERT_EQ(setup, "");
      const FileState before = snapshot(n.ours);
      ASSERT_TRUE(before.exists);
      ASSERT_EQ(before.uid, kNobody);
      expect_refused(k, n, {"already exists", "not a regular file owned by this user"},
                     {"refusing to open", n.ours, "owned by uid 65534"});
      const FileState after = snapshot(n.ours);
      EXPECT_TRUE(after == before) << "before: " << describe(before) << "\nafter:  " << describe(after);
    }
  }
}

TEST(Permissions, procs_1creator_symlink_at_path_refused_and_target_untouched) {
  SKIP_UNLESS_ROOT();
  for (const Kind k : kKinds) {
    SCOPED_TRACE(kind_name(k));
    Names n("link");
    Names target_seg("linktarget");
    const std::string victim = "/dev/shm/perm-" + std::to_string(::getpid()) + "-victim";
    const std::string absent = "/dev/shm/perm-" + std::to_string(::getpid()) + "-absent";
    ::unlink(victim.c_str());
    ::unlink(absent.c_str());
    ASSERT_TRUE(write_file(victim, std::string(4096, 'V'), 0600));
    Held target = create(k, target_seg.name);  // a real segment of ours, same kind and layout
    mark(target, 7);

    struct Case {
      std::string label;
      std::string points_to;
      As made_by;
    };
    const Case cases[] = {{"to our own segment", target_seg.ours, As::root},
                          {"to our own plain file", victim, As::root},
                          {"dangling", absent, As::root},
                          {"made by another user, to our file", victim, As::nobody}};
    for (const Case& cs : cases) {
      SCOPED_TRACE(cs.label);
      const std::string made = in_child(cs.made_by, [&]() -> std::string {
        return ::symlink(cs.points_to.c_str(), n.ours.c_str()) == 0 ? "" : std::string("symlink failed");
      });
      ASSERT_EQ(made, "");
      const FileState link_before = snapshot(n.ours);
      const FileState target_before = snapshot(cs.points_to);
      ASSERT_TRUE(S_ISLNK(link_before.mode));
      expect_refused(k, n, {"already exists", "symbolic link"}, {"refusing to open", "symbolic link"});
      EXPECT_TRUE(snapshot(n.ours) == link_before) << "the link changed";
      const FileState target_after = snapshot(cs.points_to);
      EXPECT_TRUE(target_after == target_before)
          << "before: " << describe(target_before) << "\nafter:  " << describe(target_after);
      ASSERT_EQ(::unlink(n.ours.c_str()), 0);
    }
    EXPECT_FALSE(snapshot(absent).exists) << "a dangling link's target was created";
    if (target.share) {
      EXPECT_EQ((*target.share)->value.load(), 7);
    }
    ::unlink(victim.c_str());
    ::unlink(absent.c_str());
  }
}

TEST(Permissions, procs_1creator_fifo_or_socket_at_path_does_not_block) {
  SKIP_UNLESS_ROOT();
  enum class Special { fifo_ours, fifo_other_user, socket };
  for (const Kind k : kKinds) {
    for (const Special s : {Special::fifo_ours, Special::fifo_other_user, Special::socket}) {
      SCOPED_TRACE(std::string(kind_name(k)) + (s == Special::fifo_ours         ? ", our FIFO"
                                                : s == Special::fifo_other_user ? ", another user's FIFO"
                                                                                : ", a socket"));
      Names n("fifo");
      const std::string made = in_child(s == Special::fifo_other_user ? As::nobody : As::root, [&]() -> std::string {
        if (s != Special::socket) return ::mkfifo(n.ours.c_str(), 0666) == 0 ? "" : std::string("mkfifo failed");
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", n.ours.c_str());
        const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        return ok ? "" : std::string("bind failed");
      });
      ASSERT_EQ(made, "");
      const FileState before = snapshot(n.ours);
      // In a child: if create/open blocked on the FIFO, the child is killed and reported.
      const std::string failures = in_child(As::root, [&] {
        Checks c;
        c.expect_throw<SegmentError>("create", [&] { (void)create(k, n.name); }, {"already exists", n.ours});
        c.expect_throw<SegmentError>("open", [&] { open(k, n.name); }, {n.ours});
        (void)sk::alloc::sweep_stale_segments();
        return c.failures;
      });
      EXPECT_EQ(failures, "");
      const FileState after = snapshot(n.ours);
      EXPECT_TRUE(after == before) << "before: " << describe(before) << "\nafter:  " << describe(after);
    }
  }
}
