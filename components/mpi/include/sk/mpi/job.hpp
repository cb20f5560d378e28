#pragma once
// How a callable crosses ranks (docs/mpi.md, "What crosses ranks"): every rank
// runs the same program, so each (callable type, item type, flavour) a program
// uses with sk::mpi::Pool is a NodeJob instantiation whose entry point is
// registered during static initialisation, in the same order on every rank,
// under an id derived from the instantiation's type name (sk::ser::type_id).
// Rank 0 sends the id, the callable's bytes (its captures) and the items; the
// node's leader looks the id up and runs the items on its local sk::Pool.
//
// Users do not include this directly; sk/mpi.hpp does.
#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include <sk/ipc/serialize.hpp>
#include <sk/ipc/type_name.hpp>
#include <sk/pool.hpp>

namespace sk::mpi::detail {

enum class CallKind : std::uint8_t { map = 0, unordered_map = 1, imap = 2, unordered_imap = 3 };

// ---- what may cross ranks ----------------------------------------------------

template <class T>
struct is_reference_wrapper : std::false_type {};
template <class T>
struct is_reference_wrapper<std::reference_wrapper<T>> : std::true_type {};

// A callable travels as its object bytes when trivially copyable (a
// captureless lambda, a lambda capturing numbers or trivially copyable
// structs), else through sk::ser (a function object with SK_FIELDS, or
// sk::mpi::bind); a pointer of any kind means nothing on another rank.
template <class F>
inline constexpr bool kCallableBytes = std::is_class_v<F> && std::is_trivially_copyable_v<F>;

template <class F>
inline constexpr bool kCallableOk =
    std::is_class_v<F> && !is_reference_wrapper<F>::value &&
    (kCallableBytes<F> || (ser::Serializable<F> && std::is_default_constructible_v<F>));

// Items: any sk::ser Serializable type (trivially copyable ones go as bytes).
template <class T>
inline constexpr bool kItemOk = ser::Serializable<T> && (std::is_trivially_copyable_v<T> ||
                                                         std::is_default_constructible_v<T>);

// pool.map<W>(args): W's lifecycle runs on a node's local Pool.
template <class W>
struct ProcessTag {};
template <class F>
struct ProcessOf {
  using type = void;
};
template <class W>
struct ProcessOf<ProcessTag<W>> {
  using type = W;
};
template <class F>
inline constexpr bool kIsProcess = !std::is_void_v<typename ProcessOf<F>::type>;

template <class T>
concept TupleLike = requires { std::tuple_size<std::remove_cvref_t<T>>::value; };

// What calling F on an item gives, exactly as the node's local Pool calls it
// (an lvalue item; star(): a tuple-like item unpacked into arguments).
template <bool Star, class F, class T>
auto job_result_probe() {
  if constexpr (kIsProcess<F>) {
    return std::type_identity<typename ProcessOf<F>::type::result_type>{};
  } else if constexpr (Star && TupleLike<T>) {
    return std::type_identity<decltype(std::apply(std::declval<F&>(), std::declval<T&>()))>{};
  } else {
    return std::type_identity<std::invoke_result_t<F&, T&>>{};
  }
}
template <bool Star, class F, class T>
using job_result_t = typename decltype(job_result_probe<Star, F, T>())::type;

// void results come back as std::monostate, as from the local Pool.
template <class R>
using stored_t = std::conditional_t<std::is_void_v<R>, std::monostate, std::remove_cvref_t<R>>;

template <class S>
inline constexpr bool kResultOk = ser::Serializable<std::vector<S>> && std::is_default_constructible_v<S>;

// ---- bytes ---------------------------------------------------------------------

template <class T>
T from_bytes(const std::byte* p) {
  std::array<std::byte, sizeof(T)> raw;
  std::memcpy(raw.data(), p, sizeof(T));
  return std::bit_cast<T>(raw);
}

template <class F>
void encode_callable(const F& f, std::vector<std::byte>& out) {
  if constexpr (std::is_empty_v<F>) {
    out.assign(sizeof(F), std::byte{0});  // no state; its one byte is indeterminate
  } else if constexpr (kCallableBytes<F>) {
    out.resize(sizeof(F));
    std::memcpy(out.data(), static_cast<const void*>(std::addressof(f)), sizeof(F));
  } else {
    ser::encode_payload(f, out);
  }
}

[[noreturn]] void throw_bad_callable_bytes(std::string_view type, std::size_t got, std::size_t want);

template <class F>
F decode_callable(std::span<const std::byte> b) {
  if constexpr (kCallableBytes<F>) {
    if (b.size() != sizeof(F)) throw_bad_callable_bytes(ser::type_name<F>(), b.size(), sizeof(F));
    return from_bytes<F>(b.data());
  } else {
    return ser::decode_payload<F>(b);
  }
}

// ---- fork() beside the library's threads -------------------------------------------

// A node's executor thread runs the local Pool, which forks (its persistent
// workers at pool creation and to replace a dead one, a fork-per-call pool at
// every chunk); rank 0's program may fork its own local Pools. A child gets
// only the forking thread, with every lock as it was: an allocator lock that
// another thread held at that instant is never released there. glibc's malloc
// takes its locks around fork(); GCC 12's AddressSanitizer allocator does
// not, so under ASan such a child hung at its first allocation (the MPI tests
// found it). The library's threads allocate inside a NotDuringFork (shared),
// and a pthread_atfork handler takes the same lock exclusively around every
// fork() of the process, so no fork happens in the middle of their work.
class NotDuringFork {
 public:
  NotDuringFork();
  ~NotDuringFork();
  NotDuringFork(const NotDuringFork&) = delete;
  NotDuringFork& operator=(const NotDuringFork&) = delete;
};

// ---- the registry ----------------------------------------------------------------

// One chunk of a call, as the node's leader received it.
class LocalPools;
struct JobInput {
  LocalPools* pools = nullptr;
  std::uint64_t job = 0;
  std::span<const std::byte> callable;
  std::span<const std::byte> items;      // stride != 0: count * stride bytes; else payloads back to back
  std::span<const std::uint64_t> offsets;  // stride == 0: count + 1 offsets into items, from 0
  std::uint32_t stride = 0;
  std::uint64_t begin = 0;  // global index of the chunk's first item
  std::uint64_t count = 0;
  std::int64_t timeout_ns = 0;  // per item; 0 = none
  std::uint32_t retries = 1;
};

// Why a chunk stopped early: an item's failure, as the local Pool reported it.
struct JobFailure {
  enum Kind : std::uint8_t { item_threw = 0, timed_out = 1, crashed = 2 };
  std::uint8_t kind = item_threw;
  std::uint64_t index = 0;  // global item index
  std::string type_name;
  std::string what;
  std::int32_t signal = 0;
  std::uint32_t attempts = 0;
  double seconds = 0;
  SK_FIELDS(kind, index, type_name, what, signal, attempts, seconds)
};

struct JobOutput {
  std::vector<std::byte> results;  // sk::ser payload of std::vector<S>
  std::uint64_t produced = 0;      // results in it
  std::optional<JobFailure> failure;
};

using JobFn = void (*)(const JobInput&, JobOutput&);

// Called during static initialisation. Ids are sk::ser::type_id of the
// NodeJob instantiation; g++ spells two lambdas of one function alike, so an
// id already taken by another entry point is folded with how many came first
// (the same on every rank: one program, one initialisation order).
std::uint64_t register_job(std::uint64_t name_id, JobFn fn) noexcept;
JobFn find_job(std::uint64_t id) noexcept;
// Hash over every registered id in order: equal on every rank of one program.
std::uint64_t registry_digest() noexcept;

// A node leader's local pools for one sk::mpi::Pool. The persistent pool is
// forked once; a call it refuses (a callable that is not trivially copyable:
// persistent workers receive callables byte for byte) runs on the
// fork-per-call pool instead, which needs nothing of the callable.
class LocalPools {
 public:
  explicit LocalPools(unsigned workers) : persistent_(workers, sk::persistent), forking_(workers) {}
  sk::Pool& persistent() noexcept { return persistent_; }
  sk::Pool& forking() noexcept { return forking_; }
  bool forking_only(std::uint64_t job) const { return forking_jobs_.count(job) != 0; }
  void set_forking_only(std::uint64_t job) { forking_jobs_.insert(job); }
  unsigned workers() const noexcept { return persistent_.workers(); }

