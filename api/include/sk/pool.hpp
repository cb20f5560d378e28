#pragma once
// sk::Pool: map a callable (or an Skprocess class) over items in worker
// processes.
//
//   sk::Pool pool(4);                                        // 0 = hardware concurrency
//   auto out = pool.map([&](int x) { return x * k; }, items);   // any callable, closures too
//   auto un  = pool.unordered_map(fn, items);                // completion order
//   for (int r : pool.imap(fn, items)) {}                    // ordered, lazy (streams)
//   for (int r : pool.unordered_imap(fn, items)) {}          // completion order, lazy
//   auto s   = pool.star().map([](int a, int b) { return a + b; }, pairs);
//   auto ws  = pool.star().map<Worker>(args);                // Skprocess classes, full lifecycle
//   auto fut = pool.timeout(5s).background().map(fn, items); // std::future<std::vector<R>>
//   auto aw  = pool.star().asynced().unordered_map(fn, prs); // sk::AsyncCall (co_await / sk::sync_wait)
//   pool.on_progress(sk::progress_bar).map(fn, items);       // stderr bar: done, rate, ETA
//
// Two modes (docs/pool.md has the costs):
//  - default: each call forks its workers, so the workers see this process's
//    memory as it is at the moment of the call: callables and items are never
//    serialized, and a lambda capturing by reference sees the current contents
//    on every call. Results come back through shared memory (trivially
//    copyable ones at their index, others with sk::ser).
//  - sk::Pool(4, sk::persistent): the workers are forked once, at
//    construction, and see the parent's memory as it was then. Each call ships
//    the callable byte for byte (it must be trivially copyable: a function
//    pointer, a lambda capturing values, std::ref(obj)) and the items
//    (trivially copyable or sk::ser Serializable) through shared memory.
//    Pointers and references inside the callable resolve in the worker's
//    copy of memory as of pool creation (see docs/pool.md).
//
// This header is the typed facade only: the runtime underneath (shared
// layout, scheduler, workers, collector) is sk::ipc::pool, in ipc/.
//
// Errors: sk::ItemError (original type name, what(), item index),
// sk::WorkerCrashed (an item's worker died on every attempt; 1 retry by
// default, pool.retries(n)), sk::TimeoutError (pool.timeout(d), per item).
// map throws at the first failure it learns of and cancels the rest; the pool
// stays usable.
#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <sk/ipc/failure.hpp>
#include <sk/ipc/internal/pool/job.hpp>
#include <sk/ipc/internal/pool/run.hpp>
#include <sk/ipc/pool_progress.hpp>
#include <sk/ipc/serialize.hpp>
#include <sk/pool_errors.hpp>
#include <sk/pool_process.hpp>
#include <sk/pool_progress.hpp>
#include <sk/task.hpp>

namespace sk {

struct persistent_t {
  explicit constexpr persistent_t() = default;
};
// Tag for sk::Pool(workers, sk::persistent).
inline constexpr persistent_t persistent{};

namespace pool_detail {

// Whether f takes the elements of the tuple-like item as its arguments.
template <class F, class T>
constexpr bool applicable() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return std::is_invocable_v<F, decltype(std::get<I>(std::declval<T>()))...>;
  }(std::make_index_sequence<std::tuple_size_v<std::remove_cvref_t<T>>>{});
}

// Calls f with the item, unpacked into arguments in star mode when tuple-like.
// A callable that cannot take the item fails here, with one line that says
// what to change (and no second error from inside std::invoke / std::apply).
template <bool Star, class F, class T>
decltype(auto) call(F& f, T&& item) {
  if constexpr (Star && TupleLike<T>) {
    static_assert(applicable<F&, T>(),
                  "sk::Pool star(): the callable cannot be called with the item's elements as its arguments; give "
                  "it one parameter per element, in order (or drop .star() to pass each item whole)");
    if constexpr (applicable<F&, T>()) return std::apply(f, std::forward<T>(item));
  } else {
    static_assert(std::is_invocable_v<F&, T>,
                  "sk::Pool::map: the callable cannot be called with one item as its only argument; give it one "
                  "parameter that takes the item type (or use pool.star().map to unpack tuple-like items into "
                  "several parameters)");
    if constexpr (std::is_invocable_v<F&, T>) return std::invoke(f, std::forward<T>(item));
  }
}

