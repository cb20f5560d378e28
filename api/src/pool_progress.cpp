#include <cmath>
#include <cstdio>

#include <sk/pool.hpp>

namespace sk {

void ProgressBar::operator()(const PoolProgress& p) const {
  const int w = width > 0 ? width : 30;
  const double frac = p.total ? static_cast<double>(p.done) / static_cast<double>(p.total) : 1.0;
  const int filled = static_cast<int>(std::lround(frac * w));
  char bar[256];
  int k = 0;
  for (; k < w && k < 250; ++k) bar[k] = k < filled ? '#' : '.';
  bar[k] = '\0';
  if (p.done < p.total)
    std::fprintf(stderr, "\r[%s] %zu/%zu  %.1f items/s  ETA %.1f s ", bar, p.done, p.total, p.rate, p.eta_s);
  else
    std::fprintf(stderr, "\r[%s] %zu/%zu  %.1f items/s  %.2f s\n", bar, p.done, p.total, p.rate, p.elapsed_s);
  std::fflush(stderr);
}

}  // namespace sk
