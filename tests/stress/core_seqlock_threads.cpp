// Seqlock under thread contention: readers must never see a torn value (every
// word of Wide is equal in every committed value), never see the value go
// backwards, and writers using update() must lose no increment.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <sk/core/seqlock.hpp>

namespace {

struct Wide {  // 128 bytes: 16 words that are always equal when committed
  std::uint64_t w[16];
  static Wide filled(std::uint64_t v) {
    Wide x{};
    for (auto& e : x.w) e = v;
    return x;
  }
  bool uniform() const {
    for (auto e : w)
      if (e != w[0]) return false;
    return true;
  }
};

struct Outcome {
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> torn{0};
  std::atomic<std::uint64_t> backwards{0};
};

// Every thread waits here so that they really overlap.
void await(const std::atomic<bool>& go) {
  while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
}

void read_until(const sk::core::Seqlock<Wide>& s, const std::atomic<bool>& stop, Outcome& out) {
  std::uint64_t last = 0;
  std::uint64_t n = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    Wide v{};
    if (n % 2 == 0) {
      v = s.load();
    } else if (!s.try_load(v)) {
      continue;
    }
    if (!v.uniform()) out.torn.fetch_add(1);
    if (v.w[0] < last) out.backwards.fetch_add(1);
    last = v.w[0];
    ++n;
  }
  out.reads.fetch_add(n);
}

// `writers` threads each add 1 to every word `per_writer` times with update()
// while `readers` threads check each value they read.
void run_updates(int writers, int readers, std::uint64_t per_writer) {
  sk::core::Seqlock<Wide> s;
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  Outcome out;
  std::vector<std::thread> rs;
  for (int r = 0; r < readers; ++r) rs.emplace_back([&] { await(go); read_until(s, stop, out); });
  std::vector<std::thread> ws;
  for (int w = 0; w < writers; ++w) {
    ws.emplace_back([&s, &go, w, per_writer] {
      await(go);
      const auto tag = static_cast<std::uint32_t>(w + 1);
      for (std::uint64_t i = 0; i < per_writer; ++i) s.update([](Wide& v) { for (auto& e : v.w) ++e; }, tag);
    });
  }
  go.store(true, std::memory_order_release);
  for (auto& t : ws) t.join();
  stop.store(true);
  for (auto& t : rs) t.join();
  const Wide end = s.load();
  EXPECT_TRUE(end.uniform());
  EXPECT_EQ(end.w[0], per_writer * static_cast<std::uint64_t>(writers));
  EXPECT_EQ(s.version(), 2 * per_writer * static_cast<std::uint64_t>(writers));
  EXPECT_EQ(s.holder(), 0u);
  EXPECT_EQ(out.torn.load(), 0u);
  EXPECT_EQ(out.backwards.load(), 0u);
  if (readers > 0) {
    EXPECT_GT(out.reads.load(), 0u);
  }
}

}  // namespace

TEST(Seqlock, threads_1writer_3readers) {
  sk::core::Seqlock<Wide> s;
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  Outcome out;
  std::vector<std::thread> rs;
  for (int r = 0; r < 3; ++r) rs.emplace_back([&] { await(go); read_until(s, stop, out); });
  go.store(true, std::memory_order_release);
  constexpr std::uint64_t kStores = 50'000;
  for (std::uint64_t i = 1; i <= kStores; ++i) s.store(Wide::filled(i), 1);
  stop.store(true);
  for (auto& t : rs) t.join();
  EXPECT_EQ(s.load().w[5], kStores);
  EXPECT_EQ(s.version(), 2 * kStores);
  EXPECT_EQ(out.torn.load(), 0u);
  EXPECT_EQ(out.backwards.load(), 0u);
  EXPECT_GT(out.reads.load(), 0u);
}

TEST(Seqlock, threads_2writers_2readers) { run_updates(2, 2, 50'000); }

TEST(Seqlock, threads_4writers) { run_updates(4, 0, 25'000); }

TEST(Seqlock, threads_4writers_2readers) { run_updates(4, 2, 25'000); }