template <bool Star, class F, class T>
using call_result_t = decltype(call<Star>(std::declval<F&>(), std::declval<T>()));

// void results travel as std::monostate.
template <class R>
using stored_t = std::conditional_t<std::is_void_v<R>, std::monostate, std::remove_cvref_t<R>>;

template <class R>
inline constexpr bool kTrivial = std::is_trivially_copyable_v<R>;

template <class R>
constexpr std::uint32_t result_size() {
  if constexpr (kTrivial<R>) return static_cast<std::uint32_t>(sizeof(R));
  return 0;
}

template <class R>
void write_result(ipc::pool::ResultWriter& w, std::uint32_t i, const R& r) {
  if constexpr (kTrivial<R>) {
    w.ok_trivial(i, &r, sizeof(R));
  } else {
    static_assert(ser::Serializable<R>,
                  "sk::Pool: a result that is not trivially copyable must be Serializable with sk::ser "
                  "(std containers/strings, or add SK_FIELDS to your struct)");
    thread_local std::vector<std::byte> buf;
    buf.clear();
    ser::encode_payload(r, buf);
    if (!w.ok_bytes(i, buf))
      w.threw(i, "sk::PoolError",
              "the result (" + std::to_string(buf.size()) +
                  " bytes serialized) does not fit the worker's result buffer; return less data per item");
  }
}

template <class R>
R read_trivial(const std::byte* p) {
  std::array<std::byte, sizeof(R)> raw;
  std::memcpy(raw.data(), p, sizeof(R));
  return std::bit_cast<R>(raw);
}

template <class R>
R read_result(const ipc::pool::Run& run, std::uint32_t i) {
  if constexpr (kTrivial<R>) {
    return read_trivial<R>(run.result(i));
  } else {
    return ser::decode_payload<R>(run.result_bytes(i));
  }
}

// Runs item i: calls f and publishes the result, or records the exception.
template <bool Star, class R, class F, class T>
void run_one(F& f, T&& item, std::uint32_t i, ipc::pool::ResultWriter& w) noexcept {
  if constexpr (IsProcessRunner<std::remove_cvref_t<F>>::value) {  // pool.map<W>: a whole lifecycle
    f.run(std::forward<T>(item), i, w, [&](const auto& r) { write_result<stored_t<R>>(w, i, r); });
  } else {
    try {
      if constexpr (std::is_void_v<R>) {
        call<Star>(f, std::forward<T>(item));
        write_result(w, i, std::monostate{});
      } else {
        write_result<stored_t<R>>(w, i, call<Star>(f, std::forward<T>(item)));
      }
    } catch (...) {
      record_exception(w, i);
    }
  }
}

// Items: used in place when random access and sized, else copied to a vector.
template <class Items>
inline constexpr bool kIndexable =
    std::ranges::random_access_range<Items> && std::ranges::sized_range<Items>;

template <class Items>
using seq_t = std::conditional_t<kIndexable<Items>, Items, std::vector<std::ranges::range_value_t<Items>>>;

// Owns the callable and the items for calls that outlive the caller's
// expression (imap ranges, background, asynced).
template <class F, class Seq>
struct Holder {
  F f;
  Seq items;
};

enum Flags : unsigned { kStar = 1, kBackground = 2, kAsync = 4 };
enum class Kind { map, unordered_map, imap, unordered_imap };

struct PoolRef {
  unsigned workers = 1;
  std::shared_ptr<ipc::pool::PersistentCore> core;  // null: fork per call
  std::shared_ptr<ipc::pool::CostBook> costs;       // item cost per callable type, for chunk sizes
};

// Persistent mode: the entry point of a job kind (a callable type F over
// items T), found in the workers through the job table (ipc/pool/job.hpp).
template <class F, class T, bool Star, class R>
struct PersistentJob {
  static void run(ipc::pool::RunView v, std::uint32_t begin, std::uint32_t end, ipc::pool::ResultWriter& w) {
    const ipc::pool::JobHeader jh = ipc::pool::job_header(v);
    F& f = ipc::pool::job_callable<F>(v, jh);
    for (std::uint32_t i = begin; i < end; ++i) {
      if (w.stopped()) return;
      w.start_item(i);
      if constexpr (std::is_trivially_copyable_v<T>) {
        run_one<Star, R>(f, ipc::pool::job_item<T>(v, jh, i), i, w);
      } else {
        try {
          T item = ipc::pool::job_item<T>(v, jh, i);
          run_one<Star, R>(f, item, i, w);
        } catch (...) {
          record_exception(w, i);
        }
      }
    }
  }
  // Registered during static initialisation, before any pool forks.
  static inline const std::uint32_t kind = ipc::pool::register_job_fn(&run);
};

