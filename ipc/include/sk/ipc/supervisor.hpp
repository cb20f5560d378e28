#pragma once
// Process machinery behind sk::Skprocess: fork, the engine loop that runs the
// hooks in the worker, the supervisor that restarts crashed or overrunning
// workers, and the parent-side handle that waits for the outcome.
//
// Process tree of one started Skprocess:
//
//   parent P --fork--> supervisor S --fork--> worker W (incarnation 1, 2, ...)
//
//   - S is forked at start(); its memory IS the start() snapshot. When W dies
//     (fatal signal, abort, exit without an outcome) or overruns a hook
//     deadline (S watches the deadline word in the control block; the worker
//     gets no signals), S kills W if needed and forks a fresh W from its own
//     pristine memory, which continues at the run index in the control block.
//   - When lives == 1 and no timeout is set, and start() is called on the main
//     thread, S is skipped (P forks W directly; one fork, lower latency). A
//     crash then runs error() in a child the parent forks when it collects the
//     outcome.
//   - The outcome (encoded result or FailureInfo) travels through a pipe whose
//     write end only S and W hold: the parent reads it, and end-of-file means
//     the whole tree is gone. S and W die with their parent (PR_SET_PDEATHSIG
//     plus a getppid() check; S also watches the parent through a pidfd).
#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include <sk/core/error.hpp>
#include <sk/ipc/control_block.hpp>
#include <sk/ipc/failure.hpp>
#include <sk/ipc/lifecycle.hpp>
#include <sk/core/byte_ring.hpp>
#include <sk/ipc/message_framing.hpp>

namespace sk::ipc {

// Could not create the process (fork, pipe, mmap failed). Says which and why.
class SpawnError : public sk::Error {
 public:
  using sk::Error::Error;
};

struct Outcome {
  bool ok = false;
  std::vector<std::byte> result;  // ok: the encoded result
  FailureInfo failure;            // !ok
};

// Parent-side handle of one started process (and, in the worker, the same
// object in the child's copy of memory, with in_worker() == true).
class ProcessHandle {
 public:
  ProcessHandle() = default;
  ~ProcessHandle();  // kills and reaps a tree that is still running; unmaps
  ProcessHandle(const ProcessHandle&) = delete;
  ProcessHandle& operator=(const ProcessHandle&) = delete;

  // Maps the control block, forks. Returns at once in the parent; never
  // returns in the children (they _exit). Throws SpawnError.
  void start(const ProcessSpec& spec, WorkerBody& body);

  // A pool.map<W> item: no process of its own; the hooks run inline in a
  // Pool worker with the lifecycle state of its Pool slot. stop(),
  // current_run() and pid() then refer to it; tell/listen do not exist.
  void attach_inline(LifecycleState& s) noexcept {
    inline_ = &s;
    in_worker_ = true;
  }
  bool is_inline() const noexcept { return inline_ != nullptr; }

  bool started() const noexcept { return cb_ != nullptr; }
  bool in_worker() const noexcept { return in_worker_; }
  bool finished() const noexcept { return finished_; }
  bool killed() const noexcept { return killed_; }

  // Parent: waits until the tree has exited and the outcome is collected.
  // nullopt = no limit. Returns finished().
  bool wait(std::optional<std::chrono::nanoseconds> timeout);
  const Outcome& outcome() const noexcept { return outcome_; }

  void request_stop() noexcept;   // parent or worker
  bool stop_requested() const noexcept;
  void kill() noexcept;           // parent: SIGKILL supervisor and worker, reap
  bool is_alive() noexcept;       // parent: the tree is still running
  std::uint64_t current_run() const noexcept;
  pid_t pid() const noexcept;     // current worker's pid (0 before start)
  ControlBlock* control() const noexcept { return cb_; }

  // tell/listen. Parent: sends to / receives from the worker; worker: the
  // reverse. send blocks while the channel is full (backpressure) and throws
  // PeerGone if the other side has exited. receive returns nullopt on timeout
  // or when the worker has exited and nothing is left.
  void send(std::span<const std::byte> msg);
  std::optional<std::vector<std::byte>> receive(std::optional<std::chrono::nanoseconds> timeout);

  // Reads new timer samples into fn(HookId, double) (parent, live or after).
  template <class Fn>
  void drain_timer_samples(Fn&& fn) {
    if (cb_) timer_lost_ += read_timer_samples(*cb_, timer_cursor_, fn);
  }
  std::uint64_t timer_samples_lost() const noexcept { return timer_lost_; }

 private:
  LifecycleState* life() const noexcept { return inline_ ? inline_ : cb_ ? &cb_->life : nullptr; }
  core::ByteRing& to_worker() const noexcept;
  core::ByteRing& to_parent() const noexcept;
  void drain_incoming();
  bool read_outcome_pipe(int timeout_ms);
  void collect_finished();
  void unmap() noexcept;

  ControlBlock* cb_ = nullptr;
  LifecycleState* inline_ = nullptr;  // a pool.map<W> item's state (attach_inline)
  std::size_t map_bytes_ = 0;
  std::size_t channel_capacity_ = 0;
  pid_t child_ = 0;           // S, or W in direct mode
  bool supervised_ = true;
  bool in_worker_ = false;
  bool finished_ = false;
  bool killed_ = false;
  bool reaped_ = false;
  int child_status_ = 0;
  int outcome_fd_ = -1;       // parent: read end
  std::vector<std::byte> outcome_bytes_;
  Outcome outcome_;
  WorkerBody* body_ = nullptr;
  ProcessSpec spec_;
  std::deque<std::vector<std::byte>> backlog_;  // parent: drained but not yet listened
  // Messages being reassembled (message_framing.hpp), one per direction, so
  // that a worker's copy of the handle starts with the parent's untouched.
  std::vector<std::byte> from_worker_, from_parent_;
  bool from_worker_assembling_ = false, from_parent_assembling_ = false;
  std::uint64_t timer_cursor_ = 0;
  std::uint64_t timer_lost_ = 0;
};

// Thrown by send() when the other side has exited for good.
class PeerGone : public sk::Error {
 public:
  using sk::Error::Error;
};

}  // namespace sk::ipc
