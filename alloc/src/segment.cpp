// Segment files and mappings (see segment.hpp).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <sk/alloc/segment.hpp>

namespace sk::alloc {
namespace {

std::string errno_text(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s.substr(0, 120)) {
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 120) out += "...";
  return out;
}

// What to do about a descriptor or inode shortage (empty for other errors).
// Fault found by tests/crash/shm_full_procs.cpp: EMFILE/ENFILE and a tmpfs
// out of inodes (ENOSPC from open) gave only the errno text, with no hint of
// what ran out or what to do.
std::string resource_hint(int e, bool creating) {
  if (e == EMFILE)
    return "; this process has too many open files: every mapped named segment keeps one descriptor "
           "open, so drop Arena/Share/Pipe handles you no longer need or raise the limit (ulimit -n)";
  if (e == ENFILE)
    return "; the system has too many open files (fs.file-max): close some, or raise the limit";
  if (e == ENOSPC && creating)
    return "; " + std::string(kShmDir) + " has no free inodes (too many files in it): remove segments you no "
           "longer need (stale sk-* segments are removed by sk::alloc::sweep_stale_segments())";
  if (e == ENOMEM)
    return "; out of memory or address space (or vm.max_map_count mappings): ask for a smaller capacity "
           "or drop other mappings";
  return {};
}

}  // namespace

void validate_segment_name(std::string_view name) {
  const std::string what = "invalid arena name '" + printable(name) + "': ";
  if (name.empty()) throw SegmentError(what + "it is empty; give the arena a short name like \"jobs\"");
  if (name.size() > kMaxNameLength)
    throw SegmentError(what + "it is " + std::to_string(name.size()) + " bytes long, the limit is " +
                       std::to_string(kMaxNameLength) + "; use a shorter name");
  if (name == "." || name == "..") throw SegmentError(what + "'.' and '..' are not names; choose another");
  for (unsigned char c : name) {
    if (c == '/')
      throw SegmentError(what + "it contains '/'; names are single file names in /dev/shm, "
                                "use '-' or '_' instead");
    if (c < 0x20 || c == 0x7f)
      throw SegmentError(what + "it contains a control character; use letters, digits, '-', '_', '.'");
  }
}

// Fault found by tests/unit/permissions_procs.cpp: names and ownership checks
// used the real uid, but files are created as the effective uid. A process
// whose uids differ (setuid program, daemon after seteuid) could not open its
// own segments, and accepted (or swept away) one its real user planted.
std::string segment_prefix() { return "sk-" + std::to_string(::geteuid()) + "-"; }

std::string segment_path(std::string_view name) {
  validate_segment_name(name);
  return std::string(kShmDir) + "/" + segment_prefix() + std::string(name);
}

Segment::Segment(Segment&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      fd_(std::exchange(o.fd_, -1)),
      unnamed_(std::exchange(o.unnamed_, false)),
      path_(std::move(o.path_)) {}

Segment& Segment::operator=(Segment&& o) noexcept {
  if (this != &o) {
    Segment tmp(std::move(*this));
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
    fd_ = std::exchange(o.fd_, -1);
    unnamed_ = std::exchange(o.unnamed_, false);
    path_ = std::move(o.path_);
  }
  return *this;
}

Segment::~Segment() {
  if (base_) ::munmap(base_, size_);
  if (fd_ >= 0) ::close(fd_);  // also drops our flock (unless a forked child shares the descriptor)
}

Segment Segment::map_anonymous(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw SegmentError("cannot map an anonymous shared arena of " + std::to_string(bytes) +
                       " bytes: " + errno_text(errno) + "; ask for a smaller capacity");
  Segment s;
  s.base_ = static_cast<std::byte*>(p);
  s.size_ = bytes;
  return s;
}

std::optional<Segment> Segment::create_file(const std::string& path, std::size_t bytes) {
  auto create_error = [&](int e) {
    return SegmentError("cannot create shared segment " + path + ": " + errno_text(e) +
                        (e == EACCES ? "; check the permissions of " + std::string(kShmDir) : resource_hint(e, true)));
  };
  // Fault found by tests/crash/stale_segments_procs.cpp: the file used to get
  // its name at once, so a creator SIGKILLed before writing the header left a
  // header-less file that create() took for one "being created by another
  // process right now" for kNoHeaderGraceSeconds (a restarted program could
  // not create its segments). Now the file is made unnamed and linked at
  // `path` only once its header is written (publish()); a creator killed
  // before that leaves nothing.
  struct stat existing {};
  if (::lstat(path.c_str(), &existing) == 0) return std::nullopt;  // the name is taken (publish() rechecks)
  const std::string dir = path.substr(0, path.rfind('/') + 1);
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  const bool unnamed = fd >= 0;
  if (!unnamed) {
    const int e = errno;
    if (e != EOPNOTSUPP && e != EISDIR && e != EINVAL) throw create_error(e);
    // No O_TMPFILE here: create it under its name at once.
    fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      if (errno == EEXIST) return std::nullopt;
      throw create_error(errno);
    }
  }
  Segment s;
  s.fd_ = fd;
  s.unnamed_ = unnamed;
  s.path_ = path;
  auto fail = [&](const std::string& msg) {
    if (!unnamed) ::unlink(path.c_str());  // (an unnamed file goes with its descriptor)
    throw SegmentError(msg);
  };
  // Exclusive until ready: openers wait, the sweep keeps its hands off.
  if (::flock(fd, LOCK_EX) != 0) fail("cannot lock new segment " + path + ": " + errno_text(errno));
  // The umask may have cleared bits of 0600 but never adds any; make it exact.
  if (::fchmod(fd, 0600) != 0) fail("cannot set mode 0600 on " + path + ": " + errno_text(errno));
  // Reserve every page now: with a sparse ftruncate a full /dev/shm would be
  // a SIGBUS on some later first touch instead of an error here.
  if (const int e = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes)); e != 0) {
    fail("cannot reserve " + std::to_string(bytes) + " bytes for shared segment " + path + ": " + errno_text(e) +
         (e == ENOSPC ? "; /dev/shm is full: free space there (df -h /dev/shm; stale sk-* segments are "
                        "removed by sk::alloc::sweep_stale_segments()) or ask for a smaller capacity"
                      : std::string()));
  }
  try {
    s.map(bytes);
  } catch (const SegmentError& ex) {
    fail(ex.what());
  }
  return s;
}

