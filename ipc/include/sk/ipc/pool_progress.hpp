#pragma once
// What sk::Pool's on_progress callbacks receive (sk/pool.hpp).
#include <cstddef>

namespace sk {

struct PoolProgress {
  std::size_t done = 0;   // items finished (ok or failed)
  std::size_t total = 0;  // items in the call
  double elapsed_s = 0;   // since the call started
  double rate = 0;        // items per second so far
  double eta_s = 0;       // remaining items / rate (0 when unknown or done)
};

}  // namespace sk
