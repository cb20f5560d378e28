#pragma once
// The one lifecycle engine: runs a Skprocess's hooks (prerun, run, postrun
// per iteration; then onfinish, result; error() when lives run out), times
// them, publishes the run index and hook deadlines in a LifecycleState, and
// spends lives on exceptions. A started Skprocess and a pool.map<W> item run
// exactly this code; only the host differs (where timer samples and the
// outcome go), and who supervises the state:
//
//   started Skprocess: samples -> the control block's ring (the parent reads
//     them live); outcome -> a frame on the outcome pipe; supervisor: its
//     own process (supervisor.hpp), which kills a worker that overran a hook
//     deadline and forks a fresh one.
//   pool.map<W> item:  samples -> the item object's own timers; outcome ->
//     the item's result or error in the Pool run; supervisor: the Pool's
//     collector (internal/pool/run.hpp), which does the same.
//
// Both supervisors decide what follows a death with after_death(), so lives,
// timeouts, crashes and error() mean the same everywhere.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <sk/ipc/failure.hpp>
#include <sk/ipc/lifecycle_state.hpp>

namespace sk::ipc {

struct ProcessSpec {
  std::optional<std::uint64_t> runs;             // unset = until stopped
  std::optional<std::chrono::nanoseconds> join_in;
  std::uint32_t lives = 1;                       // total attempts
  std::array<std::optional<std::chrono::milliseconds>, kHookCount> timeouts{};  // by HookId
  std::size_t channel_capacity = std::size_t{1} << 18;  // bytes per tell/listen direction

  bool any_timeout() const noexcept;
};

// What the engine calls in the worker. Implemented by sk::Skprocess<R>.
class WorkerBody {
 public:
  virtual void call_hook(HookId h) = 0;  // prerun, run, postrun, onfinish; throws on failure
  // Calls result() and appends the encoded value to out.
  virtual void call_result(std::vector<std::byte>& out) = 0;
  // Calls error(f). Returning normally: out holds the encoded replacement
  // result. Throwing anything: the original failure is delivered.
  virtual void call_error(const FailureInfo& f, std::vector<std::byte>& out) = 0;

 protected:
  WorkerBody() = default;
  WorkerBody(const WorkerBody&) = default;
  WorkerBody& operator=(const WorkerBody&) = default;
  ~WorkerBody() = default;
};

// Where the engine's products go (see the top).
class LifecycleHost {
 public:
  virtual void timer_sample(HookId hook, double seconds) noexcept = 0;
  // The one outcome: ok -> the encoded result; !ok -> an encoded FailureInfo.
  // Returns whether it was delivered.
  virtual bool deliver(bool ok, std::span<const std::byte> payload) noexcept = 0;

 protected:
  LifecycleHost() = default;
  LifecycleHost(const LifecycleHost&) = default;
  LifecycleHost& operator=(const LifecycleHost&) = default;
  ~LifecycleHost() = default;
};

// Prepares the state for a lifecycle that starts now, at run 0.
void reset_lifecycle(LifecycleState& s, std::uint32_t lives) noexcept;

// Runs the loop from s.current_run with s.lives_left lives, then onfinish and
// result; a failure with no lives left goes to error(). Delivers one outcome
// through the host (unless the process dies first).
void run_lifecycle(LifecycleState& s, const ProcessSpec& spec, WorkerBody& body, LifecycleHost& host);
// Runs only error(f): lives were exhausted by a crash or a timeout, so the
// process that failed is gone and error() runs in a fresh one.
void run_error_only(LifecycleState& s, const ProcessSpec& spec, WorkerBody& body, LifecycleHost& host,
                    const FailureInfo& f);

// What the supervisor does after the process running the hooks died
// (`cause`: its crash, or the hook timeout it was killed for).
struct AfterDeath {
  enum class Kind : std::uint8_t {
    deliver,     // the lifecycle is over: `failure` is its outcome
    restart,     // a fresh process continues at s.current_run (one life was spent)
    error_only,  // no lives left: a fresh process runs error(failure)
  };
  Kind kind = Kind::deliver;
  FailureInfo failure;
};
AfterDeath after_death(LifecycleState& s, const FailureInfo& cause);

// The failure of a hook that overran its limit (the supervisor killed it).
FailureInfo timeout_failure(HookId h, std::uint64_t run, std::int64_t limit_ms);
// The failure error() was handling when its process died, if it was stashed.
std::optional<FailureInfo> stashed_failure(const LifecycleState& s);

}  // namespace sk::ipc
