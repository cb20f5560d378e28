#pragma once
// What sk::Pool's on_progress callbacks receive (sk/pool.hpp).
#include <chrono>
#include <cstddef>

namespace sk {

struct PoolProgress {
  std::size_t done = 0;   // items finished (ok or failed)
  std::size_t total = 0;  // items in the call
  double elapsed_s = 0;   // since the call started
  double rate = 0;        // items per second so far
  double eta_s = 0;       // remaining items / rate (0 when unknown or done)

  // The report of a call that finished `done` of `total` items in
  // `elapsed_s` seconds: rate and ETA follow from them.
  static PoolProgress of(std::size_t done, std::size_t total, double elapsed_s) noexcept {
    PoolProgress p;
    p.done = done;
    p.total = total;
    p.elapsed_s = elapsed_s;
    p.rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0;
    p.eta_s = (p.rate > 0 && done < total) ? static_cast<double>(total - done) / p.rate : 0;
    return p;
  }
};

// A call reports progress at most this often (and once at its end), local
// sk::Pool and sk::mpi::Pool alike.
inline constexpr std::chrono::milliseconds kPoolProgressEvery{50};

}  // namespace sk
