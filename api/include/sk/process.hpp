#pragma once
// sk::Skprocess<R>: a worker class with lifecycle hooks that runs in its own
// process.
//
//   class Worker : public sk::Skprocess<int> {
//    public:
//     Worker() { config.runs = 10; config.lives = 3; config.timeouts.run = 50ms; }
//     void prerun() override {}          // optional
//     void run() override { ++n_; }      // required
//     void postrun() override {}         // optional
//     void onfinish() override {}        // optional
//     int result() override { return n_; }               // optional (default: R{})
//     int error(const sk::ProcessError& e) override {}   // optional (default: rethrow)
//    private:
//     int n_ = 0;
//   };
//   Worker w; w.start(); ... int r = w.get();   // or: int r = Worker{}.execute();
//
// Naming: the hooks are called run() and result() (as in the original), so
// the parent-side calls that the original named result() and run() are
// get() (wait, then return R or throw the failure; like std::future::get)
// and execute() (start + wait + get).
//
// Semantics (see docs/process.md):
//   - start() forks; the child sees the object exactly as it was at start()
//     (no serialization of the object). Only the result or the failure comes
//     back (sk::ser), plus the automatic hook timers (shared memory, live).
//   - per iteration: prerun, run, postrun; then once onfinish, result.
//     stop() (parent or worker) ends the loop after the current hook;
//     onfinish and result still run.
//   - lives: an exception in prerun/run/postrun costs a life and retries the
//     same run index in the same process; a crash or a hook timeout costs a
//     life and restarts a fresh worker from the start() snapshot at that run
//     index. Exhausted: error() runs and its value (or the failure) is the
//     outcome. Failures in onfinish/result go to error() without a lives cost.
//   - tell()/listen(): FIFO messages of any Serializable type, both ways.
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <sk/autoreconnect.hpp>
#include <sk/ipc/internal/pool/layout.hpp>
#include <sk/ipc/lifecycle.hpp>
#include <sk/ipc/serialize.hpp>
#include <sk/ipc/supervisor.hpp>
#include <sk/process_errors.hpp>
#include <sk/timer.hpp>

namespace sk {

// One hook's time limit: unset (no limit), any std::chrono duration, or
// seconds as a number, as in the original:
//   config.timeouts.run = 30s;  = 1500us;  = 30.0;  = 0.25;  = std::nullopt;
// Kept in whole milliseconds, rounded up, so a limit is never shorter than
// asked (1500us is 2 ms). start() refuses a limit that is not positive.
class HookTimeout : public std::optional<std::chrono::milliseconds> {
 public:
  HookTimeout() = default;
  HookTimeout(std::nullopt_t) noexcept {}  // NOLINT: implicit, like std::optional
  template <class Rep, class Period>
  HookTimeout(std::chrono::duration<Rep, Period> d)  // NOLINT: implicit: `= 30s`
      : std::optional<std::chrono::milliseconds>(to_ms(d)) {}
  template <class Seconds>
    requires(std::is_arithmetic_v<Seconds> && !std::is_same_v<Seconds, bool>)
  HookTimeout(Seconds s)  // NOLINT: implicit: `= 30.0` means 30 seconds
      : HookTimeout(std::chrono::duration<double>(static_cast<double>(s))) {}

 private:
  template <class Rep, class Period>
  static std::chrono::milliseconds to_ms(std::chrono::duration<Rep, Period> d) {
    if constexpr (std::is_floating_point_v<Rep>) {
      const double ms = std::chrono::duration<double, std::milli>(d).count();
      if (!(ms > -1e15 && ms < 1e15))
        throw ProcessConfigError("Skprocess config.timeouts: " + std::to_string(ms / 1000) +
                                 " s is not a usable time limit; give a finite number of seconds (or a duration), "
                                 "or leave it unset for no limit");
    }
    return std::chrono::ceil<std::chrono::milliseconds>(d);
  }
};

struct ProcessTimeouts {
  HookTimeout prerun{}, run{}, postrun{}, onfinish{}, result{}, error{};
};

struct ProcessConfig {
  std::optional<std::uint64_t> runs;                 // unset: until stop() or join_in
  std::optional<std::chrono::nanoseconds> join_in;   // stop starting iterations after this long
  std::uint32_t lives = 1;                           // total attempts (1 = no retry)
  ProcessTimeouts timeouts;                          // per hook; enforced by a supervisor process
  std::size_t channel_bytes = std::size_t{1} << 18;  // ring size of each tell/listen direction
  // When set, every sk::Live<> resource the worker process inherited (database
  // connections, sockets, files) is reconnected before prerun, with the
  // credentials declared here (sk/autoreconnect.hpp). A failure is a
  // ReconnectError in prerun's place and costs a life, so lives = 3 retries it.
  std::optional<Autoreconnect> autoreconnect;
};

// Automatic per-hook timers. full_run: prerun + run + postrun of each
// completed iteration.
struct ProcessTimers {
  Sktimer prerun, run, postrun, onfinish, result, error, full_run;
};

namespace pool_detail {
class ItemRun;
}

namespace process_detail {

// The part of Skprocess that does not depend on R.
class ProcessBase : protected ipc::WorkerBody {
 public:
  ProcessConfig config;

