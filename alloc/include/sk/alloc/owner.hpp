#pragma once
// Owner ids for writer-owned words in shared memory. A word that a writer
// holds (seqlock sequence, ring slot, claimed task) records who holds it, so
// that a waiter which outlasts its bounded spin can ask "is that process still
// alive?" and repair the word if not.
//
// An owner is a pid plus the low 32 bits of that process's start time (in
// clock ticks since boot, /proc/<pid>/stat field 22). The pair survives pid
// reuse: a recycled pid has a different start time.
#include <sys/types.h>

#include <cstdint>

namespace sk::alloc {

struct OwnerId {
  std::uint32_t pid = 0;
  std::uint32_t start = 0;  // 0 = unknown (only the pid is checked)

  constexpr std::uint64_t pack() const noexcept { return (std::uint64_t{start} << 32) | pid; }
  static constexpr OwnerId unpack(std::uint64_t w) noexcept {
    return OwnerId{static_cast<std::uint32_t>(w), static_cast<std::uint32_t>(w >> 32)};
  }
  constexpr bool empty() const noexcept { return pid == 0; }
  friend constexpr bool operator==(OwnerId, OwnerId) = default;
};

// This process's owner id. Cached; the cache is reset in a forked child
// (pthread_atfork), so it is cheap on hot paths and right after fork().
OwnerId self_owner() noexcept;

// Start time of `pid` (low 32 bits of clock ticks since boot), or 0 if the
// process does not exist.
std::uint32_t process_start_time(pid_t pid) noexcept;

// True if `pid` exists, is not a zombie and (when start != 0) started at
// `start`. A zombie counts as dead: it holds nothing and will run no code.
bool is_alive(std::uint32_t pid, std::uint32_t start = 0) noexcept;
inline bool is_alive(OwnerId o) noexcept { return is_alive(o.pid, o.start); }

}  // namespace sk::alloc
