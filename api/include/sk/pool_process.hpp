#pragma once
// Skprocess classes inside an sk::Pool worker: pool.map<W>(items) constructs
// one W per item and runs its whole lifecycle inline (in the pool worker, not
// in a process of its own), then yields W::result().
//
// The loop follows sk::Skprocess (docs/process.md): per iteration prerun,
// run, postrun until config.runs iterations are done or config.join_in has
// passed; then onfinish and result. An exception in prerun/run/postrun costs
// one of config.lives and retries the same run index; with no lives left,
// error() receives the typed failure (RunError, ...) and its return value
// becomes the item's result (the default error() rethrows: the item fails).
// onfinish/result failures go to error() without a lives cost.
// Differences from a started Skprocess (process.hpp has no inline entry
// point yet, so this is the Pool's own loop over the public hooks):
//  - per-hook timeouts are checked when the hook returns (an overrun costs a
//    life, as ProcessTimeoutError); a hook that never returns is only ended
//    by the Pool's per-item timeout(d);
//  - stop(), tell()/listen() and timers() do not apply (no process handle):
//    bound the loop with config.runs or config.join_in.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include <sk/ipc/failure.hpp>
#include <sk/process.hpp>

namespace sk::pool_detail {

template <class T>
concept TupleLike = requires { std::tuple_size<std::remove_cvref_t<T>>::value; };

inline void describe_in_flight(std::string& type, std::string& what) {
  ipc::FailureInfo f;
  ipc::capture_exception(f);
  type = std::move(f.type_name);
  what = std::move(f.what);
}

template <class W>
typename W::result_type run_process_inline(W& w) {
  using Clock = std::chrono::steady_clock;
  const ProcessConfig& c = w.config;
  std::uint32_t lives = c.lives == 0 ? 1 : c.lives;
  std::uint64_t run = 0;
  const auto t0 = Clock::now();
  auto timed = [&](ProcessHook hook, const std::optional<std::chrono::milliseconds>& limit, auto&& fn) {
    const auto s = Clock::now();
    fn();
    if (limit && Clock::now() - s > *limit) throw ProcessTimeoutError(hook, *limit, run);
  };
  std::string type, what;
  for (;;) {
    if (c.runs && run >= *c.runs) break;
    if (c.join_in && Clock::now() - t0 >= *c.join_in) break;
    ProcessHook hook = ProcessHook::prerun;
    try {
      timed(hook, c.timeouts.prerun, [&] {
        if (c.autoreconnect) reconnect_inherited(*c.autoreconnect);  // see ProcessConfig::autoreconnect
        w.prerun();
      });
      hook = ProcessHook::run;
      timed(hook, c.timeouts.run, [&] { w.run(); });
      hook = ProcessHook::postrun;
      timed(hook, c.timeouts.postrun, [&] { w.postrun(); });
      ++run;
    } catch (const ProcessTimeoutError& e) {
      if (--lives == 0) return w.error(e);
    } catch (...) {
      describe_in_flight(type, what);
      if (--lives > 0) continue;
      if (hook == ProcessHook::prerun) return w.error(PreRunError(run, type, what));
      if (hook == ProcessHook::run) return w.error(RunError(run, type, what));
      return w.error(PostRunError(run, type, what));
    }
  }
  try {
    timed(ProcessHook::onfinish, c.timeouts.onfinish, [&] { w.onfinish(); });
  } catch (const ProcessTimeoutError& e) {
    return w.error(e);
  } catch (...) {
    describe_in_flight(type, what);
    return w.error(OnFinishError(run, type, what));
  }
  try {
    return w.result();
  } catch (...) {
    describe_in_flight(type, what);
    return w.error(ResultError(run, type, what));
  }
}

// The callable pool.map<W>(items) runs per item.
template <class W, bool Star>
struct ProcessRunner {
  static_assert(std::is_base_of_v<process_detail::ProcessBase, W>,
                "sk::Pool::map<W>: W must derive from sk::Skprocess<R>");
  template <class T>
  typename W::result_type operator()(T&& item) const {
    if constexpr (Star && TupleLike<T>) {
      W w = std::make_from_tuple<W>(std::forward<T>(item));
      return run_process_inline(w);
    } else {
      W w(std::forward<T>(item));
      return run_process_inline(w);
    }
  }
};

template <class T>
struct IsProcessRunner : std::false_type {};
template <class W, bool Star>
struct IsProcessRunner<ProcessRunner<W, Star>> : std::true_type {};

}  // namespace sk::pool_detail
