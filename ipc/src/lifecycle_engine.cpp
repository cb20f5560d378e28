// The one lifecycle engine (see sk/ipc/lifecycle.hpp): the hooks, their
// timers and deadlines, lives, error(), and the supervisor's decision after
// a death.
#include <algorithm>
#include <cstring>
#include <string>

#include <sk/ipc/lifecycle.hpp>

namespace sk::ipc {

using namespace std::chrono;

bool ProcessSpec::any_timeout() const noexcept {
  return std::any_of(timeouts.begin(), timeouts.end(), [](const auto& t) { return t.has_value(); });
}

namespace {

class Engine {
 public:
  Engine(LifecycleState& s, const ProcessSpec& spec, WorkerBody& body, LifecycleHost& host)
      : s_(s), spec_(spec), body_(body), host_(host) {}

  void run_lifecycle() {
    // SYNC POINT: release, pairs with the supervisor's acquire of phase after
    // a death: the run index and lives below it are this lifecycle's.
    s_.phase.store(static_cast<std::uint32_t>(Phase::loop), std::memory_order_release);
    // SYNC POINT: acquire, pairs with the supervisor's release of current_run
    // before it started this process (restart point).
    std::uint64_t run = s_.current_run.load(std::memory_order_acquire);
    for (;;) {
      if (!should_continue(run)) break;
      double t[3] = {0, 0, 0};
      FailureInfo f;
      bool failed = false, stopped = false;
      const HookId hooks[3] = {HookId::prerun, HookId::run, HookId::postrun};
      for (int i = 0; i < 3; ++i) {
        if (!timed_call(hooks[i], run, t[i], f)) {
          failed = true;
          break;
        }
        if (i < 2 && stop_requested()) {
          stopped = true;
          break;
        }
      }
      if (failed) {
        // A life per failure; the same run index is retried in this process.
        const std::uint32_t left = s_.lives_left.load(std::memory_order_relaxed) - 1;
        // SYNC POINT: release, pairs with the supervisor's acquire after a
        // death: a crash right after this costs a life of what is left.
        s_.lives_left.store(left, std::memory_order_release);
        if (left > 0) continue;
        deliver_error(f);
        return;
      }
      if (stopped) break;
      ++run;
      // SYNC POINT: release publishes the completed iteration's index to the
      // parent's current_run() and to the supervisor (restart point).
      s_.current_run.store(run, std::memory_order_release);
      const double full = t[0] + t[1] + t[2];
      if (full > 0) host_.timer_sample(HookId::full_run, full);
    }
    // SYNC POINT: release, pairs with the supervisor's acquire of phase: a
    // death from here on costs no life (onfinish/result go to error()).
    s_.phase.store(static_cast<std::uint32_t>(Phase::finishing), std::memory_order_release);
    FailureInfo f;
    double t = 0;
    if (!timed_call(HookId::onfinish, run, t, f)) {
      deliver_error(f);
      return;
    }
    std::vector<std::byte> out;
    if (!timed_call(HookId::result, run, t, f, [&] { body_.call_result(out); })) {
      deliver_error(f);
      return;
    }
    finish(true, out);
  }

  // error(f) decides the outcome: its value, or f itself when it throws.
  void deliver_error(const FailureInfo& f) {
    // SYNC POINT: release, pairs with the supervisor's acquire of phase: a
    // death inside error() delivers the stashed failure.
    s_.phase.store(static_cast<std::uint32_t>(Phase::error), std::memory_order_release);
    stash_failure(f);
    std::vector<std::byte> out;
    begin_hook(HookId::error);
    const auto t0 = steady_clock::now();
    bool ok = true;
    try {
      body_.call_error(f, out);
    } catch (...) {
      ok = false;
    }
    end_hook();
    if (ok) {
      host_.timer_sample(HookId::error, duration<double>(steady_clock::now() - t0).count());
      finish(true, out);
    } else {
      std::vector<std::byte> bytes;
      encode_failure(f, bytes);
      finish(false, bytes);
    }
  }

 private:
  bool stop_requested() const noexcept {
    // SYNC POINT: acquire, pairs with the release store of stop (supervisor
    // side or the worker itself); the flag publishes nothing else, so this
    // only needs to see it eventually.
    return s_.stop.load(std::memory_order_acquire) != 0;
  }

  bool should_continue(std::uint64_t run) const noexcept {
    if (stop_requested()) return false;
    if (spec_.runs && run >= *spec_.runs) return false;
    if (spec_.join_in && monotonic_ns() - s_.start_ns >= spec_.join_in->count()) return false;
    return true;
  }

  void begin_hook(HookId h) noexcept {
    s_.hook.store(static_cast<std::uint32_t>(h), std::memory_order_relaxed);
    const auto& limit = spec_.timeouts[static_cast<std::size_t>(h)];
    std::uint64_t d = 0;
    if (limit) {
      s_.deadline_limit_ms.store(limit->count(), std::memory_order_relaxed);
      d = LifecycleState::pack_deadline(
          h, static_cast<std::uint64_t>(monotonic_ns() + duration_cast<nanoseconds>(*limit).count()));
    }
    // SYNC POINT: release publishes hook, its limit and the run index with the
    // deadline the supervisor acquires; it then knows which hook overran, by
    // how much it was allowed, at which run.
    s_.deadline.store(d, std::memory_order_release);
  }
  void end_hook() noexcept {
    // SYNC POINT: release, pairs with the supervisor's acquire: a cleared
    // deadline means the hook returned in time.
    s_.deadline.store(0, std::memory_order_release);
  }