// One key per (callable, item) type for the cost book.
template <class F, class T, bool Star>
inline const char cost_key_tag = 0;

template <class R>
using result_vector = std::vector<stored_t<R>>;

// ---------------------------------------------------------------------------
// Streaming results (imap / unordered_imap).

template <class R>
class ResultStream {
 public:
  using value_type = stored_t<R>;

  ResultStream(std::shared_ptr<void> keep, std::unique_ptr<ipc::pool::Run> run, bool ordered)
      : keep_(std::move(keep)), run_(std::move(run)), ordered_(ordered) {
    if (run_ && ordered_) have_.assign(run_->size(), 0);
  }

  // Next result, or nullopt at the end. Throws the item's error when a
  // failed item comes up (in input order for imap, completion order else).
  std::optional<value_type> next() {
    if (!run_) return std::nullopt;
    for (;;) {
      if (ordered_) {
        if (next_ == run_->size()) return finish();
        if (have_[next_] == kOk) return take_ok(static_cast<std::uint32_t>(next_++));
        if (have_[next_] == kFailed) return take_failed(failed_.at(static_cast<std::uint32_t>(next_)));
      } else if (!pending_.empty()) {
        ipc::pool::Outcome& o = pending_.front();
        if (o.kind != ipc::pool::Outcome::Kind::ok) {
          const ipc::pool::Outcome f = o;
          pending_.pop_front();
          return take_failed(f);
        }
        const std::uint32_t i = o.begin++;
        if (o.begin == o.end) pending_.pop_front();
        return take_ok(i);
      } else if (exhausted_) {
        return finish();
      }
      if (!run_->next(batch_)) {
        exhausted_ = true;
        if (ordered_ && next_ < run_->size())  // cannot happen: every item has an outcome
          throw PoolError("sk::Pool: internal error: an item ended without an outcome");
        continue;
      }
      for (const auto& o : batch_) {
        if (!ordered_) {
          pending_.push_back(o);
        } else if (o.kind == ipc::pool::Outcome::Kind::ok) {
          std::memset(&have_[o.begin], kOk, o.end - o.begin);
        } else {
          have_[o.begin] = kFailed;
          failed_.emplace(o.begin, o);
        }
      }
    }
  }

 private:
  static constexpr std::uint8_t kOk = 1, kFailed = 2;

  std::optional<value_type> finish() {
    run_.reset();
    keep_.reset();
    return std::nullopt;
  }
  std::optional<value_type> take_ok(std::uint32_t i) { return read_result<value_type>(*run_, i); }
  std::optional<value_type> take_failed(const ipc::pool::Outcome& o) {
    try {
      run_->raise(o);
    } catch (...) {
      run_.reset();  // cancel what is left
      keep_.reset();
      throw;
    }
  }

  std::shared_ptr<void> keep_;  // callable + items (destroyed after the run)
  std::unique_ptr<ipc::pool::Run> run_;
  bool ordered_;
  bool exhausted_ = false;
  std::size_t next_ = 0;
  std::vector<std::uint8_t> have_;
  std::map<std::uint32_t, ipc::pool::Outcome> failed_;
  std::deque<ipc::pool::Outcome> pending_;
  std::vector<ipc::pool::Outcome> batch_;
};

}  // namespace pool_detail

// The lazy range returned by imap / unordered_imap (of sk::Pool and of
// sk::mpi::Pool): an input range whose results are usable while later items
// still run. Iterate it once. Destroying it early cancels the remaining items.
// Stream is the call's result stream: next() gives the next result, or
// nullopt once the call is over (it throws the call's error at its position).
template <class Stream>
class ImapRange {
 public:
  using value_type = typename decltype(std::declval<Stream&>().next())::value_type;

