#pragma once
// Collector side of the Pool runtime: one call (Run) from start to the last
// outcome, and the persistent workers (PersistentCore). The typed facade
// sk::Pool (sk/pool.hpp) drives these; users do not include this header.
//
// Parent loop (Run::next): drain every slot's log (acquire on log_count),
// reap dead workers (waitpid WNOHANG) and re-offer what they had not
// finished (retry, or WorkerCrashed / TimeoutError for the item they died
// in), kill workers stuck past the per-item timeout, report progress, then
// park on RunHeader::done_wp for at most one tick. Workers wake the parent
// when they run out of work, on errors, and per chunk when it streams.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <sk/ipc/failure.hpp>
#include <sk/ipc/internal/pool/layout.hpp>
#include <sk/ipc/internal/pool/result_writer.hpp>
#include <sk/ipc/pool_progress.hpp>

namespace sk::ipc::pool {

using ProgressFn = std::function<void(const PoolProgress&)>;

struct CallOptions {
  std::optional<std::chrono::nanoseconds> timeout;  // per item
  unsigned retries = 1;                             // re-runs of an item whose worker died
  ProgressFn progress;
  bool stream = false;                              // results wanted as they come (imap)
  double ns_per_item = 0;                           // measured on an earlier call; 0 = unknown
  // pool.map<W>: items are Skprocess lifecycles. The collector then enforces
  // their hook deadlines and decides after a death as a supervisor does
  // (lives, not `retries`); describe_failure turns a failure it delivers
  // itself (error() died too) into the item's error type and message.
  bool lifecycle = false;
  std::function<void(const FailureInfo& f, std::string& type, std::string& what)> describe_failure;
};

// Fork mode: runs items [begin, end) in a worker and publishes each through
// the writer (never throws).
using ItemBody = std::function<void(std::uint32_t begin, std::uint32_t end, ResultWriter& w)>;

struct Outcome {
  enum class Kind : std::uint8_t { ok, threw, crashed, timed_out, failed };
  Kind kind = Kind::ok;
  std::uint32_t begin = 0;   // ok: items [begin, end) succeeded; otherwise the one item `begin`
  std::uint32_t end = 0;
  std::uint32_t slot = 0;    // threw: where the error record is
  std::uint64_t offset = 0;  // threw: the error record
  int signal = 0;            // crashed
};  // failed: a pool.map<W> item whose lifecycle failed after a death (Run::raise says how)

// Item cost per callable type, measured by earlier calls of one Pool; the
// next call of the same type sizes its chunks from it.
class CostBook {
 public:
  double get(std::uintptr_t key) const {
    std::lock_guard lock(mu_);
    const auto it = costs_.find(key);
    return it == costs_.end() ? 0.0 : it->second;
  }
  void put(std::uintptr_t key, double ns_per_item) {
    std::lock_guard lock(mu_);
    costs_[key] = ns_per_item;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::uintptr_t, double> costs_;
};

class PersistentCore;

class Run {
 public:
  // Fork mode: forks up to `workers` processes now; they see this process's
  // memory as it is at this moment and run `body`.
  Run(std::size_t n, std::uint32_t result_size, bool serialized, unsigned workers, CallOptions opts, ItemBody body);
  // Persistent mode: `write_job` fills the job area (callable + items) while
  // the pool's workers are idle; they then run job `kind`.
  Run(std::shared_ptr<PersistentCore> core, std::size_t n, std::uint32_t result_size, bool serialized,
      CallOptions opts, std::uint32_t kind, const std::function<void(std::byte* job, std::size_t cap)>& write_job);
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;
  ~Run();  // cancels what is left, reaps / releases the workers