  bool timed_call(HookId h, std::uint64_t run, double& seconds, FailureInfo& f) {
    return timed_call(h, run, seconds, f, [&] { body_.call_hook(h); });
  }

  // Runs fn as hook h: deadline word for the supervisor, timer sample on
  // success; on an exception fills f and returns false.
  template <class Fn>
  bool timed_call(HookId h, std::uint64_t run, double& seconds, FailureInfo& f, Fn&& fn) {
    begin_hook(h);
    const auto t0 = steady_clock::now();
    try {
      fn();
    } catch (...) {
      end_hook();
      f = FailureInfo{};
      f.kind = FailureInfo::Kind::exception;
      f.hook = h;
      f.run = run;
      capture_exception(f);
      return false;  // the failed section's sample is discarded
    }
    end_hook();
    seconds = duration<double>(steady_clock::now() - t0).count();
    host_.timer_sample(h, seconds);
    return true;
  }

  // Keeps the failure in the state while error() runs, so that a crash inside
  // error() still delivers it (the supervisor reads it).
  void stash_failure(const FailureInfo& f) noexcept {
    try {
      FailureInfo g = f;
      std::vector<std::byte> bytes;
      encode_failure(g, bytes);
      while (bytes.size() > sizeof s_.failure_buf && !g.what.empty()) {
        g.what.resize(g.what.size() / 2);
        bytes.clear();
        encode_failure(g, bytes);
      }
      if (bytes.size() > sizeof s_.failure_buf) return;
      std::memcpy(s_.failure_buf, bytes.data(), bytes.size());
      // SYNC POINT: release publishes failure_buf to stashed_failure's acquire.
      s_.failure_len.store(static_cast<std::uint32_t>(bytes.size()), std::memory_order_release);
    } catch (...) {
    }
  }

  void finish(bool ok, std::span<const std::byte> payload) noexcept {
    if (host_.deliver(ok, payload)) {
      // SYNC POINT: release: the outcome is delivered before the supervisor
      // (acquire) treats this worker's exit as a delivered outcome.
      s_.outcome_written.store(1, std::memory_order_release);
    }
    // SYNC POINT: release, pairs with the supervisor's acquire of phase.
    s_.phase.store(static_cast<std::uint32_t>(Phase::done), std::memory_order_release);
  }

  LifecycleState& s_;
  const ProcessSpec& spec_;
  WorkerBody& body_;
  LifecycleHost& host_;
};

}  // namespace

void reset_lifecycle(LifecycleState& s, std::uint32_t lives) noexcept {
  s.start_ns = monotonic_ns();
  s.stop.store(0, std::memory_order_relaxed);
  s.current_run.store(0, std::memory_order_relaxed);
  s.deadline.store(0, std::memory_order_relaxed);
  s.deadline_limit_ms.store(0, std::memory_order_relaxed);
  s.hook.store(0, std::memory_order_relaxed);
  s.phase.store(static_cast<std::uint32_t>(Phase::starting), std::memory_order_relaxed);
  s.lives_left.store(lives, std::memory_order_relaxed);
  s.outcome_written.store(0, std::memory_order_relaxed);
  s.failure_len.store(0, std::memory_order_relaxed);
}

void run_lifecycle(LifecycleState& s, const ProcessSpec& spec, WorkerBody& body, LifecycleHost& host) {
  Engine(s, spec, body, host).run_lifecycle();
}

void run_error_only(LifecycleState& s, const ProcessSpec& spec, WorkerBody& body, LifecycleHost& host,
                    const FailureInfo& f) {
  Engine(s, spec, body, host).deliver_error(f);
}

FailureInfo timeout_failure(HookId h, std::uint64_t run, std::int64_t limit_ms) {
  FailureInfo f;
  f.kind = FailureInfo::Kind::timeout;
  f.hook = h;
  f.run = run;
  f.limit_ms = limit_ms;
  f.what = std::string(hook_name(h)) + " ran longer than its timeout of " + std::to_string(limit_ms) + " ms";
  return f;
}

std::optional<FailureInfo> stashed_failure(const LifecycleState& s) {
  // SYNC POINT: acquire pairs with stash_failure's release.
  const std::uint32_t n = s.failure_len.load(std::memory_order_acquire);
  if (n == 0 || n > sizeof s.failure_buf) return std::nullopt;
  try {
    return decode_failure(std::span<const std::byte>(reinterpret_cast<const std::byte*>(s.failure_buf), n));
  } catch (const sk::Error&) {
    return std::nullopt;
  }
}

AfterDeath after_death(LifecycleState& s, const FailureInfo& cause) {
  // SYNC POINT: acquire, pairs with the engine's release stores of phase (and,
  // through them, of lives_left and current_run written before).
  const auto phase = static_cast<Phase>(s.phase.load(std::memory_order_acquire));
  s.deadline.store(0, std::memory_order_relaxed);
  if (phase == Phase::error || phase == Phase::done) {
    // error() itself died or overran: deliver the failure it was handling.
    return {AfterDeath::Kind::deliver, stashed_failure(s).value_or(cause)};
  }
  if (phase == Phase::loop || phase == Phase::starting) {
    const std::uint32_t left = s.lives_left.load(std::memory_order_relaxed);
    const std::uint32_t now_left = left > 0 ? left - 1 : 0;
    // SYNC POINT: release, pairs with the next worker's acquire of the state
    // (through the fork, or the Pool's claim): it continues with these lives.
    s.lives_left.store(now_left, std::memory_order_release);
    if (now_left > 0) return {AfterDeath::Kind::restart, cause};
  }
  return {AfterDeath::Kind::error_only, cause};  // no lives left, or onfinish/result died
}

}  // namespace sk::ipc
