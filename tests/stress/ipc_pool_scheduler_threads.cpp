// The Pool runtime's worker side at the ipc layer, with threads standing in
// for worker processes (so TSan checks the orderings): the scheduler hands
// out chunks, the result writer claims and publishes them, and every chunk
// is claimed once, every item published once, stealing spreads a skewed
// block, and a re-offered chunk resumes where its dead owner stopped.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include <sk/ipc/internal/pool/layout.hpp>
#include <sk/ipc/internal/pool/result_writer.hpp>
#include <sk/ipc/internal/pool/scheduler.hpp>

using namespace sk::ipc::pool;
using namespace std::chrono_literals;

namespace {

// A run of n items in chunks of `chunk` over `workers` slots, laid out as the
// collector does (ranges split evenly), state kRunning.
struct TestRun {
  Mapping map;
  RunView v;
  TestRun(std::uint32_t n, std::uint32_t chunk, std::uint32_t workers, std::uint32_t flags = 0) {
    const std::uint32_t slots = workers * 2 + 2;
    const auto layout = RunLayout::compute(n, slots, std::uint64_t{n} * sizeof(std::uint64_t), 1 << 20, 0);
    map = Mapping(layout.total);
    v = init_run(map, layout, n, slots, sizeof(std::uint64_t));
    RunHeader& h = v.hdr();
    h.n_items = n;
    h.chunk_size = chunk;
    h.n_chunks = (n + chunk - 1) / chunk;
    h.flags = flags;
    for (std::uint32_t k = 0; k < workers; ++k) {
      const Range r{h.n_chunks * k / workers, h.n_chunks * (k + 1) / workers};
      if (!r.empty()) v.slot(k).deque.push(r.pack());
      v.slot(k).tag.store(make_tag(k, 1), std::memory_order_relaxed);
    }
    h.state.store(kRunning, std::memory_order_release);
  }
  // Items published so far, read as the collector does.
  std::uint64_t published_chunks() const {
    std::uint64_t sum = 0;
    for (std::uint32_t s = 0; s < v.hdr().n_slots; ++s) sum += v.slot(s).log_count.load(std::memory_order_acquire);
    return sum;
  }
};

// One "worker": claims and runs chunks until everything is published, then
// ends the run if it is the one that completed it.
void worker(TestRun& run, std::uint32_t slot, std::atomic<std::uint32_t>* runs_of, std::atomic<int>* who,
            std::chrono::microseconds slow_first_block = 0us) {
  RunView v = run.v;
  WorkerScheduler sched(v, slot, slot * 2654435761u + 1);
  ResultWriter w(v, slot, v.slot(slot).tag.load(std::memory_order_relaxed));
  while (auto c = sched.next()) {
    std::uint32_t first = 0;
    if (!w.claim(*c, first)) continue;
    for (std::uint32_t i = first; i < v.chunk_end(*c); ++i) {
      runs_of[i].fetch_add(1, std::memory_order_relaxed);
      if (who) who[i].store(static_cast<int>(slot), std::memory_order_relaxed);
      if (slow_first_block.count() && i < 160) std::this_thread::sleep_for(slow_first_block);
      const std::uint64_t r = std::uint64_t{i} * 3;
      w.ok_trivial(i, &r, sizeof r);
    }
    w.chunk_done();
    if (run.published_chunks() == v.hdr().n_chunks) {
      v.hdr().state.store(kFinished, std::memory_order_release);
      v.hdr().work_wp.notify_all();
    }
  }
}

}  // namespace

TEST(PoolScheduler, threads_4workers_every_chunk_claimed_once_every_item_published_once) {
  constexpr std::uint32_t n = 100'000;
  TestRun run(n, 64, 4);
  std::vector<std::atomic<std::uint32_t>> runs(n);
  std::vector<std::thread> ts;
  for (std::uint32_t k = 0; k < 4; ++k) ts.emplace_back([&, k] { worker(run, k, runs.data(), nullptr); });
  for (auto& t : ts) t.join();
  for (std::uint32_t i = 0; i < n; ++i) {
    ASSERT_EQ(runs[i].load(), 1u) << "item " << i;
    std::uint64_t r = 0;
    std::memcpy(&r, run.v.result(i), sizeof r);
    ASSERT_EQ(r, std::uint64_t{i} * 3);
  }
  // Every chunk was reported exactly once, each by a `chunk done` entry from 0.
  std::set<std::uint32_t> chunks;
  for (std::uint32_t s = 0; s < run.v.hdr().n_slots; ++s)
    for (std::uint64_t e = 0; e < run.v.slot(s).log_count.load(); ++e) {
      const LogEntry le = run.v.log(s)[e];
      ASSERT_EQ(le.kind, kChunkDone);
      ASSERT_EQ(le.offset, 0u);
      ASSERT_TRUE(chunks.insert(le.index).second) << "chunk " << le.index << " reported twice";
    }
  EXPECT_EQ(chunks.size(), run.v.hdr().n_chunks);
}