 private:
  sk::Pool persistent_;
  sk::Pool forking_;
  std::unordered_set<std::uint64_t> forking_jobs_;
};

template <class T>
std::vector<T> decode_items(const JobInput& in) {
  std::vector<T> items;
  items.reserve(in.count);
  if constexpr (std::is_trivially_copyable_v<T>) {
    for (std::uint64_t i = 0; i < in.count; ++i) items.push_back(from_bytes<T>(in.items.data() + i * sizeof(T)));
  } else {
    for (std::uint64_t i = 0; i < in.count; ++i)
      items.push_back(ser::decode_payload<T>(in.items.subspan(in.offsets[i], in.offsets[i + 1] - in.offsets[i])));
  }
  return items;
}

// The entry point of one (callable, item, star, flavour) on a node: runs the
// chunk's items on the local Pool with the same flavour, so results keep the
// flavour's order and an imap chunk keeps the results before its failure.
template <class F, class T, bool Star, CallKind K>
struct NodeJob {
  using R = job_result_t<Star, F, T>;
  using S = stored_t<R>;

  static void run(const JobInput& in, JobOutput& out) {
    // Declared first, so destroyed last: everything but the local Pool's
    // call (which may fork) allocates and frees inside it.
    std::optional<NotDuringFork> quiet(std::in_place);
    std::vector<T> items = decode_items<T>(in);
    std::vector<S> results;
    auto go = [&](auto call, auto& f) {
      if constexpr (kIsProcess<F>) {
        using W = typename ProcessOf<F>::type;
        if constexpr (K == CallKind::map) {
          results = call.template map<W>(items);
        } else if constexpr (K == CallKind::unordered_map) {
          results = call.template unordered_map<W>(items);
        } else if constexpr (K == CallKind::imap) {
          for (auto& r : call.template imap<W>(items)) results.push_back(std::move(r));
        } else {
          for (auto& r : call.template unordered_imap<W>(items)) results.push_back(std::move(r));
        }
      } else {
        if constexpr (K == CallKind::map) {
          results = call.map(f, items);
        } else if constexpr (K == CallKind::unordered_map) {
          results = call.unordered_map(f, items);
        } else if constexpr (K == CallKind::imap) {
          for (auto& r : call.imap(f, items)) results.push_back(std::move(r));
        } else {
          for (auto& r : call.unordered_imap(f, items)) results.push_back(std::move(r));
        }
      }
    };
    auto on = [&](sk::Pool& pool) {
      auto call = pool.call().retries(in.retries);
      if (in.timeout_ns > 0) call = call.timeout(std::chrono::nanoseconds(in.timeout_ns));
      if constexpr (kIsProcess<F>) {
        ProcessTag<typename ProcessOf<F>::type> f;
        if constexpr (Star) go(call.star(), f); else go(call, f);
      } else {
        F f = [&] {
          NotDuringFork decoding;
          return decode_callable<F>(in.callable);
        }();
        if constexpr (Star) go(call.star(), f); else go(call, f);
      }
    };
    try {
      quiet.reset();
      bool done = false;
      if (!in.pools->forking_only(in.job)) {
        try {
          on(in.pools->persistent());
          done = true;
        } catch (const sk::PoolUsageError&) {
          // Refused before any item ran (persistent-mode requirements).
          if (!results.empty()) throw;
          in.pools->set_forking_only(in.job);
        }
      }
      if (!done) on(in.pools->forking());
      quiet.emplace();
    } catch (const sk::ItemError& e) {
      quiet.emplace();
      out.failure = JobFailure{JobFailure::item_threw, in.begin + e.index(), e.type_name(), e.original_what(), 0, 0, 0};
    } catch (const sk::TimeoutError& e) {
      quiet.emplace();
      out.failure = JobFailure{JobFailure::timed_out, in.begin + e.index(), "sk::TimeoutError", e.what(), 0, 0,
                               e.seconds()};
    } catch (const sk::WorkerCrashed& e) {
      quiet.emplace();
      out.failure = JobFailure{JobFailure::crashed, in.begin + e.index(), "sk::WorkerCrashed", e.what(),
                               e.signal(), e.attempts(), 0};
    }
    out.produced = results.size();
    // Empty results (void items: std::monostate) travel as their count:
    // sk::ser does not decode a vector of empty elements (it takes every
    // element to need at least one byte).
    if constexpr (!std::is_empty_v<S>) ser::encode_payload(results, out.results);
  }

  static inline const std::uint64_t id = register_job(ser::type_id<NodeJob>(), &run);
};

}  // namespace sk::mpi::detail