bool Segment::publish() {
  if (!unnamed_) return true;
  // linkat of an O_TMPFILE through /proc/self/fd (open(2)); AT_EMPTY_PATH
  // when /proc is not mounted (it needs CAP_DAC_READ_SEARCH on older kernels).
  const std::string self = "/proc/self/fd/" + std::to_string(fd_);
  int r = ::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, path_.c_str(), AT_SYMLINK_FOLLOW);
  if (r != 0 && errno == ENOENT) r = ::linkat(fd_, "", AT_FDCWD, path_.c_str(), AT_EMPTY_PATH);
  if (r != 0) {
    const int e = errno;
    if (e == EEXIST) return false;
    throw SegmentError("cannot create shared segment " + path_ + ": linking it into " + std::string(kShmDir) +
                       " failed: " + errno_text(e) + resource_hint(e, true));
  }
  unnamed_ = false;
  return true;
}

Segment Segment::open_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int e = errno;
    if (e == ENOENT)
      throw SegmentNotFound(path, "no shared segment " + path + ": create it first with Arena::create (or check the name)");
    if (e == ELOOP)
      throw BadSegment("refusing to open " + path + ": it is a symbolic link, not a segment; remove it");
    // Fault found by tests/unit/permissions_procs.cpp: another user's segment
    // (EACCES, mode 0600) gave only "Permission denied" and no hint what to do.
    if (e == EACCES || e == EPERM)
      throw SegmentError("cannot open shared segment " + path + ": " + errno_text(e) +
                         "; segments are private (mode 0600) to the user that created them: open it as the user "
                         "that created it (segment names include the uid, so each user has their own)");
    throw SegmentError("cannot open shared segment " + path + ": " + errno_text(e) + resource_hint(e, false));
  }
  Segment s;
  s.fd_ = fd;
  s.path_ = path;
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw SegmentError("cannot stat " + path + ": " + errno_text(errno));
  if (!S_ISREG(st.st_mode))
    throw BadSegment("refusing to open " + path + ": it is not a regular file, so not a suitkaise segment");
  if (st.st_uid != ::geteuid())
    throw BadSegment("refusing to open " + path + ": it is owned by uid " + std::to_string(st.st_uid) +
                     ", not by this user (uid " + std::to_string(::geteuid()) + "); it is not our segment");
  if ((st.st_mode & 07777) != 0600) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw BadSegment("refusing to open " + path + ": its mode is " + mode +
                     ", suitkaise segments are 0600; it was not created by suitkaise (or was tampered with)");
  }
  return s;
}

void Segment::map(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    throw SegmentError("cannot map " + std::to_string(bytes) + " bytes of " + path_ + ": " + errno_text(e) +
                       resource_hint(e, false));
  }
  base_ = static_cast<std::byte*>(p);
  size_ = bytes;
}

bool Segment::try_lock_shared() noexcept { return ::flock(fd_, LOCK_SH | LOCK_NB) == 0; }

void Segment::downgrade_lock() noexcept { ::flock(fd_, LOCK_SH); }

bool Segment::still_linked() const noexcept {
  struct stat a {}, b {};
  if (::fstat(fd_, &a) != 0 || ::lstat(path_.c_str(), &b) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

std::size_t Segment::file_size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) throw SegmentError("cannot stat " + path_ + ": " + errno_text(errno));
  return static_cast<std::size_t>(st.st_size);
}

std::size_t Segment::read_at(void* dst, std::size_t n, std::size_t offset) const noexcept {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd_, static_cast<char*>(dst) + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

}  // namespace sk::alloc
