#pragma once
// Process-local mapping of a shared-memory segment: anonymous (MAP_SHARED |
// MAP_ANONYMOUS, inherited by forked children) or a named file in /dev/shm
// (/dev/shm/sk-<uid>-<name>, mode 0600, space reserved with posix_fallocate).
//
// A named segment's file descriptor stays open for the life of the mapping
// and holds an flock(): exclusive while its creator initializes it, shared
// afterwards by every process that maps it (forked children share it through
// the inherited descriptor). The kernel drops the lock when the last holder
// dies, so the stale-segment sweep can tell "in use" from "abandoned" without
// trusting pids alone (see sweep.hpp).
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <sk/alloc/errors.hpp>

namespace sk::alloc {

inline constexpr std::size_t kMaxNameLength = 100;

// Throws SegmentError unless `name` is 1..100 bytes, not "." or "..", and
// free of '/', NUL and control characters.
void validate_segment_name(std::string_view name);
// "sk-<uid>-": the prefix of this user's segment files in /dev/shm.
std::string segment_prefix();
// "/dev/shm/sk-<uid>-<name>" (validates the name).
std::string segment_path(std::string_view name);
inline constexpr std::string_view kShmDir = "/dev/shm";

class Segment {
 public:
  Segment() = default;
  Segment(Segment&& o) noexcept;
  Segment& operator=(Segment&& o) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  // Zero-filled MAP_SHARED|MAP_ANONYMOUS mapping of `bytes`. SegmentError on failure.
  static Segment map_anonymous(std::size_t bytes);
  // Creates the file for `path` (mode 0600), locks it exclusively, reserves
  // `bytes` with posix_fallocate and maps it. The file is created unnamed
  // (O_TMPFILE in /dev/shm) and appears at `path` only with publish(), so a
  // creator killed before publishing leaves nothing behind; where O_TMPFILE
  // is not supported it is created at `path` at once (O_CREAT|O_EXCL|
  // O_NOFOLLOW) and publish() has nothing to do. Returns nullopt if the name
  // exists; throws SegmentError on any other failure (ENOSPC, permission,
  // ...), leaving no file behind.
  static std::optional<Segment> create_file(const std::string& path, std::size_t bytes);
  // Links a segment made by create_file at its path (the exclusive lock is
  // kept). True if it is at its path now; false if the name was taken
  // meanwhile (then drop this segment). SegmentError on other failures.
  bool publish();
  // False for a create_file segment that is not linked at its path yet.
  bool published() const noexcept { return !unnamed_; }
  // Opens `path` read-write with O_NOFOLLOW and checks that it is a regular
  // file owned by this uid with mode 0600 (BadSegment otherwise, SegmentError
  // if it does not exist or cannot be opened). Not mapped yet.
  static Segment open_file(const std::string& path);

  // Maps the opened file's first `bytes` (must be <= its size).
  void map(std::size_t bytes);
  // Shared lock, not blocking. False if someone holds it exclusively.
  bool try_lock_shared() noexcept;
  // Exclusive -> shared (creator, once the segment is ready).
  void downgrade_lock() noexcept;
  // True if the open file is still the one linked at path() (not unlinked or replaced).
  bool still_linked() const noexcept;
  // Current file size (fstat).
  std::size_t file_size() const;
  // pread from the file; returns bytes read (may be short).
  std::size_t read_at(void* dst, std::size_t n, std::size_t offset) const noexcept;

  std::byte* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;
  bool unnamed_ = false;  // O_TMPFILE not linked at path_ yet
  std::string path_;
};

}  // namespace sk::alloc