  class iterator {
   public:
    using value_type = ImapRange::value_type;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::input_iterator_tag;
    iterator() = default;
    explicit iterator(ImapRange* r) : r_(r) { ++*this; }
    value_type& operator*() const { return *r_->cur_; }
    value_type* operator->() const { return &*r_->cur_; }
    iterator& operator++() {
      r_->cur_ = r_->stream_.next();
      if (!r_->cur_) r_ = nullptr;
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept { return it.r_ == nullptr; }

   private:
    ImapRange* r_ = nullptr;
  };

  explicit ImapRange(Stream s) : stream_(std::move(s)) {}
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() const noexcept { return {}; }
  // Drains the rest into a vector.
  std::vector<value_type> collect() {
    std::vector<value_type> out;
    for (auto& v : *this) out.push_back(std::move(v));
    return out;
  }

 private:
  Stream stream_;
  std::optional<value_type> cur_;
};

namespace pool_detail {

// Whether a call can run in persistent mode (see the message in start_run).
template <class FD, class T, class S>
inline constexpr bool kPersistentOk =
    std::is_trivially_copyable_v<FD> &&
    (std::is_trivially_copyable_v<T> || (ser::Serializable<T> && std::is_copy_assignable_v<T>)) &&
    ((kTrivial<S> && sizeof(S) <= 256) || (!kTrivial<S> && ser::Serializable<S>));

// Why kPersistentOk<FD, T, S> is false: each requirement that failed, with
// the type it failed for and what to do; the default mode needs none of them.
template <class FD, class T, class S>
std::string persistent_refusal() {
  std::string m = "sk::Pool(persistent): this call cannot reach workers forked at pool creation:";
  if constexpr (!std::is_trivially_copyable_v<FD>)
    m += " the callable (" + std::string(ser::type_name<FD>()) +
         ") is not trivially copyable, and it is copied byte for byte: capture only trivially copyable values "
         "(not std::string, std::vector, std::unique_ptr, std::function), pass std::ref(obj) for an object that "
         "existed before the pool, or use a function pointer;";
  if constexpr (!(std::is_trivially_copyable_v<T> || (ser::Serializable<T> && std::is_copy_assignable_v<T>)))
    m += " the item type (" + std::string(ser::type_name<T>()) +
         ") is neither trivially copyable nor Serializable with sk::ser and copy-assignable;";
  if constexpr (kTrivial<S> && sizeof(S) > 256)
    m += " the result type (" + std::string(ser::type_name<S>()) + ") is trivially copyable but " +
         std::to_string(sizeof(S)) + " bytes, over the 256 a result slot holds;";
  if constexpr (!kTrivial<S> && !ser::Serializable<S>)
    m += " the result type (" + std::string(ser::type_name<S>()) + ") is not Serializable with sk::ser;";
  m += " use the default mode (sk::Pool(n)) for this call: it needs none of this.";
  return m;
}

// Starts the run for f over seq (both must outlive the Run).
template <bool Star, class F, class Seq>
std::unique_ptr<ipc::pool::Run> start_run(const PoolRef& pool, ipc::pool::CallOptions opts, F& f, Seq& seq) {
  using Item = std::ranges::range_reference_t<Seq&>;
  using R = call_result_t<Star, F, Item>;
  using S = stored_t<R>;
  using T = std::remove_cvref_t<Item>;
  using FD = std::decay_t<F>;
  const std::size_t n = std::ranges::size(seq);
  const auto key = reinterpret_cast<std::uintptr_t>(&cost_key_tag<FD, T, Star>);
  opts.ns_per_item = pool.costs->get(key);
  if constexpr (IsProcessRunner<FD>::value) {
    opts.lifecycle = true;
    opts.describe_failure = &describe_failure;
  }
  if (!pool.core) {
    ipc::pool::ItemBody body = [&f, &seq](std::uint32_t b, std::uint32_t e, ipc::pool::ResultWriter& w) {
      auto it = std::ranges::begin(seq);
      for (std::uint32_t i = b; i < e; ++i) {
        if (w.stopped()) return;
        w.start_item(i);
        run_one<Star, R>(f, it[i], i, w);
      }
    };
    return std::make_unique<ipc::pool::Run>(n, result_size<S>(), !kTrivial<S>, pool.workers, std::move(opts),
                                            std::move(body));
  }
  constexpr std::uint32_t rs = sizeof(S) <= 256 ? result_size<S>() : 0;
  if constexpr (!kPersistentOk<FD, T, S>) {
    throw PoolUsageError(persistent_refusal<FD, T, S>());
  } else {
    const std::uint32_t kind = PersistentJob<FD, T, Star, R>::kind;
    auto write_job = [&](std::byte* job, std::size_t cap) {
      const FD fd = f;
      ipc::pool::write_job<FD, T>(job, cap, fd, seq, n);
    };
    return std::make_unique<ipc::pool::Run>(pool.core, n, rs, rs == 0, std::move(opts), kind, write_job);
  }
}

// Records what the finished run measured, for the next call's chunk size.
template <bool Star, class F, class Seq>
void learn_cost(const PoolRef& pool, const ipc::pool::Run& run) {
  using T = std::remove_cvref_t<std::ranges::range_reference_t<Seq&>>;
  if (run.ns_per_item() > 0)
    pool.costs->put(reinterpret_cast<std::uintptr_t>(&cost_key_tag<std::decay_t<F>, T, Star>), run.ns_per_item());
}

// The blocking body of every call flavour.
template <bool Star, Kind K, class F, class Seq>
auto run_call(const PoolRef& pool, const ipc::pool::CallOptions& opts, F& f, Seq& seq, std::shared_ptr<void> keep) {
  using Item = std::ranges::range_reference_t<Seq&>;
  using R = call_result_t<Star, F, Item>;
  using S = stored_t<R>;
  if constexpr (K == Kind::imap || K == Kind::unordered_imap) {
    auto o = opts;
    o.stream = true;
    std::unique_ptr<ipc::pool::Run> run;
    if (std::ranges::size(seq) != 0) run = start_run<Star>(pool, o, f, seq);
    return ImapRange<ResultStream<R>>(ResultStream<R>(std::move(keep), std::move(run), K == Kind::imap));
  } else {
    std::vector<S> out;
    const std::size_t n = std::ranges::size(seq);
    if (n == 0) return out;
    auto run = start_run<Star>(pool, opts, f, seq);
    std::vector<ipc::pool::Outcome> batch;
    out.reserve(n);
    while (run->next(batch)) {
      for (const auto& o : batch) {
        if (o.kind != ipc::pool::Outcome::Kind::ok) run->raise(o);
        if constexpr (K == Kind::unordered_map) {
          for (std::uint32_t i = o.begin; i < o.end; ++i) out.push_back(read_result<S>(*run, i));
        }
      }
    }
    learn_cost<Star, F, Seq>(pool, *run);
    if constexpr (K == Kind::map) {
      if constexpr (kTrivial<S> && std::is_default_constructible_v<S>) {
        out.resize(n);
        std::memcpy(static_cast<void*>(out.data()), run->result(0), n * sizeof(S));
      } else {
        for (std::uint32_t i = 0; i < n; ++i) out.push_back(read_result<S>(*run, i));
      }
    }
    return out;
  }
}

// A call in background/async mode owns its callable and items.
template <class F, class Items>
auto make_holder(F&& f, Items&& items) {
  using FD = std::decay_t<F>;
  using ID = std::remove_cvref_t<Items>;
  if constexpr (kIndexable<ID>) {
    return std::make_shared<Holder<FD, ID>>(Holder<FD, ID>{std::forward<F>(f), std::forward<Items>(items)});
  } else {
    using V = std::vector<std::ranges::range_value_t<ID>>;
    V v;
    for (auto&& x : items) v.push_back(std::forward<decltype(x)>(x));
    return std::make_shared<Holder<FD, V>>(Holder<FD, V>{std::forward<F>(f), std::move(v)});
  }
}

}  // namespace pool_detail

// A configured call: what the modifiers return. Copyable; cheap.
template <unsigned Flags = 0>
class PoolCall {
  static constexpr bool kStar = (Flags & pool_detail::kStar) != 0;
  static constexpr bool kBackground = (Flags & pool_detail::kBackground) != 0;
  static constexpr bool kAsync = (Flags & pool_detail::kAsync) != 0;
  using Kind = pool_detail::Kind;

