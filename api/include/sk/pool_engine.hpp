#pragma once
// The non-template machinery behind sk::Pool (pool.hpp): forking and
// supervising worker processes, and collecting what they publish in the run's
// shared memory. Users do not include this directly.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <sk/ipc/pool_sched.hpp>
#include <sk/ipc/pool_shm.hpp>
#include <sk/pool_errors.hpp>

namespace sk {

// What on_progress callbacks receive.
struct PoolProgress {
  std::size_t done = 0;    // items finished (ok or failed)
  std::size_t total = 0;   // items in the call
  double elapsed_s = 0;    // since the call started
  double rate = 0;         // items per second so far
  double eta_s = 0;        // remaining items / rate (0 when unknown or done)
};

}  // namespace sk

namespace sk::detail {

using ProgressFn = std::function<void(const PoolProgress&)>;

struct CallOptions {
  std::optional<std::chrono::nanoseconds> timeout;  // per item
  unsigned retries = 1;                             // re-runs of an item whose worker died
  ProgressFn progress;
  bool stream = false;                              // wake the parent on every result (imap)
};

// Runs item `index` in a worker and reports through the writer (never throws).
using ItemBody = std::function<void(std::uint32_t index, ipc::pool::SlotWriter&)>;

// Persistent mode: the per-item entry point of a job kind, found in the
// workers through a table filled during static initialisation (so it is the
// same in every process forked from this program).
using JobFn = void (*)(ipc::pool::RunView, std::uint32_t index, ipc::pool::SlotWriter&);
std::uint32_t register_job_fn(JobFn fn) noexcept;

// Fills `type` and `what` from the exception in flight (call inside catch).
void describe_current_exception(std::string& type, std::string& what);

struct Outcome {
  enum class Kind : std::uint8_t { ok, threw, crashed, timed_out };
  Kind kind = Kind::ok;
  std::uint32_t index = 0;
  std::uint32_t slot = 0;
  std::uint64_t offset = 0;  // ok + serialized: result bytes; threw: error record
  int signal = 0;            // crashed
};

class PersistentCore;

// One map call: a run of n items over the workers, from start to the last
// outcome. The parent consumes outcomes with next().
class Run {
 public:
  // Fork mode: forks `workers` processes now; they see this process's memory
  // as it is at this moment and run `body`.
  Run(std::size_t n, std::uint32_t result_size, bool serialized, unsigned workers, CallOptions opts, ItemBody body);
  // Persistent mode: `write_job` fills the job area (callable + items) while
  // the pool's workers are idle; they then run job `kind`.
  Run(std::shared_ptr<PersistentCore> core, std::size_t n, std::uint32_t result_size, bool serialized,
      CallOptions opts, std::uint32_t kind, const std::function<void(std::byte* job, std::size_t cap)>& write_job);
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run();  // cancels what is left, reaps / releases the workers

  std::size_t size() const noexcept { return n_; }
  ipc::pool::RunView view() const noexcept { return v_; }
  // Replaces `out` with the next outcomes (at least one); false when every
  // item has had its outcome already.
  bool next(std::vector<Outcome>& out);
  // Stops the remaining work now (workers are killed in fork mode; in
  // persistent mode they finish their current item).
  void cancel() noexcept;
  // The exception for a failed outcome.
  [[noreturn]] void raise(const Outcome& o) const;

 private:
  struct Worker { pid_t pid; std::uint32_t slot; };
  void start_fork(unsigned workers);
  void spawn(std::uint32_t slot, bool replacement);
  void drain(std::vector<Outcome>& out);
  void reap(std::vector<Outcome>& out, bool block_for_killed);
  void handle_death(const Worker& w, int status, std::vector<Outcome>& out);
  void check_timeouts();
  void report_progress(bool final);
  std::uint64_t published_sum() const noexcept;
  void finish() noexcept;
  std::optional<std::uint32_t> free_slot() noexcept;

  std::shared_ptr<PersistentCore> core_;  // null in fork mode
  std::unique_lock<std::mutex> job_lock_;  // persistent: one job at a time
  ipc::pool::Mapping own_map_;             // fork mode
  ipc::pool::RunView v_;
  std::size_t n_ = 0;
  CallOptions opts_;
  ItemBody body_;
  std::vector<Worker> live_;
  std::vector<std::uint64_t> seen_;        // per slot: log entries consumed
  std::vector<std::uint64_t> counts_;      // per slot: scratch for drain()
  std::vector<std::uint8_t> delivered_;    // per item
  std::vector<std::uint8_t> attempts_;     // per item: deaths while running it
  std::vector<std::pair<pid_t, std::uint32_t>> timed_out_;  // killed worker -> its stuck item
  std::size_t done_ = 0;
  std::uint64_t published_seen_ = 0;
  std::vector<std::uint32_t> spares_;      // never-used slots for replacement workers
  bool finished_ = false;
  std::chrono::steady_clock::time_point t0_;
  std::chrono::steady_clock::time_point last_progress_{};
};

// Persistent mode: a mapping and worker processes that live as long as the
// Pool. The workers are forked at construction and wait for jobs.
class PersistentCore {
 public:
  PersistentCore(unsigned workers, std::size_t max_items);
  ~PersistentCore();  // shuts the workers down and reaps them
  PersistentCore(const PersistentCore&) = delete;
  PersistentCore& operator=(const PersistentCore&) = delete;
  unsigned workers() const noexcept { return workers_; }
  std::size_t max_items() const noexcept { return max_items_; }
  std::size_t job_capacity() const noexcept;

 private:
  friend class Run;
  void spawn(std::uint32_t slot, bool join_current);
  void respawn_dead();

  std::mutex mu_;
  ipc::pool::Mapping map_;
  ipc::pool::RunView v_;
  unsigned workers_;
  std::size_t max_items_;
  std::uint64_t result_capacity_ = 0;
  std::vector<pid_t> pids_;  // per slot; 0 = none
};

unsigned resolve_workers(unsigned requested) noexcept;

}  // namespace sk::detail