  std::size_t size() const noexcept { return n_; }
  RunView view() const noexcept { return v_; }
  // Replaces `out` with the next outcomes (at least one); false once every
  // item has had its outcome.
  bool next(std::vector<Outcome>& out);
  // Stops the remaining work now (workers are killed in fork mode; in
  // persistent mode they finish their current item).
  void cancel() noexcept;
  // Throws the exception for a failed outcome (ItemError, WorkerCrashed,
  // TimeoutError).
  [[noreturn]] void raise(const Outcome& o) const;
  // Results: item i's trivially copyable result, or its serialized bytes.
  const std::byte* result(std::uint32_t i) const noexcept { return v_.result(i); }
  std::span<const std::byte> result_bytes(std::uint32_t i) const noexcept;
  // Average cost of an item in this call, per worker (0 until it finished).
  double ns_per_item() const noexcept { return ns_per_item_; }

 private:
  struct Worker {
    pid_t pid;
    std::uint32_t slot;
    std::uint32_t tag;
  };
  void lay_out_chunks(std::uint32_t workers);
  void start_fork(unsigned workers);
  void spawn(std::uint32_t slot, bool replacement);
  void drain(std::vector<Outcome>& out);
  void deliver_range(std::uint32_t begin, std::uint32_t end, std::uint32_t slot, std::vector<Outcome>& out);
  void reap(std::vector<Outcome>& out, bool block_for_killed);
  void handle_death(const Worker& w, int status, std::vector<Outcome>& out);
  void check_timeouts();
  std::chrono::milliseconds park_time() const noexcept;
  bool recover_lifecycle(const Worker& w, int status, std::uint32_t item, std::vector<Outcome>& out);
  void report_progress(bool final);
  std::uint64_t published_sum() const noexcept;
  void finish() noexcept;
  std::optional<std::uint32_t> free_slot() noexcept;

  std::shared_ptr<PersistentCore> core_;   // null in fork mode
  std::unique_lock<std::mutex> job_lock_;  // persistent: one job at a time
  Mapping own_map_;                        // fork mode
  RunView v_;
  std::size_t n_ = 0;
  CallOptions opts_;
  ItemBody body_;
  std::vector<Worker> live_;
  std::vector<std::uint64_t> seen_;        // per slot: log entries consumed
  std::vector<std::uint64_t> counts_;      // per slot: scratch for drain()
  std::vector<std::uint8_t> delivered_;    // per item
  std::vector<std::uint8_t> attempts_;     // per item: deaths while running it
  std::vector<std::uint32_t> threw_in_;    // per chunk: items delivered by a `threw` entry
  std::vector<std::pair<pid_t, std::uint32_t>> timed_out_;  // killed worker -> its stuck item
  struct HookOverrun {
    pid_t pid;
    HookId hook;
    std::int64_t limit_ms;
  };
  std::vector<HookOverrun> overran_;                         // pool.map<W>: killed for a hook deadline
  std::unordered_map<std::uint32_t, FailureInfo> failures_;  // pool.map<W>: failed outcomes
  std::size_t done_ = 0;
  std::uint64_t published_seen_ = 0;
  std::vector<std::uint32_t> spares_;      // never-used slots for replacement workers
  std::vector<std::uint32_t> generation_;  // per slot: incarnations so far (fork mode)
  bool finished_ = false;
  unsigned workers_ = 0;
  double ns_per_item_ = 0;
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
  // After a job: waits until each (pid, slot) worker has acknowledged it; one
  // still inside an item after a grace period is killed (and replaced at the
  // next job), so it cannot write into the next job's memory.
  void settle(const std::vector<std::pair<pid_t, std::uint32_t>>& workers) noexcept;

  std::mutex mu_;
  Mapping map_;
  RunView v_;
  unsigned workers_;
  std::size_t max_items_;
  std::uint64_t result_capacity_ = 0;
  std::vector<pid_t> pids_;                // per slot; 0 = none
  std::vector<std::uint32_t> generation_;  // per slot: incarnations so far
};

// 0 = one per hardware thread.
unsigned resolve_workers(unsigned requested) noexcept;

// Reads a published error record.
void read_error(RunView v, std::uint32_t slot, std::uint64_t off, std::string& type, std::string& what);

}  // namespace sk::ipc::pool
