#pragma once
// Call modifiers for any callable, chainable in any order:
//
//   auto get = sk::fn(fetch, "fetch")
//                  .retry<NetError>(3, 100ms, 2.0)   // 3 attempts, sleeps 100 ms then 200 ms
//                  .rate_limit(10)                   // at most 10 calls per second (across calls)
//                  .timeout(2s);                     // each attempt: FunctionTimeoutError after 2 s
//   Page p = get(url);
//   std::future<Page> f = get.background()(url);     // runs on a new thread
//   Page q = co_await get.asynced()(url);            // C++20 awaitable (sk/task.hpp)
//
// Nesting is fixed whatever the chain order (as in the original): the retry
// loop is outermost; each attempt waits for the rate limiter, then runs under
// the timeout.
//
// - retry<E...>(times, delay, backoff_factor): `times` = total attempts (>= 1).
//   Only exceptions of types E... (default: any std::exception) are retried;
//   after the last attempt the last exception propagates.
// - timeout(d): the attempt runs on a new thread; if it has not finished after
//   d, the caller gets sk::FunctionTimeoutError. C++ cannot cancel a thread:
//   THE CALL KEEPS RUNNING in the background until it returns on its own, and
//   its result is dropped. Arguments are copied for it (pass std::ref(x) to
//   share x, and keep x alive until the call ends).
// - rate_limit(per_second): a limiter created once per chain and shared by
//   every copy of the wrapper, so it holds across calls (the original made a
//   new limiter per chain call). rate_limit(limiter) uses an existing
//   sk::RateLimiter, e.g. one living in a Share to limit several processes.
// - background(): returns std::future<R> (std::async on a new thread).
// - asynced(): returns sk::AsyncCall<R>, an awaitable that runs the modified
//   call on a new thread. background() and asynced() end the chain's mode:
//   they are available once, on a synchronous chain.
//
// Arguments: the call may run more than once (retry), so the wrapped callable
// receives its arguments as lvalues; with timeout/background/asynced they are
// copies (std::make_tuple rules: std::ref passes a reference).
// Misuse (times < 1, negative delay, non-positive timeout or rate, a modifier
// set twice on one chain) throws sk::ModifierError.
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>

#include <sk/core/error.hpp>
#include <sk/rate_limiter.hpp>
#include <sk/task.hpp>

namespace sk {

// A .timeout() expired. The call itself keeps running (see above).
class FunctionTimeoutError : public Error {
 public:
  using Error::Error;
};

namespace modifiers_detail {

// One catch clause per type: true if `e` is (derived from) T.
template <class T>
bool is(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const T&) {
    return true;
  } catch (...) {
    return false;
  }
}

struct Retry {
  int times = 3;
  std::chrono::duration<double> delay{1.0};
  double backoff_factor = 1.0;
  bool (*retryable)(const std::exception_ptr&) noexcept = nullptr;
};

struct Config {
  std::string name = "function";
  std::optional<Retry> retry;
  std::shared_ptr<RateLimiter> own_limiter;  // from rate_limit(per_second)
  RateLimiter* limiter = nullptr;            // own_limiter.get() or a user's (e.g. in a Share)
  std::optional<std::chrono::duration<double>> timeout;
};

[[noreturn]] void throw_timeout(const std::string& name, double seconds);
[[noreturn]] void throw_twice(const char* modifier);
void check_retry(int times, double delay, double backoff_factor);
void check_timeout(double seconds);

// One attempt: rate limit, then the call (under the timeout if set).
template <class F, class... Args>
decltype(auto) attempt(const std::shared_ptr<F>& f, const Config& c, Args&... args) {
  if (c.limiter) c.limiter->acquire();
  if (!c.timeout) return std::invoke(*f, args...);
  using Tuple = decltype(std::make_tuple(args...));
  using R = decltype(std::apply(*f, std::declval<Tuple&>()));
  auto task = std::make_shared<std::packaged_task<R()>>(
      [f, tup = std::make_tuple(args...)]() mutable -> R { return std::apply(*f, tup); });
  auto fut = task->get_future();
  std::thread([task] { (*task)(); }).detach();
  if (fut.wait_for(*c.timeout) != std::future_status::ready) throw_timeout(c.name, c.timeout->count());
  if constexpr (std::is_void_v<R>) {
    fut.get();
  } else {
    return static_cast<decltype(std::invoke(*f, args...))>(fut.get());
  }
}

// The retry loop around attempts.
template <class F, class... Args>
decltype(auto) run(const std::shared_ptr<F>& f, const Config& c, Args&... args) {
  if (!c.retry) return attempt(f, c, args...);
  auto delay = c.retry->delay;
  for (int i = 1;; ++i) {
    try {
      return attempt(f, c, args...);
    } catch (...) {
      if (i >= c.retry->times || !c.retry->retryable(std::current_exception())) throw;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    delay *= c.retry->backoff_factor;
  }
}

enum class Mode { sync, background, async };

}  // namespace modifiers_detail

template <class F, modifiers_detail::Mode M = modifiers_detail::Mode::sync>
class Modified {
  using Mode = modifiers_detail::Mode;