 public:
  PoolCall(pool_detail::PoolRef pool, ipc::pool::CallOptions opts) : pool_(std::move(pool)), opts_(std::move(opts)) {}

  // ---- modifiers (any order) ----
  PoolCall<Flags | pool_detail::kStar> star() const { return {pool_, opts_}; }
  PoolCall<Flags | pool_detail::kBackground> background() const {
    static_assert(!kAsync, "sk::Pool: background() and asynced() do the same thing in two ways; pick one");
    return {pool_, opts_};
  }
  PoolCall<Flags | pool_detail::kAsync> asynced() const {
    static_assert(!kBackground, "sk::Pool: background() and asynced() do the same thing in two ways; pick one");
    return {pool_, opts_};
  }
  // Per item: an item running longer is killed with its worker (which is
  // replaced) and the call throws sk::TimeoutError naming the item.
  template <class Rep, class Period>
  PoolCall timeout(std::chrono::duration<Rep, Period> d) const {
    if (d <= d.zero()) throw PoolUsageError("sk::Pool::timeout: the timeout must be positive");
    auto c = *this;
    c.opts_.timeout = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    return c;
  }
  // Called in the calling thread as items finish (at most every 50 ms, and
  // once at the end). sk::progress_bar draws a bar on stderr.
  PoolCall on_progress(ipc::pool::ProgressFn fn) const {
    auto c = *this;
    c.opts_.progress = std::move(fn);
    return c;
  }
  // How many times an item whose worker died is run again (default 1).
  PoolCall retries(unsigned n) const {
    if (n > 200) throw PoolUsageError("sk::Pool::retries: at most 200 retries per item");
    auto c = *this;
    c.opts_.retries = n;
    return c;
  }