  ProcessBase() = default;
  ProcessBase(const ProcessBase&) = delete;
  ProcessBase& operator=(const ProcessBase&) = delete;
  virtual ~ProcessBase() = default;  // a running process is killed by the handle

  // Forks the process and returns at once. Throws ProcessAlreadyStarted on a
  // second call, ProcessConfigError for a bad config, ipc::SpawnError.
  void start();
  // Waits until the process has finished (true) or the timeout passed
  // (false). True at once if it was never started.
  bool wait();
  bool wait(std::chrono::nanoseconds timeout);
  // Asks the loop to end after the current hook (parent or worker). Returns
  // at once; onfinish and result still run.
  void stop() noexcept;
  // SIGKILL, no more hooks; get() then throws ProcessKilled.
  void kill() noexcept;
  bool is_alive() noexcept;
  // Completed iterations, live from the worker.
  std::uint64_t current_run() const noexcept;
  // The current worker's pid (it changes when a crashed worker is replaced).
  pid_t pid() const noexcept;
  // Hook timers, updated from the worker's live samples at each call.
  const ProcessTimers& timers();

  // Sends a message to the other side (parent -> worker, or worker -> parent).
  // String literals and const char* travel as std::string (ser::to_wire), so
  // tell("print") pairs with listen<std::string>().
  template <ser::Sendable T>
  void tell(const T& value) {
    check_channel("tell");
    std::vector<std::byte> bytes;
    ser::encode_into(ser::to_wire(value), bytes);
    handle_.send(bytes);
  }
  // Receives the next message from the other side; nullopt on timeout (or,
  // in the parent, when the worker has finished and nothing is left).
  template <ser::Serializable T>
  std::optional<T> listen(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) {
    check_channel("listen");
    auto bytes = handle_.receive(timeout);
    if (!bytes) return std::nullopt;
    return ser::decode<T>(*bytes);
  }

 protected:
  // Waits and checks that the outcome can be read (parent side).
  const ipc::Outcome& collect_outcome(const char* what);
  bool in_worker() const noexcept { return handle_.in_worker(); }

 private:
  friend class pool_detail::ItemRun;
  void check_channel(const char* what) const;
  ipc::ProcessSpec make_spec() const;
  // pool.map<W>: runs this object's whole lifecycle here, in a Pool worker,
  // with the one lifecycle engine (the Pool's collector supervises `state`).
  void run_in_pool(ipc::LifecycleState& state, const ipc::pool::ItemResume& resume, ipc::LifecycleHost& host);
  void record_timer_sample(ipc::HookId h, double seconds) noexcept;

  ipc::ProcessHandle handle_;
  ProcessTimers timers_;
  bool collected_ = false;
};

}  // namespace process_detail

template <class R = void>
class Skprocess : public process_detail::ProcessBase {
  static_assert(std::is_void_v<R> || ser::Serializable<R>,
                "Skprocess<R>: R must be void or Serializable with sk::ser (add SK_FIELDS to your struct)");

 public:
  using result_type = R;

  // ---- parent-side control -------------------------------------------------
  // Waits for the process, then returns its result or throws its failure (a
  // ProcessError subclass). May be called again (same outcome).
  R get() {
    const ipc::Outcome& o = collect_outcome("get()");
    if (!o.ok) process_detail::throw_failure(o.failure);
    if constexpr (!std::is_void_v<R>) return ser::decode<R>(o.result);
  }
  // start() + wait() + get().
  R execute() {
    start();
    return get();
  }

  // ---- hooks (run in the worker) --------------------------------------------
  virtual void prerun() {}
  virtual void run() = 0;
  virtual void postrun() {}
  virtual void onfinish() {}
  virtual R result() {
    if constexpr (std::is_void_v<R>) {
      return;
    } else if constexpr (std::is_default_constructible_v<R>) {
      return R{};
    } else {
      throw ProcessUsageError("Skprocess<R>::result(): R is not default-constructible; override result()");
    }
  }
  // Receives the failure when lives are exhausted (or onfinish/result
  // failed). Return a value to make it the result; rethrow (the default) to
  // deliver the failure.
  virtual R error(const ProcessError& failure) {
    failure.rethrow();
    throw failure;  // not reached: rethrow() throws the dynamic type
  }

 private:
  void call_hook(ipc::HookId h) override {
    switch (h) {
      case ipc::HookId::prerun:
        // Cheap when nothing is inherited any more: one walk of an empty list.
        if (config.autoreconnect) reconnect_inherited(*config.autoreconnect);
        prerun();
        break;
      case ipc::HookId::run: run(); break;
      case ipc::HookId::postrun: postrun(); break;
      case ipc::HookId::onfinish: onfinish(); break;
      default: break;
    }
  }
  void call_result(std::vector<std::byte>& out) override {
    if constexpr (std::is_void_v<R>) {
      result();
    } else {
      ser::encode_into(result(), out);
    }
  }
  void call_error(const ipc::FailureInfo& f, std::vector<std::byte>& out) override {
    try {
      std::rethrow_exception(process_detail::make_failure(f));
    } catch (const ProcessError& e) {
      if constexpr (std::is_void_v<R>) {
        error(e);
      } else {
        ser::encode_into(error(e), out);
      }
    }
  }
};

}  // namespace sk
