// Stale-segment sweep (see sweep.hpp).
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

#include <sk/alloc/header.hpp>
#include <sk/alloc/segment.hpp>
#include <sk/alloc/sweep.hpp>

namespace sk::alloc {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);  // drops the flock we may hold
  }
};

std::size_t pread_all(int fd, void* dst, std::size_t n) noexcept {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, static_cast<char*>(dst) + got, n - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

HeaderSnapshot read_header(int fd) noexcept {
  unsigned char raw[sizeof(SegmentHeader)];
  return decode_header(raw, pread_all(fd, raw, sizeof raw));
}

// A live attacher or the creator of the segment whose header is `h`, or none.
OwnerId live_owner(const HeaderSnapshot& h) {
  for (const std::uint64_t slot : h.attach) {
    const OwnerId o = OwnerId::unpack(slot);
    if (!o.empty() && is_alive(o)) return o;
  }
  const OwnerId c = OwnerId::unpack(h.creator);
  if (!c.empty() && is_alive(c)) return c;
  return {};
}

}  // namespace

SegmentStatus check_segment(const std::string& path, bool remove_if_stale, std::chrono::milliseconds busy_wait) {
  SegmentStatus st;
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (f.fd < 0) {
    if (errno == ENOENT) return st;  // gone
    st.verdict = SegmentVerdict::foreign;
    st.why = errno == ELOOP ? "it is a symbolic link" : "it cannot be opened";
    return st;
  }
  struct stat sb {};
  // The effective uid owns our files (see segment_prefix).
  if (::fstat(f.fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != ::geteuid()) {
    st.verdict = SegmentVerdict::foreign;
    st.why = "it is not a regular file owned by this user";
    return st;
  }
  // Every process that maps the segment holds a shared flock (the creator an
  // exclusive one until ready). If we cannot lock it exclusively, it is in use.
  if (::flock(f.fd, LOCK_EX | LOCK_NB) != 0) {
    if (const HeaderSnapshot h = read_header(f.fd); h.complete() && h.magic == kSegmentMagic)
      st.live_pid = owner_pid(live_owner(h));
    // Fault found by tests/crash/stale_segments_procs.cpp: a concurrent
    // sweeper's momentary exclusive lock on a dead segment read as "in use",
    // so Arena::create of that name failed with "already exists and is in
    // use" while the segment belonged to nobody. When only the lock says so,
    // wait (bounded) for a sweeper to let go.
    bool locked = false;
    if (st.live_pid == 0 && busy_wait.count() > 0) {
      const auto deadline = std::chrono::steady_clock::now() + busy_wait;
      for (auto pause = std::chrono::microseconds(50); !locked && std::chrono::steady_clock::now() < deadline;
           pause = std::min(pause * 2, std::chrono::microseconds(2000))) {
        std::this_thread::sleep_for(pause);
        locked = ::flock(f.fd, LOCK_EX | LOCK_NB) == 0;
      }
    }
    if (!locked) {
      st.verdict = SegmentVerdict::in_use;
      st.why = "a live process maps it";
      return st;
    }
    // The sweeper we waited for may have removed it meanwhile.
    struct stat now {};
    if (::lstat(path.c_str(), &now) != 0 || now.st_dev != sb.st_dev || now.st_ino != sb.st_ino) return st;  // gone
  }
  // Nobody else holds a lock now, so nobody is writing the header: read it.
  const HeaderSnapshot h = read_header(f.fd);
  const std::uint64_t magic = h.magic;
  if (magic == 0) {
    const std::time_t newest = sb.st_mtime > sb.st_ctime ? sb.st_mtime : sb.st_ctime;
    if (std::time(nullptr) - newest < kNoHeaderGraceSeconds) {
      st.verdict = SegmentVerdict::young;
      st.why = "it has no header yet and was created moments ago";
      return st;
    }
    st.verdict = SegmentVerdict::stale;
    st.why = "it has no header: its creator died before initializing it";
  } else if (magic != kSegmentMagic) {
    st.verdict = SegmentVerdict::foreign;
    st.why = "it is not a suitkaise segment (wrong magic)";
    return st;
  } else if (!h.complete() || h.version != kFormatVersion) {
    st.verdict = SegmentVerdict::foreign;
    st.why = "it is truncated or has another format version";
    return st;
  } else if (const OwnerId o = live_owner(h); !o.empty()) {
    st.verdict = SegmentVerdict::in_use;
    st.live_pid = owner_pid(o);
    st.why = "a live process (" + describe_owner(o) + ") is attached to it";
    return st;
  } else {
    st.verdict = SegmentVerdict::stale;
    st.why = "its creator and every attached process are dead";
  }
  // Stale. Unlink only the file we examined (not one re-created meanwhile).
  if (remove_if_stale) {
    struct stat now {};
    if (::lstat(path.c_str(), &now) == 0 && now.st_dev == sb.st_dev && now.st_ino == sb.st_ino)
      st.removed = ::unlink(path.c_str()) == 0;
  }
  return st;
}

std::size_t sweep_stale_segments() {
  const std::string prefix = segment_prefix();
  std::vector<std::string> paths;
  if (DIR* d = ::opendir(std::string(kShmDir).c_str())) {
    while (const dirent* e = ::readdir(d)) {
      if (std::string_view(e->d_name).starts_with(prefix)) paths.push_back(std::string(kShmDir) + "/" + e->d_name);
    }
    ::closedir(d);
  }
  std::size_t removed = 0;
  for (const auto& p : paths) {
    // (10 ms for another sweeper or checker looking at the same file.)
    if (check_segment(p, true, std::chrono::milliseconds(10)).removed) ++removed;
  }
  return removed;
}

}  // namespace sk::alloc
