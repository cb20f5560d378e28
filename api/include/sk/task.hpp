#pragma once
// Minimal C++20 coroutine support for `.asynced()` calls:
//
//   sk::AsyncCall<R>  an awaitable that runs a job on a new worker thread and
//                     resumes the awaiting coroutine on that worker thread;
//   sk::Task<T>       a lazy coroutine task (starts when awaited; co_return T);
//   sk::sync_wait(a)  blocks the calling thread until awaitable `a` finishes
//                     and returns its value (or rethrows its exception).
//
//   sk::Task<int> twice(int x) { int a = co_await slow.asynced()(x); co_return 2 * a; }
//   int r = sk::sync_wait(twice(21));
//
// This is deliberately small: no scheduler, no cancellation. Use it from a
// real executor library when you have one (every awaitable here is a plain
// awaiter with await_ready/await_suspend/await_resume).
#include <condition_variable>
#include <coroutine>
#include <exception>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <variant>

namespace sk {

// Awaitable: the job runs on a new thread when awaited; the awaiting coroutine
// resumes on that thread. Awaiting it twice is undefined (it is single-shot).
template <class R>
class AsyncCall {
 public:
  explicit AsyncCall(std::packaged_task<R()> job) : job_(std::move(job)), result_(job_.get_future()) {}

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    // After h.resume() the coroutine (and this awaitable in its frame) may be
    // gone; the thread touches nothing of ours after resuming.
    std::thread([this, h] {
      job_();
      h.resume();
    }).detach();
  }
  R await_resume() { return result_.get(); }

 private:
  std::packaged_task<R()> job_;
  std::future<R> result_;
};

namespace task_detail {

template <class T>
struct Outcome {
  std::variant<std::monostate, T, std::exception_ptr> v;
  void set_value(T x) { v.template emplace<1>(std::move(x)); }
  void set_exception(std::exception_ptr e) { v.template emplace<2>(std::move(e)); }
  T get() {
    if (v.index() == 2) std::rethrow_exception(std::get<2>(v));
    return std::move(std::get<1>(v));
  }
};
template <>
struct Outcome<void> {
  std::exception_ptr e;
  void set_exception(std::exception_ptr x) { e = std::move(x); }
  void get() {
    if (e) std::rethrow_exception(e);
  }
};

template <class T, class Derived>
struct ReturnValue {
  void return_value(T x) { static_cast<Derived*>(this)->outcome.set_value(std::move(x)); }
};
template <class Derived>
struct ReturnValue<void, Derived> {
  void return_void() noexcept {}
};

// A coroutine that starts at once and frees itself at the end.
struct Detached {
  struct promise_type {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <class R>
struct SyncState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Outcome<R> outcome;
  void finish() {
    std::lock_guard lk(mu);  // notify under the lock: the waiter may destroy us right after
    done = true;
    cv.notify_all();
  }
};

template <class R, class A>
Detached drive(A& awaitable, SyncState<R>& st) {
  try {
    if constexpr (std::is_void_v<R>) {
      co_await awaitable;
    } else {
      st.outcome.set_value(co_await awaitable);
    }
  } catch (...) {
    st.outcome.set_exception(std::current_exception());
  }
  st.finish();
}

}  // namespace task_detail

// Lazy task: the body starts when the task is awaited (or sync_wait'ed), and
// the awaiting coroutine continues when the body finishes (symmetric transfer).
template <class T = void>
class [[nodiscard]] Task {
 public:
  struct promise_type : task_detail::ReturnValue<T, promise_type> {
    task_detail::Outcome<T> outcome;
    std::coroutine_handle<> continuation;

    Task get_return_object() noexcept { return Task(std::coroutine_handle<promise_type>::from_promise(*this)); }
    std::suspend_always initial_suspend() noexcept { return {}; }
    struct Final {
      bool await_ready() noexcept { return false; }
      std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
        auto c = h.promise().continuation;
        return c ? c : std::noop_coroutine();
      }
      void await_resume() noexcept {}
    };
    Final final_suspend() noexcept { return {}; }
    void unhandled_exception() noexcept { outcome.set_exception(std::current_exception()); }
  };

  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Task() {
    if (h_) h_.destroy();
  }

  bool await_ready() const noexcept { return !h_ || h_.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    h_.promise().continuation = awaiting;
    return h_;
  }
  T await_resume() { return h_.promise().outcome.get(); }

 private:
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  std::coroutine_handle<promise_type> h_;
};

// Blocks until `awaitable` completes; returns its value or rethrows.
template <class A>
auto sync_wait(A&& awaitable) {
  using R = decltype(std::declval<std::remove_reference_t<A>&>().await_resume());
  static_assert(!std::is_reference_v<R>, "sync_wait: awaitables returning references are not supported");
  task_detail::SyncState<R> st;
  task_detail::drive<R>(awaitable, st);
  std::unique_lock lk(st.mu);
  st.cv.wait(lk, [&] { return st.done; });
  return st.outcome.get();
}

}  // namespace sk
