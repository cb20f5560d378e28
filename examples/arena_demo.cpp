// Foundation demo: one shared-memory arena, four forked worker processes, no
// locks and no coordinator.
//
//   - every worker increments one shared counter (a std::atomic living in the
//     arena) 1,000,000 times;
//   - every worker appends 10,000 records to a shared region: it reserves an
//     index with fetch_add, writes the record, then publishes it.
//
// The parent waits, checks every total and every record, prints them with
// the time taken, and exits non-zero if anything is wrong.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <sk/alloc/arena.hpp>

namespace {

constexpr int kWorkers = 4;
constexpr std::uint64_t kIncrements = 1'000'000;
constexpr std::uint32_t kRecordsPerWorker = 10'000;

struct Record {
  std::uint32_t worker;
  std::uint32_t seq;
  std::uint64_t value;
  std::atomic<std::uint32_t> published;  // 0 until the record is complete
};

struct Shared {
  std::atomic<std::uint64_t> counter{0};
  std::atomic<std::uint64_t> next_record{0};
  sk::alloc::Offset records = 0;  // Record[kWorkers * kRecordsPerWorker]
};

void worker(const sk::alloc::Arena& arena, std::uint32_t id) {
  auto* s = arena.ptr<Shared>(arena.root());
  auto* records = arena.ptr<Record>(s->records);
  for (std::uint64_t i = 0; i < kIncrements; ++i) s->counter.fetch_add(1, std::memory_order_relaxed);
  for (std::uint32_t seq = 0; seq < kRecordsPerWorker; ++seq) {
    const std::uint64_t idx = s->next_record.fetch_add(1, std::memory_order_relaxed);  // reserve
    Record& r = records[idx];
    r.worker = id;  // write
    r.seq = seq;
    r.value = std::uint64_t{id} * 1'000'000'007ULL + seq;
    // SYNC POINT: release publishes worker/seq/value; a reader that sees
    // published == 1 with acquire sees the whole record.
    r.published.store(1, std::memory_order_release);
  }
}

}  // namespace

int main() {
  using clock = std::chrono::steady_clock;
  constexpr std::size_t kTotalRecords = std::size_t{kWorkers} * kRecordsPerWorker;
  sk::alloc::Arena arena = sk::alloc::Arena::create_anonymous(
      2 << 20, {}, [](sk::alloc::Arena& a) {
        const auto shared = a.create_object<Shared>();
        auto* s = a.ptr<Shared>(shared);
        s->records = a.allocate(sizeof(Record) * kTotalRecords, alignof(Record));
        a.set_root(shared);
      });

  const auto t0 = clock::now();
  std::vector<pid_t> pids;
  for (std::uint32_t id = 0; id < kWorkers; ++id) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      std::perror("fork");
      return 2;
    }
    if (pid == 0) {
      worker(arena, id);
      ::_exit(0);
    }
    pids.push_back(pid);
  }
  bool ok = true;
  for (pid_t pid : pids) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "worker %d failed (status %d)\n", static_cast<int>(pid), status);
      ok = false;
    }
  }
  const double secs = std::chrono::duration<double>(clock::now() - t0).count();

  auto* s = arena.ptr<Shared>(arena.root());
  auto* records = arena.ptr<Record>(s->records);
  const std::uint64_t counter = s->counter.load();
  const std::uint64_t appended = s->next_record.load();
  std::vector<std::vector<bool>> seen(kWorkers, std::vector<bool>(kRecordsPerWorker, false));
  std::size_t good_records = 0;
  for (std::size_t i = 0; i < appended && i < kTotalRecords; ++i) {
    const Record& r = records[i];
    // SYNC POINT: acquire pairs with the worker's release of `published`.
    if (r.published.load(std::memory_order_acquire) != 1) continue;
    if (r.worker >= kWorkers || r.seq >= kRecordsPerWorker) continue;
    if (r.value != std::uint64_t{r.worker} * 1'000'000'007ULL + r.seq) continue;
    if (seen[r.worker][r.seq]) continue;
    seen[r.worker][r.seq] = true;
    ++good_records;
  }
  const std::uint64_t want_counter = std::uint64_t{kWorkers} * kIncrements;
  std::printf("arena_demo: %d processes, one %zu KiB shared arena (%zu bytes used)\n", kWorkers,
              arena.capacity() >> 10, arena.used());
  std::printf("  counter  = %llu (expected %llu)\n", static_cast<unsigned long long>(counter),
              static_cast<unsigned long long>(want_counter));
  std::printf("  records  = %llu appended, %zu complete and distinct (expected %zu)\n",
              static_cast<unsigned long long>(appended), good_records, kTotalRecords);
  std::printf("  time     = %.3f s (%.1f M increments/s across processes)\n", secs,
              static_cast<double>(want_counter) / secs / 1e6);
  if (counter != want_counter || appended != kTotalRecords || good_records != kTotalRecords) ok = false;
  std::printf("%s\n", ok ? "OK" : "WRONG TOTALS");
  return ok ? 0 : 1;
}
