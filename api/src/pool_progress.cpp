#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <sk/pool_progress.hpp>

namespace sk {

void ProgressBar::operator()(const PoolProgress& p) const {
  const bool final = p.done >= p.total;
  if (tty_ < 0) tty_ = ::isatty(STDERR_FILENO) == 1 ? 1 : 0;
  if (tty_ == 0) {
    // A pipe or a file: no \r frames, a few plain lines and a summary.
    if (final) {
      std::fprintf(stderr, "sk::Pool: %zu/%zu items in %.2f s (%.1f items/s)\n", p.done, p.total, p.elapsed_s,
                   p.rate);
    } else {
      const std::size_t quarter = p.total ? p.done * 4 / p.total : 0;
      if (quarter <= quarters_) return;
      quarters_ = quarter;
      std::fprintf(stderr, "sk::Pool: %zu/%zu items (%zu%%), %.1f items/s, ETA %.1f s\n", p.done, p.total,
                   p.done * 100 / p.total, p.rate, p.eta_s);
    }
  } else {
    const int w = std::clamp(width > 0 ? width : 30, 1, 200);
    const double frac = p.total ? static_cast<double>(p.done) / static_cast<double>(p.total) : 1.0;
    const int filled = static_cast<int>(std::lround(frac * w));
    char bar[201];
    for (int k = 0; k < w; ++k) bar[k] = k < filled ? '#' : '.';
    bar[w] = '\0';
    char frame[400];
    int n = final ? std::snprintf(frame, sizeof frame, "[%s] %zu/%zu  %.1f items/s  %.2f s", bar, p.done, p.total,
                                  p.rate, p.elapsed_s)
                  : std::snprintf(frame, sizeof frame, "[%s] %zu/%zu  %.1f items/s  ETA %.1f s", bar, p.done,
                                  p.total, p.rate, p.eta_s);
    n = std::clamp(n, 0, static_cast<int>(sizeof frame) - 1);
    // Blank out what a longer previous frame left on the line.
    std::fprintf(stderr, "\r%s%*s%s", frame, std::max(0, shown_chars_ - n), "", final ? "\n" : "");
    shown_chars_ = n;
  }
  std::fflush(stderr);
  if (final) shown_chars_ = 0, quarters_ = 0;
}

}  // namespace sk