  // ---- calls ----
  template <class F, class Items>
  auto map(F&& f, Items&& items) const {
    return dispatch<Kind::map>(std::forward<F>(f), std::forward<Items>(items));
  }
  template <class F, class Items>
  auto unordered_map(F&& f, Items&& items) const {
    return dispatch<Kind::unordered_map>(std::forward<F>(f), std::forward<Items>(items));
  }
  template <class F, class Items>
  auto imap(F&& f, Items&& items) const {
    return dispatch<Kind::imap>(std::forward<F>(f), std::forward<Items>(items));
  }
  template <class F, class Items>
  auto unordered_imap(F&& f, Items&& items) const {
    return dispatch<Kind::unordered_imap>(std::forward<F>(f), std::forward<Items>(items));
  }

  // Skprocess classes: each item constructs W (unpacked in star mode), runs
  // its whole lifecycle in a worker and yields its result().
  template <class W, class Items>
  auto map(Items&& items) const {
    return dispatch<Kind::map>(pool_detail::ProcessRunner<W, kStar>{}, std::forward<Items>(items));
  }
  template <class W, class Items>
  auto unordered_map(Items&& items) const {
    return dispatch<Kind::unordered_map>(pool_detail::ProcessRunner<W, kStar>{}, std::forward<Items>(items));
  }
  template <class W, class Items>
  auto imap(Items&& items) const {
    return dispatch<Kind::imap>(pool_detail::ProcessRunner<W, kStar>{}, std::forward<Items>(items));
  }
  template <class W, class Items>
  auto unordered_imap(Items&& items) const {
    return dispatch<Kind::unordered_imap>(pool_detail::ProcessRunner<W, kStar>{}, std::forward<Items>(items));
  }

 private:
  template <Kind K, class F, class Items>
  auto dispatch(F&& f, Items&& items) const {
    // ProcessRunner already unpacks the item itself.
    constexpr bool star = kStar && !pool_detail::IsProcessRunner<std::remove_cvref_t<F>>::value;
    if constexpr (!kBackground && !kAsync) {
      return blocking<K, star>(std::forward<F>(f), std::forward<Items>(items));
    } else {
      auto holder = pool_detail::make_holder(std::forward<F>(f), std::forward<Items>(items));
      auto job = [pool = pool_, opts = opts_, holder]() mutable {
        auto r = pool_detail::run_call<star, K>(pool, opts, holder->f, holder->items, holder);
        if constexpr (K == Kind::imap || K == Kind::unordered_imap) {
          return r.collect();  // a future / awaitable of a lazy range resolves to the whole list
        } else {
          return r;
        }
      };
      using Result = decltype(job());
      if constexpr (kBackground) {
        return std::async(std::launch::async, std::move(job));
      } else {
        return AsyncCall<Result>(std::packaged_task<Result()>(std::move(job)));
      }
    }
  }