// Worker 0's whole block (160 items, 20 chunks of 8) is slow, the others'
// are free: idle workers steal the upper halves it offers, so worker 0 runs
// well under all of it. (Slow items bunched at the front of a block are the
// policy's worst case: the owner keeps the front; see docs/pool.md.)
TEST(PoolScheduler, threads_4workers_skewed_block_is_stolen) {
  constexpr std::uint32_t n = 640;
  TestRun run(n, 8, 4);
  std::vector<std::atomic<std::uint32_t>> runs(n);
  std::vector<std::atomic<int>> who(n);
  std::vector<std::thread> ts;
  for (std::uint32_t k = 0; k < 4; ++k) ts.emplace_back([&, k] { worker(run, k, runs.data(), who.data(), 1ms); });
  for (auto& t : ts) t.join();
  std::set<int> slow_by;
  int by_owner = 0;
  for (std::uint32_t i = 0; i < 160; ++i) {
    slow_by.insert(who[i].load());
    by_owner += who[i].load() == 0;
  }
  EXPECT_GE(slow_by.size(), 2u) << "nobody stole from the worker holding the slow items";
  EXPECT_LT(by_owner, 120) << "the owner of the slow block ran " << by_owner << " of its 160 items";
  for (std::uint32_t i = 0; i < n; ++i) ASSERT_EQ(runs[i].load(), 1u) << "item " << i;
}

// The writer's chunk word: `done` counts finished items; a chunk re-offered
// as {0, done} (what the collector does after its owner died) resumes at
// `done`, and a claimed or finished chunk cannot be claimed again.
TEST(PoolResultWriter, claim_progress_resume_and_threw_records) {
  TestRun run(10, 5, 1);
  RunView v = run.v;
  ResultWriter a(v, 0, make_tag(0, 1));
  std::uint32_t first = 99;
  ASSERT_TRUE(a.claim(0, first));
  EXPECT_EQ(first, 0u);
  ResultWriter b(v, 1, make_tag(1, 1));
  EXPECT_FALSE(b.claim(0, first)) << "a claimed chunk was claimed again";
  const std::uint64_t r0 = 7;
  a.ok_trivial(0, &r0, sizeof r0);
  a.threw(1, "std::runtime_error", "boom");
  a.chunk_done();  // not finished: no report
  EXPECT_EQ(v.slot(0).log_count.load(), 1u);  // only the `threw` entry
  EXPECT_EQ(v.log(0)[0].kind, kThrew);
  EXPECT_EQ(v.log(0)[0].index, 1u);
  ChunkWord cw = ChunkWord::unpack(v.chunk(0).load());
  EXPECT_EQ(cw.owner, make_tag(0, 1));
  EXPECT_EQ(cw.done, 2u);
  // The owner "died": the collector re-offers the rest of the chunk.
  v.chunk(0).store(ChunkWord{0, cw.done}.pack(), std::memory_order_release);
  ASSERT_TRUE(b.claim(0, first));
  EXPECT_EQ(first, 2u) << "the resumer must start after the finished items";
  for (std::uint32_t i = first; i < 5; ++i) {
    const std::uint64_t r = i;
    b.ok_trivial(i, &r, sizeof r);
  }
  b.chunk_done();
  ASSERT_EQ(v.slot(1).log_count.load(), 1u);
  EXPECT_EQ(v.log(1)[0].kind, kChunkDone);
  EXPECT_EQ(v.log(1)[0].offset, 2u);  // covers items 2..4 of the chunk
  EXPECT_FALSE(a.claim(0, first)) << "a finished chunk was claimed again";
  // An error record round-trips.
  const std::byte* rec = v.buf(0) + v.log(0)[0].offset;
  std::uint32_t tl = 0;
  std::memcpy(&tl, rec, 4);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(rec + 4), tl), "std::runtime_error");
}

// ok_bytes places serialized results in the slot's buffer and records where.
TEST(PoolResultWriter, serialized_results_are_found_through_offsets) {
  TestRun run(4, 4, 1, kSerialized);
  RunView v = run.v;
  ResultWriter w(v, 0, make_tag(0, 1));
  std::uint32_t first = 0;
  ASSERT_TRUE(w.claim(0, first));
  for (std::uint32_t i = 0; i < 4; ++i) {
    const std::string s(i + 1, static_cast<char>('a' + i));
    ASSERT_TRUE(w.ok_bytes(i, std::as_bytes(std::span(s.data(), s.size()))));
  }
  w.chunk_done();
  for (std::uint32_t i = 0; i < 4; ++i) {
    const std::uint64_t place = v.offset(i);
    EXPECT_EQ(place_slot(place), 0u);
    const std::byte* p = v.buf(0) + place_offset(place);
    std::uint64_t len = 0;
    std::memcpy(&len, p, sizeof len);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(p + 8), len), std::string(i + 1, static_cast<char>('a' + i)));
  }
}
