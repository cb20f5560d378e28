#pragma once
// Process counts for the benchmarks that put P processes on one shared slot.
// 1, 2 and 4 everywhere; 8 and 16 too where the machine has at least that
// many cores (on a 2-core box they would only measure oversubscription).
// SK_BENCH_PROCS="1,2,8" replaces the list.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace bench {

inline std::vector<int> procs_list() {
  std::vector<int> out;
  if (const char* env = std::getenv("SK_BENCH_PROCS"); env != nullptr && *env != '\0') {
    std::string s(env);
    for (std::size_t at = 0; at <= s.size();) {
      std::size_t comma = s.find(',', at);
      if (comma == std::string::npos) comma = s.size();
      const int p = std::atoi(s.substr(at, comma - at).c_str());
      if (p > 0) out.push_back(p);
      at = comma + 1;
    }
    if (!out.empty()) return out;
  }
  out = {1, 2, 4};
  const unsigned cores = std::thread::hardware_concurrency();
  for (int p : {8, 16})
    if (cores >= static_cast<unsigned>(p)) out.push_back(p);
  return out;
}

// Use as BENCHMARK(fn)->Apply(bench::procs_args)->...
inline void procs_args(benchmark::internal::Benchmark* b) {
  b->ArgName("procs");
  for (int p : procs_list()) b->Arg(p);
}

}  // namespace bench