  template <Kind K, bool Star, class F, class Items>
  auto blocking(F&& f, Items&& items) const {
    using ID = std::remove_cvref_t<Items>;
    constexpr bool lazy = K == Kind::imap || K == Kind::unordered_imap;
    if constexpr (lazy) {
      // The range outlives this expression: it owns the callable and items
      // given as temporaries (lvalues are used in place and must outlive it).
      if constexpr (std::is_lvalue_reference_v<Items> && pool_detail::kIndexable<ID>) {
        auto keep = std::make_shared<std::decay_t<F>>(std::forward<F>(f));
        return pool_detail::run_call<Star, K>(pool_, opts_, *keep, items, keep);
      } else {
        auto holder = pool_detail::make_holder(std::forward<F>(f), std::forward<Items>(items));
        return pool_detail::run_call<Star, K>(pool_, opts_, holder->f, holder->items, holder);
      }
    } else if constexpr (pool_detail::kIndexable<ID>) {
      return pool_detail::run_call<Star, K>(pool_, opts_, f, items, nullptr);
    } else {
      std::vector<std::ranges::range_value_t<ID>> v;
      for (auto&& x : items) v.push_back(std::forward<decltype(x)>(x));
      return pool_detail::run_call<Star, K>(pool_, opts_, f, v, nullptr);
    }
  }

  pool_detail::PoolRef pool_;
  ipc::pool::CallOptions opts_;
};

class Pool {
 public:
  // workers = 0: one per hardware thread. Default mode: workers are forked at
  // each call and see the caller's memory as of that call.
  explicit Pool(unsigned workers = 0)
      : ref_{ipc::pool::resolve_workers(workers), nullptr, std::make_shared<ipc::pool::CostBook>()} {}
  // Persistent mode: workers forked now, reused by every call (see top).
  // max_items: the largest call this pool accepts (address space is reserved
  // for it, memory is used only as needed).
  Pool(unsigned workers, persistent_t, std::size_t max_items = std::size_t{1} << 22)
      : ref_{ipc::pool::resolve_workers(workers),
             std::make_shared<ipc::pool::PersistentCore>(ipc::pool::resolve_workers(workers), max_items),
             std::make_shared<ipc::pool::CostBook>()} {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  Pool(Pool&&) noexcept = default;
  Pool& operator=(Pool&&) noexcept = default;
  // Persistent workers are shut down and reaped here (a call still running
  // in the background keeps them until it ends).
  ~Pool() = default;

  unsigned workers() const noexcept { return ref_.workers; }
  bool persistent() const noexcept { return ref_.core != nullptr; }

  PoolCall<> call() const { return {ref_, {}}; }
  auto star() const { return call().star(); }
  auto background() const { return call().background(); }
  auto asynced() const { return call().asynced(); }
  template <class Rep, class Period>
  auto timeout(std::chrono::duration<Rep, Period> d) const {
    return call().timeout(d);
  }
  auto on_progress(ipc::pool::ProgressFn fn) const { return call().on_progress(std::move(fn)); }
  auto retries(unsigned n) const { return call().retries(n); }

  template <class F, class Items>
  auto map(F&& f, Items&& items) const {
    return call().map(std::forward<F>(f), std::forward<Items>(items));
  }
  template <class F, class Items>
  auto unordered_map(F&& f, Items&& items) const {
    return call().unordered_map(std::forward<F>(f), std::forward<Items>(items));
  }
  template <class F, class Items>
  auto imap(F&& f, Items&& items) const {
    return call().imap(std::forward<F>(f), std::forward<Items>(items));
  }
  template <class F, class Items>
  auto unordered_imap(F&& f, Items&& items) const {
    return call().unordered_imap(std::forward<F>(f), std::forward<Items>(items));
  }
  template <class W, class Items>
  auto map(Items&& items) const {
    return call().template map<W>(std::forward<Items>(items));
  }
  template <class W, class Items>
  auto unordered_map(Items&& items) const {
    return call().template unordered_map<W>(std::forward<Items>(items));
  }
  template <class W, class Items>
  auto imap(Items&& items) const {
    return call().template imap<W>(std::forward<Items>(items));
  }
  template <class W, class Items>
  auto unordered_imap(Items&& items) const {
    return call().template unordered_imap<W>(std::forward<Items>(items));
  }

 private:
  pool_detail::PoolRef ref_;
};

}  // namespace sk
