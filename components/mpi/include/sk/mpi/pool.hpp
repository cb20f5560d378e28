#pragma once
// sk::mpi::Pool: the local sk::Pool's map family over the nodes of an MPI job
// (docs/mpi.md).
//
//   sk::mpi::Session session(argc, argv);
//   sk::mpi::Pool pool(session);                                  // every node's cores
//   auto out = pool.map([k](int x) { return x * k; }, items);       // captures travel as bytes
//   auto un  = pool.unordered_map(fn, items);
//   for (auto r : pool.imap(fn, items)) {}                        // and unordered_imap
//   auto s   = pool.star().map([](int a, int b) { return a + b; }, pairs);
//   auto ws  = pool.map<Worker>(args);                            // Skprocess classes
//   auto fut = pool.timeout(5s).background().map(fn, items);      // std::future
//   auto aw  = pool.asynced().map(fn, items);                     // sk::AsyncCall
//   pool.on_progress(sk::progress_bar).map(fn, items);
//   auto b   = pool.map(sk::mpi::bind([](const std::string& p, int x) { return p + std::to_string(x); },
//                                     prefix), items);             // state that is not trivially copyable
//
// Every rank runs the same program, so a callable crosses by the id of its
// type (registered before main) plus its captures' bytes; a callable whose
// captures cannot be serialized does not compile. Items and results travel
// through sk::ser. Results keep their order and types; an item's exception
// arrives as sk::ItemError with its type, message, index, rank and host.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <sk/mpi/call.hpp>
#include <sk/mpi/job.hpp>
#include <sk/mpi/session.hpp>
#include <sk/pool.hpp>
#include <sk/task.hpp>

namespace sk::mpi {

// A captureless function plus values to call it with: the values travel
// through sk::ser, so they may be anything Serializable (std::string,
// containers, SK_FIELDS structs), unlike a lambda's captures, which travel as
// bytes and must be trivially copyable. bind(f, a, b)(x) calls f(a, b, x).
template <class F, class... V>
struct Bound {
  std::tuple<V...> values;

  template <class... A>
  decltype(auto) operator()(A&&... args) const {
    return std::apply([&](const V&... v) -> decltype(auto) { return F{}(v..., std::forward<A>(args)...); }, values);
  }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(values);
  }
};

template <class F, class... V>
Bound<F, std::decay_t<V>...> bind(F, V&&... values) {
  static_assert(std::is_empty_v<F> && std::is_default_constructible_v<F>,
                "sk::mpi::bind: the function must be a captureless lambda or an empty function object; "
                "pass its state as the bound values");
  static_assert((ser::Serializable<std::decay_t<V>> && ...),
                "sk::mpi::bind: every bound value must be Serializable with sk::ser (std containers, strings, "
                "SK_FIELDS structs); pointers and references mean nothing on another rank");
  return {std::tuple<std::decay_t<V>...>(std::forward<V>(values)...)};
}

namespace pool_detail {

using detail::CallKind;

struct Options {
  std::int64_t timeout_ns = 0;
  std::uint32_t retries = 1;
  std::function<void(const PoolProgress&)> progress;
};

// The modifier flags, the in-place test for items and the owner of a
// background call's callable and items are sk::Pool's (sk/pool.hpp).
using sk::pool_detail::Flags;
using sk::pool_detail::Holder;
using sk::pool_detail::kAsync;
using sk::pool_detail::kBackground;
using sk::pool_detail::kIndexable;
using sk::pool_detail::kStar;
using sk::pool_detail::make_holder;

[[noreturn]] void throw_item_encode(std::size_t index, const std::exception& e);
[[noreturn]] void throw_too_many(std::size_t n);

// Reports progress from the caller's thread: at most every kPoolProgressEvery, and once at the end.
class Progress {
 public:
  Progress(const std::function<void(const PoolProgress&)>* fn, std::size_t total)
      : fn_(fn && *fn ? fn : nullptr), total_(total), start_(std::chrono::steady_clock::now()) {}
  void tick(std::size_t done, bool final_report) {
    if (!fn_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final_report && now - last_ < kPoolProgressEvery) return;
    last_ = now;
    (*fn_)(PoolProgress::of(done, total_, std::chrono::duration<double>(now - start_).count()));
  }

