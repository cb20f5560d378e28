#pragma once
// Stale-segment sweep: removes this user's /dev/shm/sk-<uid>-* segments that
// no live process uses, so a SIGKILLed run never blocks the next one and
// never fills /dev/shm over time.
//
// A segment is removed only when ALL of these hold:
//   - we can take its flock() exclusively (every process that maps a named
//     segment holds a shared lock on it through its open descriptor, and the
//     kernel drops a dead process's lock; its creator holds it exclusively
//     while initializing), and
//   - no owner in its attach table is alive and its creator is dead
//     (is_alive(): the owner registry's kernel-held locks, see owner.hpp), or it never
//     got a header and is older than kNoHeaderGraceSeconds (creator died
//     between creating the file and writing the header; only possible where
//     O_TMPFILE is unavailable: otherwise a segment gets its name only after
//     its header is written, see Segment::create_file).
// Files that are not ours (other uid, not regular, symlinks, wrong magic,
// other format version) are never touched.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include <sk/alloc/arena.hpp>

namespace sk::alloc {

inline constexpr int kNoHeaderGraceSeconds = 10;

enum class SegmentVerdict {
  gone,     // no such file (any more)
  in_use,   // locked or a live attacher/creator: keep
  stale,    // abandoned: safe to remove
  young,    // no header yet, but too new to call abandoned: keep
  foreign,  // not one of our segments (or an unknown version): never touch
};

struct SegmentStatus {
  SegmentVerdict verdict = SegmentVerdict::gone;
  std::uint32_t live_pid = 0;  // for in_use: a live attacher or the creator (0 if only the lock says so)
  std::string why;             // one line for messages
  bool removed = false;
};

// Classifies the segment file at `path`; when stale and `remove_if_stale`,
// unlinks it while holding its exclusive lock.
// `busy_wait`: how long to keep trying when the file is locked but its
// header names no live process. The holder may be another sweeper looking
// at it (it holds the lock for microseconds), not a process that maps it (a
// child that inherited the descriptor from a dead creator); without the wait
// that moment reads as "in use".
SegmentStatus check_segment(const std::string& path, bool remove_if_stale,
                            std::chrono::milliseconds busy_wait = std::chrono::milliseconds(0));

// std::size_t sweep_stale_segments();   (declared in arena.hpp)

}  // namespace sk::alloc
