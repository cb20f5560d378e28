// Seqlock under thread contention: readers must never see a torn value (every
// word of Wide is equal in every committed value), never see the value go
// backwards, and writers using update() must lose no increment.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

#include <sk/core/seqlock.hpp>

#include "core_seqlock_value.hpp"

namespace {

using coretest::Wide;

struct Outcome {
  std::atomic<std::uint32_t> readers_in{0};  // readers that completed a first read
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> bad{0};  // torn or backwards values seen
};

// Every thread waits here so that they really overlap.
void await(const std::atomic<bool>& go) {
  while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
}

// Writers start once every reader is reading.
void await_readers(const Outcome& out, int readers) {
  while (out.readers_in.load() < static_cast<std::uint32_t>(readers)) std::this_thread::yield();
}

void read_until(const sk::core::Seqlock<Wide>& s, const std::atomic<bool>& stop, Outcome& out) {
  coretest::ReadChecker check;
  for (;;) {
    if (check.reads() > 0 && stop.load(std::memory_order_relaxed)) break;
    Wide v{};
    if (check.reads() % 2 == 0) {
      v = s.load();
    } else if (!s.try_load(v)) {
      continue;  // overtaken by two writers: try_load says so, never returns a torn value
    }
    if (!check.see(v)) out.bad.fetch_add(1);
    if (check.reads() == 1) out.readers_in.fetch_add(1);
  }
  out.reads.fetch_add(check.reads());
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
    ws.emplace_back([&s, &go, &out, w, readers, per_writer] {
      await(go);
      await_readers(out, readers);
      const auto tag = static_cast<std::uint32_t>(w + 1);
      for (std::uint64_t i = 0; i < per_writer; ++i) s.update(coretest::add_one, tag);
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
  EXPECT_EQ(out.bad.load(), 0u);
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
  await_readers(out, 3);
  constexpr std::uint64_t kStores = 50'000;
  for (std::uint64_t i = 1; i <= kStores; ++i) s.store(Wide::filled(i), 1);
  stop.store(true);
  for (auto& t : rs) t.join();
  EXPECT_EQ(s.load().w[5], kStores);
  EXPECT_EQ(s.version(), 2 * kStores);
  EXPECT_EQ(out.bad.load(), 0u);
  EXPECT_GT(out.reads.load(), 0u);
}

TEST(Seqlock, threads_2writers_2readers) { run_updates(2, 2, 50'000); }

TEST(Seqlock, threads_4writers) { run_updates(4, 0, 25'000); }

TEST(Seqlock, threads_4writers_2readers) { run_updates(4, 2, 25'000); }
