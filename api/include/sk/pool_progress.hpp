#pragma once
// sk::progress_bar: the ready-made on_progress callback.
//
//   pool.on_progress(sk::progress_bar).map(fn, items);
//
// On a terminal (stderr is a tty) it redraws one line in place,
//   [##########..........]  500/1000  1234.5 items/s  ETA 0.4 s
// padding each frame over the previous one, and ends with a newline. When
// stderr is a pipe or a file it writes no carriage returns: a plain line at
// each quarter it passes and one summary line at the end,
//   sk::Pool: 250/1000 items (25%), 1234.5 items/s, ETA 2.4 s
//   sk::Pool: 1000/1000 items in 0.81 s (1234.5 items/s)
#include <cstddef>

#include <sk/ipc/pool_progress.hpp>

namespace sk {

struct ProgressBar {
  int width = 30;  // characters of the bar (terminal only)
  void operator()(const PoolProgress& p) const;

  // Drawing state of one call: on_progress copies the bar into the call, so
  // each map starts afresh; reset after the final frame.
  mutable int shown_chars_ = 0;        // length of the last terminal frame
  mutable int tty_ = -1;               // -1: not asked yet, else isatty(stderr)
  mutable std::size_t quarters_ = 0;   // plain lines written (quarters passed)
};
inline constexpr ProgressBar progress_bar{};

}  // namespace sk