 public:
  Modified(std::shared_ptr<F> f, modifiers_detail::Config c) : f_(std::move(f)), c_(std::move(c)) {}

  // Total attempts `times` (>= 1), sleeping `delay` between attempts and
  // multiplying it by `backoff_factor` each time. Retries exceptions of types
  // E... (default: any std::exception).
  template <class... E>
  Modified retry(int times = 3, std::chrono::duration<double> delay = std::chrono::seconds(1),
                 double backoff_factor = 1.0) const {
    if (c_.retry) modifiers_detail::throw_twice("retry");
    modifiers_detail::check_retry(times, delay.count(), backoff_factor);
    auto c = c_;
    c.retry = modifiers_detail::Retry{times, delay, backoff_factor, &retryable<E...>};
    return Modified(f_, std::move(c));
  }

  Modified timeout(std::chrono::duration<double> d) const {
    if (c_.timeout) modifiers_detail::throw_twice("timeout");
    modifiers_detail::check_timeout(d.count());
    auto c = c_;
    c.timeout = d;
    return Modified(f_, std::move(c));
  }

  Modified rate_limit(double per_second) const {
    if (c_.limiter) modifiers_detail::throw_twice("rate_limit");
    auto c = c_;
    c.own_limiter = std::make_shared<RateLimiter>(per_second);
    c.limiter = c.own_limiter.get();
    return Modified(f_, std::move(c));
  }
  // Uses `limiter` (not owned; must outlive every call), e.g. a Share slot.
  Modified rate_limit(RateLimiter& limiter) const {
    if (c_.limiter) modifiers_detail::throw_twice("rate_limit");
    auto c = c_;
    c.limiter = &limiter;
    return Modified(f_, std::move(c));
  }

  Modified<F, Mode::background> background() const
    requires(M == Mode::sync)
  {
    return {f_, c_};
  }
  Modified<F, Mode::async> asynced() const
    requires(M == Mode::sync)
  {
    return {f_, c_};
  }

  template <class... Args>
  decltype(auto) operator()(Args&&... args) const {
    if constexpr (M == Mode::sync) {
      return modifiers_detail::run(f_, c_, args...);
    } else {
      using R = std::decay_t<decltype(modifiers_detail::run(f_, c_, std::declval<std::decay_t<Args>&>()...))>;
      auto job = [f = f_, c = c_, tup = std::make_tuple(std::forward<Args>(args)...)]() mutable -> R {
        return std::apply([&](auto&... a) -> R { return modifiers_detail::run(f, c, a...); }, tup);
      };
      if constexpr (M == Mode::background) {
        return std::async(std::launch::async, std::move(job));
      } else {
        return AsyncCall<R>(std::packaged_task<R()>(std::move(job)));
      }
    }
  }

  const std::string& name() const noexcept { return c_.name; }

 private:
  template <class... E>
  static bool retryable(const std::exception_ptr& e) noexcept {
    if constexpr (sizeof...(E) == 0) {
      return modifiers_detail::is<std::exception>(e);
    } else {
      return (modifiers_detail::is<E>(e) || ...);
    }
  }

  std::shared_ptr<F> f_;
  modifiers_detail::Config c_;
};

// Wraps any callable; `name` appears in FunctionTimeoutError messages.
template <class F>
Modified<std::decay_t<F>> fn(F&& f, std::string name = "function") {
  modifiers_detail::Config c;
  c.name = std::move(name);
  return {std::make_shared<std::decay_t<F>>(std::forward<F>(f)), std::move(c)};
}

}  // namespace sk