 private:
  const std::function<void(const PoolProgress&)>* fn_;
  std::size_t total_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_{};
};

// Checks, at compile time, what crosses ranks, and builds the call.
template <bool Star, CallKind K, class F, class Seq>
detail::CallSpec make_spec(const Options& opts, const F& f, Seq& seq) {
  using T = std::ranges::range_value_t<Seq>;
  static_assert(!std::is_pointer_v<F> && !std::is_member_pointer_v<F>,
                "sk::mpi::Pool: a function pointer is an address in rank 0's process and means nothing on "
                "another rank; pass a captureless lambda that calls the function: [](int x) { return f(x); }");
  static_assert(!detail::is_reference_wrapper<F>::value,
                "sk::mpi::Pool: std::ref(obj) is an address in rank 0's memory and means nothing on another rank; "
                "capture the object's value, or pass it with sk::mpi::bind(fn, obj)");
  static_assert(detail::kCallableOk<F>,
                "sk::mpi::Pool: the callable's captures cannot be serialized: a lambda's captures travel as its "
                "bytes, so they must be trivially copyable (numbers, trivially copyable structs; not std::string, "
                "std::vector, std::function, std::unique_ptr). Pass other state with sk::mpi::bind(fn, values...) "
                "or write a function object with SK_FIELDS(...) and a default constructor");
  static_assert(detail::kItemOk<T>,
                "sk::mpi::Pool: the items must be Serializable with sk::ser (numbers, trivially copyable structs, "
                "std containers and strings, SK_FIELDS structs) and default-constructible or trivially copyable");
  using S = detail::stored_t<detail::job_result_t<Star, F, T>>;
  static_assert(detail::kResultOk<S>,
                "sk::mpi::Pool: the result type must be Serializable with sk::ser and default-constructible");

  detail::CallSpec spec;
  spec.job = detail::NodeJob<F, T, Star, K>::id;
  spec.kind = K;
  spec.timeout_ns = opts.timeout_ns;
  spec.retries = opts.retries;
  if constexpr (!detail::kIsProcess<F>) detail::encode_callable(f, spec.callable);
  const std::size_t n = std::ranges::size(seq);
  if (n >= (std::size_t{1} << 40)) throw_too_many(n);
  spec.n = n;
  if constexpr (std::is_trivially_copyable_v<T>) {
    spec.stride = static_cast<std::uint32_t>(sizeof(T));
    spec.items.resize(n * sizeof(T));
    std::size_t i = 0;
    for (auto&& it : seq) {
      const T tmp = it;
      std::memcpy(spec.items.data() + i++ * sizeof(T), static_cast<const void*>(&tmp), sizeof(T));
    }
  } else {
    spec.offsets.reserve(n + 1);
    std::size_t i = 0;
    for (auto&& it : seq) {
      spec.offsets.push_back(spec.items.size());
      try {
        ser::encode_payload(static_cast<const T&>(it), spec.items);
      } catch (const std::exception& e) {
        throw_item_encode(i, e);
      }
      ++i;
    }
    spec.offsets.push_back(spec.items.size());
  }
  return spec;
}

template <class S>
std::vector<S> decode_results(const detail::ChunkResult& r) {
  if constexpr (std::is_empty_v<S>) {
    return std::vector<S>(r.count);  // see NodeJob::run
  } else {
    if (r.count == 0) return {};
    return ser::decode_payload<std::vector<S>>(r.results);
  }
}

// Cancels a call that is left before its end (an exception, an imap range dropped).
struct CancelGuard {
  std::shared_ptr<detail::Call> call;
  ~CancelGuard() {
    if (call) detail::call_cancel(*call);
  }
};

// Lazy results of imap / unordered_imap.
template <class S>
class Stream {
 public:
  Stream(std::shared_ptr<detail::Call> call, std::shared_ptr<void> keep, bool ordered, std::size_t total,
         std::function<void(const PoolProgress&)> progress)
      : guard_{std::move(call)},
        keep_(std::move(keep)),
        ordered_(ordered),
        total_(total),
        progress_fn_(std::move(progress)),
        progress_(&progress_fn_, total) {}
  Stream(Stream&& o) noexcept
      : guard_{std::move(o.guard_.call)},
        keep_(std::move(o.keep_)),
        ordered_(o.ordered_),
        total_(o.total_),
        progress_fn_(std::move(o.progress_fn_)),
        progress_(&progress_fn_, o.total_),
        pos_(o.pos_),
        ended_(o.ended_),
        cur_(std::move(o.cur_)),
        cur_i_(o.cur_i_),
        error_(std::move(o.error_)),
        ordered_pending_(std::move(o.ordered_pending_)),
        unordered_pending_(std::move(o.unordered_pending_)) {}
  Stream& operator=(Stream&&) = delete;

