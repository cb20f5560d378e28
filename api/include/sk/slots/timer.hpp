#pragma once
// sk::SharedTimer (alias sk::slots::Timer): an Sktimer that every process
// records into and reads from. Use it as a Share member:
//
//   struct State { sk::SharedTimer timer; sk::SharedTimer io{4096, 8}; };
//   SK_SHARE(State, timer, io);
//   share->timer.add_time(0.012);            // from any process
//   { auto g = share->timer.time_this(); work(); }
//   share->timer.mean();                     // over the samples of every process
//
// Recording never serializes processes: each process claims its own sample
// buffer (by OwnerId) in the arena -- a ring of the last `max_times` samples,
// each with an ordering stamp -- and writes it alone. Readers merge all
// buffers, order by a stamp (the CPU's invariant counter) and keep the most
// recent `max_times`: the same rolling window as Sktimer, over all processes. Memory is fixed at
// construction: max_processes * max_times * 16 bytes (+ small headers).
//
// Open frames (start/stop/lap/pause/resume/discard) are per process and
// thread, kept in the process, never in shared memory.
//
// Crash safety: a buffer is written only by its owner; a sample counts once
// its buffer's count is published, so a process killed mid-write loses only
// that sample. A dead process's buffer keeps its samples and is taken over by
// a new process when no buffer is free. When every buffer is held by a live
// process, add_time/stop throw sk::TimerError (construct with more
// max_processes). reset() moves each buffer's "forgotten below" index to its
// current count: every reader ignores older samples, writers are not involved.
//
// Built inside a Share (a ConstructionScope), the buffers come from the arena.
// Built anywhere else, they come from an anonymous MAP_SHARED mapping of its
// own, so a standalone SharedTimer is shared with children forked after it.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <sk/alloc/owner.hpp>
#include <sk/timer.hpp>

namespace sk {

class SharedTimer {
 public:
  static constexpr std::string_view kind = "SharedTimer";
  static constexpr std::size_t kDefaultMaxTimes = 1024;
  static constexpr std::size_t kDefaultMaxProcesses = 32;

  // max_times: per-process ring size and the largest window (>= 1).
  // max_processes: how many processes can record at once (>= 1).
  explicit SharedTimer(std::size_t max_times = kDefaultMaxTimes,
                       std::size_t max_processes = kDefaultMaxProcesses);
  ~SharedTimer();
  SharedTimer(const SharedTimer&) = delete;
  SharedTimer& operator=(const SharedTimer&) = delete;

  // ---- measuring (per process and thread) ----
  double start();
  double stop();
  double lap();
  void discard();
  void pause();
  void resume();
  bool running() const;
  TimerGuard<SharedTimer> time_this() { return TimerGuard<SharedTimer>(*this); }

  // ---- recording (any process) ----
  void add_time(double seconds);
  void reset();                                       // for every process
  void set_max_times(std::optional<std::size_t> n);   // 1 .. capacity(); nullopt = capacity()
  template <std::integral I>
    requires(!std::same_as<I, bool>)
  void set_max_times(I n) {
    set_max_times(std::optional<std::size_t>(timer_detail::check_max_times(static_cast<long long>(n))));
  }
  std::size_t max_times() const noexcept;  // the current window
  std::size_t capacity() const noexcept;   // the max_times it was built with
  std::size_t max_processes() const noexcept;

  // ---- statistics over every process's samples (empty = no data) ----
  std::size_t num_times() const;
  std::optional<double> most_recent() const;
  std::optional<double> total_time() const;
  std::optional<double> mean() const;
  std::optional<double> median() const;
  std::optional<double> min() const;
  std::optional<double> max() const;
  std::optional<double> stdev() const;
  std::optional<double> variance() const;
  std::optional<double> percentile(double p) const;
  std::optional<double> get_time(long i) const;
  std::vector<double> times() const;  // merged, oldest first
  TimerStats stats() const;           // one merge, every statistic
  Sktimer to_sktimer() const;         // a process-local, serializable copy

  std::string describe_value() const;

 private:
  struct Block;
  struct Buffer;
  Block* block() const noexcept;
  static Buffer* buffer_at(Block* blk, std::size_t i) noexcept;
  Buffer& my_buffer();
  static Buffer& find_buffer(Block* blk, alloc::OwnerId self);
  void record(double seconds);

  std::int64_t block_rel_;        // block address minus this object's address
  std::uint64_t block_bytes_;
  std::uint64_t self_offset_;     // our arena offset (0 = not in an arena: block is mmap'd)
  std::uint64_t block_offset_;    // the block's arena offset
  std::uint64_t id_;              // random: keys this timer's frames in each thread
};

static_assert(std::is_standard_layout_v<SharedTimer> && !std::is_polymorphic_v<SharedTimer>);

namespace slots {
using Timer = SharedTimer;
}

}  // namespace sk
