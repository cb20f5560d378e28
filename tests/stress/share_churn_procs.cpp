// Object churn in a default Share (issue #15): stores of strings and maps of
// random sizes never run out of a 16 MiB arena whose live data is far
// smaller (before: ArenaFull after ~500 stores per process with 451 KB in
// use), and the arena's use stays bounded by what is stored.
// Contention: 4 processes, each storing into its own Object and into one
// shared Object.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include <sk/share.hpp>
#include <sk/slots/object.hpp>

#include "share_procs.hpp"

namespace {

struct State {
  sk::Object<std::string> t0, t1, t2, t3;
  sk::Object<std::string> common;
  sk::Object<std::map<std::string, int>> table;
};
SK_SHARE(State, t0, t1, t2, t3, common, table);

constexpr std::size_t kMaxBytes = 100 * 1024;

#if defined(__SANITIZE_ADDRESS__)
constexpr int kStores = 3'000;
#else
constexpr int kStores = 20'000;
#endif

}  // namespace

TEST(ShareChurn, procs_4writers_20000_random_size_stores_never_full_and_use_stays_bounded) {
  sk::Share<State> share;  // default capacity (16 MiB)
  const bool ok = sktest::run_children(4, [&](int id) {
    std::mt19937_64 rng(40 + id);
    sk::Object<std::string>* mine[] = {&share->t0, &share->t1, &share->t2, &share->t3};
    std::uniform_real_distribution<double> logsize(0.0, std::log(static_cast<double>(kMaxBytes)));
    for (int i = 0; i < kStores; ++i) {
      const auto n = static_cast<std::size_t>(std::exp(logsize(rng)));
      try {
        if (i % 10 == 9) {
          share->table.update([&](std::map<std::string, int>& m) {
            m["k" + std::to_string(rng() % 1000)] = i;
            if (m.size() > 900) m.erase(m.begin());
          });
        } else if (i % 5 == 4) {
          share->common.store(std::string(n, static_cast<char>('a' + id)));
        } else {
          mine[id]->store(std::string(n, static_cast<char>('a' + id)));
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "process %d, store %d of %zu bytes: %s\n", id, i, n, e.what());
        return false;
      }
    }
    return true;
  });
  EXPECT_TRUE(ok) << "a writer failed (see stderr)";
  // Live data: 5 strings of at most 100 KB and a map of at most 1000 short
  // entries. Overhead stated: each block is rounded to a power of two
  // (small) or to pages, and the small lists keep the pages they took.
  const std::size_t used = share.arena().used();
  EXPECT_LE(used, 5 * (kMaxBytes + 4096) + 64 * 1024) << "live bytes exceed what is stored plus the overhead";
  EXPECT_GE(share.arena().largest_free(), share.arena().capacity() / 2) << "free space is cut into pieces";
}