  std::optional<S> next() {
    for (;;) {
      if (cur_i_ < cur_.size()) return std::move(cur_[cur_i_++]);
      if (error_) {
        auto e = std::exchange(error_, nullptr);
        finish();
        std::rethrow_exception(e);
      }
      if (!guard_.call) return std::nullopt;
      if (take()) continue;
      if (ended_) {
        progress_.tick(delivered_, true);
        finish();
        return std::nullopt;
      }
      detail::ChunkResult r;
      switch (detail::call_next(*guard_.call, r, std::chrono::milliseconds(50))) {
        case detail::Next::result:
          delivered_ += r.count;
          if (ordered_) {
            const std::uint64_t b = r.begin;
            ordered_pending_.emplace(b, std::move(r));
          } else {
            unordered_pending_.push_back(std::move(r));
          }
          break;
        case detail::Next::idle:
          break;
        case detail::Next::end:
          ended_ = true;
          break;
      }
      progress_.tick(delivered_, false);
    }
  }

 private:
  // Moves the next chunk in order (or in arrival order) into cur_.
  bool take() {
    detail::ChunkResult r;
    if (ordered_) {
      auto it = ordered_pending_.find(pos_);
      if (it == ordered_pending_.end()) return false;
      r = std::move(it->second);
      ordered_pending_.erase(it);
      pos_ += r.count;
    } else {
      if (unordered_pending_.empty()) return false;
      r = std::move(unordered_pending_.front());
      unordered_pending_.pop_front();
    }
    {
      detail::NotDuringFork quiet;
      cur_ = decode_results<S>(r);
    }
    cur_i_ = 0;
    error_ = r.error;
    return true;
  }
  void finish() {
    guard_.call.reset();  // ended: nothing to cancel (call_cancel on an ended call is a no-op anyway)
    keep_.reset();
  }

  CancelGuard guard_;
  std::shared_ptr<void> keep_;
  bool ordered_;
  std::size_t total_;
  std::function<void(const PoolProgress&)> progress_fn_;
  Progress progress_;
  std::uint64_t pos_ = 0;
  std::uint64_t delivered_ = 0;
  bool ended_ = false;
  std::vector<S> cur_;
  std::size_t cur_i_ = 0;
  std::exception_ptr error_;
  std::map<std::uint64_t, detail::ChunkResult> ordered_pending_;
  std::deque<detail::ChunkResult> unordered_pending_;
};

// The blocking body of every flavour.
template <bool Star, CallKind K, class F, class Seq>
auto run_call(const std::shared_ptr<detail::PoolCore>& core, const Options& opts, const F& f, Seq& seq,
              std::shared_ptr<void> keep) {
  using T = std::ranges::range_value_t<Seq>;
  using S = detail::stored_t<detail::job_result_t<Star, F, T>>;
  detail::CallSpec spec = make_spec<Star, K>(opts, f, seq);
  const std::size_t n = spec.n;
  if constexpr (K == CallKind::imap || K == CallKind::unordered_imap) {
    std::shared_ptr<detail::Call> call;
    if (n != 0) call = detail::start_call(core, std::move(spec));
    return sk::ImapRange<Stream<S>>(Stream<S>(std::move(call), std::move(keep), K == CallKind::imap, n, opts.progress));
  } else {
    std::vector<S> out;
    if (n == 0) return out;
    CancelGuard guard{detail::start_call(core, std::move(spec))};
    Progress progress(&opts.progress, n);
    if constexpr (K == CallKind::map) out.resize(n);
    std::uint64_t done = 0;
    for (;;) {
      detail::ChunkResult r;
      const detail::Next got = detail::call_next(*guard.call, r, std::chrono::milliseconds(50));
      if (got == detail::Next::end) break;
      if (got == detail::Next::result) {
        if (r.error) std::rethrow_exception(r.error);
        detail::NotDuringFork quiet;
        std::vector<S> v = decode_results<S>(r);
        if constexpr (K == CallKind::map) {
          for (std::size_t i = 0; i < v.size(); ++i) out[r.begin + i] = std::move(v[i]);
        } else {
          for (auto& x : v) out.push_back(std::move(x));
        }
        done += v.size();
      }
      progress.tick(done, false);
    }
    progress.tick(done, true);
    guard.call.reset();
    return out;
  }
}

}  // namespace pool_detail

// A configured call: what the modifiers return. Copyable; cheap.
template <unsigned Flags = 0>
class PoolCall {
  static constexpr bool kStar = (Flags & pool_detail::kStar) != 0;
  static constexpr bool kBackground = (Flags & pool_detail::kBackground) != 0;
  static constexpr bool kAsync = (Flags & pool_detail::kAsync) != 0;
  using Kind = detail::CallKind;

 public:
  PoolCall(std::shared_ptr<detail::PoolCore> core, pool_detail::Options opts)
      : core_(std::move(core)), opts_(std::move(opts)) {}

