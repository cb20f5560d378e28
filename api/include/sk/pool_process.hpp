#pragma once
// Skprocess classes inside an sk::Pool worker: pool.map<W>(items) constructs
// one W per item (unpacked into the constructor in star mode) and runs its
// whole lifecycle inline, in the Pool worker, with the same engine as a
// started Skprocess (sk/ipc/lifecycle.hpp). The item's result is W::result(),
// or error()'s value; a failure that error() rethrows is the item's
// sk::ItemError, with the typed failure's name and message ("sk::RunError:
// ...").
//
// Everything in config means what it means for a started W: runs, join_in,
// lives (an exception, a crash or a hook timeout costs one; a crash or a
// timeout continues at the same run index in a fresh worker, from a freshly
// constructed W), per-hook timeouts (enforced while the hook runs: the Pool's
// collector kills a worker stuck in a hook), stop() and timers() from inside
// the hooks. Differences, both documented in docs/pool.md:
//  - an item whose config.runs was never set (and no join_in) runs once;
//  - tell()/listen() throw sk::ProcessUsageError: nobody holds the item's
//    parent-side handle.
// pool.retries(n) does not apply: lives do.
#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <sk/ipc/failure.hpp>
#include <sk/ipc/internal/pool/layout.hpp>
#include <sk/ipc/internal/pool/result_writer.hpp>
#include <sk/ipc/lifecycle.hpp>
#include <sk/process.hpp>

namespace sk::pool_detail {

template <class T>
concept TupleLike = requires { std::tuple_size<std::remove_cvref_t<T>>::value; };

// Records the exception in flight as item i's error.
inline void record_exception(ipc::pool::ResultWriter& w, std::uint32_t i) noexcept {
  ipc::FailureInfo f;
  try {
    ipc::capture_exception(f);
  } catch (...) {
    f.type_name = "unknown";
  }
  w.threw(i, f.type_name, f.what);
}

// The typed failure's name and message, as sk::ItemError shows it.
void describe_failure(const ipc::FailureInfo& f, std::string& type, std::string& what);

// Runs one W's lifecycle in the Pool worker (non-template part).
class ItemRun {
 public:
  // `deliver(ok, payload)`: the engine's outcome for the item.
  template <class Deliver>
  static void run(process_detail::ProcessBase& w, ipc::pool::ResultWriter& out, std::uint32_t i, Deliver&& deliver) {
    struct Host final : ipc::LifecycleHost {
      process_detail::ProcessBase& w;
      Deliver& d;
      Host(process_detail::ProcessBase& w_, Deliver& d_) : w(w_), d(d_) {}
      void timer_sample(ipc::HookId h, double s) noexcept override { w.record_timer_sample(h, s); }
      bool deliver(bool ok, std::span<const std::byte> payload) noexcept override {
        d(ok, payload);
        return true;
      }
    } host(w, deliver);
    ipc::pool::RunView v = out.view();
    w.run_in_pool(v.slot(out.slot()).life, v.resume(i), host);
  }
};

// The callable pool.map<W>(items) runs per item; the Pool calls run() with
// the item's index and its result writer.
template <class W, bool Star>
struct ProcessRunner {
  static_assert(std::is_base_of_v<process_detail::ProcessBase, W>,
                "sk::Pool::map<W>: W must derive from sk::Skprocess<R>");
  using R = typename W::result_type;

  template <class T, class Write>
  void run(T&& item, std::uint32_t i, ipc::pool::ResultWriter& out, Write&& write_result) const noexcept {
    try {
      W w = construct(std::forward<T>(item));
      ItemRun::run(w, out, i, [&](bool ok, std::span<const std::byte> payload) {
        try {
          if (!ok) std::rethrow_exception(process_detail::make_failure(ipc::decode_failure(payload)));
          if constexpr (std::is_void_v<R>) {
            write_result(std::monostate{});
          } else {
            write_result(ser::decode<R>(payload));
          }
        } catch (...) {
          record_exception(out, i);
        }
      });
    } catch (...) {
      record_exception(out, i);  // the constructor threw, or the config was refused
    }
  }

  // Only for type deduction (call_result_t): the Pool calls run().
  template <class T>
  R operator()(T&&) const;

 private:
  template <class T>
  static W construct(T&& item) {
    if constexpr (Star && TupleLike<T>) {
      return std::make_from_tuple<W>(std::forward<T>(item));
    } else {
      return W(std::forward<T>(item));
    }
  }
};

template <class T>
struct IsProcessRunner : std::false_type {};
template <class W, bool Star>
struct IsProcessRunner<ProcessRunner<W, Star>> : std::true_type {};

}  // namespace sk::pool_detail