  PoolCall<Flags | pool_detail::kStar> star() const { return {core_, opts_}; }
  PoolCall<Flags | pool_detail::kBackground> background() const {
    static_assert(!kAsync, "sk::mpi::Pool: background() and asynced() do the same thing in two ways; pick one");
    return {core_, opts_};
  }
  PoolCall<Flags | pool_detail::kAsync> asynced() const {
    static_assert(!kBackground, "sk::mpi::Pool: background() and asynced() do the same thing in two ways; pick one");
    return {core_, opts_};
  }
  // Per item, enforced by the node's local Pool: an item running longer is
  // killed with its worker and the call throws sk::TimeoutError naming it.
  template <class Rep, class Period>
  PoolCall timeout(std::chrono::duration<Rep, Period> d) const {
    if (d <= d.zero()) throw PoolUsageError("sk::mpi::Pool::timeout: the timeout must be positive");
    auto c = *this;
    c.opts_.timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    if (c.opts_.timeout_ns <= 0) c.opts_.timeout_ns = 1;
    return c;
  }
  // Called in the calling thread as chunks finish (at most every 50 ms, and
  // once at the end). sk::progress_bar draws a bar on stderr.
  PoolCall on_progress(std::function<void(const PoolProgress&)> fn) const {
    auto c = *this;
    c.opts_.progress = std::move(fn);
    return c;
  }
  // How many times a node's local Pool reruns an item whose worker died (default 1).
  PoolCall retries(unsigned n) const {
    if (n > 200) throw PoolUsageError("sk::mpi::Pool::retries: at most 200 retries per item");
    auto c = *this;
    c.opts_.retries = n;
    return c;
  }

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
  // Skprocess classes: each item constructs W (unpacked with star()) on a
  // node and runs its whole lifecycle there, yielding W::result().
  template <class W, class Items>
  auto map(Items&& items) const {
    return dispatch<Kind::map>(detail::ProcessTag<W>{}, std::forward<Items>(items));
  }
  template <class W, class Items>
  auto unordered_map(Items&& items) const {
    return dispatch<Kind::unordered_map>(detail::ProcessTag<W>{}, std::forward<Items>(items));
  }
  template <class W, class Items>
  auto imap(Items&& items) const {
    return dispatch<Kind::imap>(detail::ProcessTag<W>{}, std::forward<Items>(items));
  }
  template <class W, class Items>
  auto unordered_imap(Items&& items) const {
    return dispatch<Kind::unordered_imap>(detail::ProcessTag<W>{}, std::forward<Items>(items));
  }

 private:
  template <Kind K, class F, class Items>
  auto dispatch(F&& f, Items&& items) const {
    using ID = std::remove_cvref_t<Items>;
    constexpr bool lazy = K == Kind::imap || K == Kind::unordered_imap;
    if constexpr (!kBackground && !kAsync) {
      if constexpr (pool_detail::kIndexable<ID>) {
        return pool_detail::run_call<kStar, K>(core_, opts_, f, items, nullptr);
      } else {
        std::vector<std::ranges::range_value_t<ID>> v;
        for (auto&& x : items) v.push_back(std::forward<decltype(x)>(x));
        return pool_detail::run_call<kStar, K>(core_, opts_, f, v, nullptr);
      }
    } else {
      auto holder = pool_detail::make_holder(std::forward<F>(f), std::forward<Items>(items));
      auto job = [core = core_, opts = opts_, holder]() {
        auto r = pool_detail::run_call<kStar, K>(core, opts, holder->f, holder->items, holder);
        if constexpr (lazy) {
          return r.collect();
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

  std::shared_ptr<detail::PoolCore> core_;
  pool_detail::Options opts_;

 protected:
  const detail::PoolCore& core() const noexcept { return *core_; }
};

// The pool is its own plain call: pool.map(...), pool.star().map(...), ...
class Pool : public PoolCall<> {
 public:
  // Opens a local persistent sk::Pool on every node's leader (rank 0's
  // included). Rank 0 only. Throws SessionError when a node cannot.
  explicit Pool(Session& session, PoolOptions options = {})
      : PoolCall<>(detail::open_pool(session.engine(), options), {}) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  Pool(Pool&&) noexcept = default;
  Pool& operator=(Pool&&) noexcept = default;
  // The nodes' local pools close once the last call of this pool has ended.
  ~Pool() = default;

  unsigned nodes() const noexcept { return detail::pool_nodes(core()); }
  unsigned workers() const noexcept { return detail::pool_workers(core()); }  // over every node
  CallStats last_stats() const { return detail::pool_last_stats(core()); }
  PoolCall<> call() const { return *this; }
};

}  // namespace sk::mpi
