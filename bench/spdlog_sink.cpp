// spdlog calls from P processes into one shared, ordered sk::Log, against
// spdlog's own file sink with every process appending to one file.
//
// BM_spdlog_sk_sink/procs:P            P forked processes each make kRecords
//                                      spdlog calls through sk::spdlog_sink
//                                      (the _mt sink) into one sk::Log.
// BM_spdlog_sk_sink_st/procs:P         the same through the mutex-free _st sink.
// BM_spdlog_sk_sink_to_file/procs:P    the same (_mt), plus the parent's
//                                      sk::LogForwarder writing every record
//                                      to a basic_file_sink_mt file: the time
//                                      runs until the file is flushed.
// BM_spdlog_basic_file_sink/procs:P    baseline: each process its own
//                                      spdlog basic_file_sink_mt on the same
//                                      file (O_APPEND), kRecords calls each.
// Same logger name, level and message in all; the file variants use spdlog's
// default pattern. Each iteration uses a fresh Share / file (not timed); the
// time covers forking the P processes, their work and their exit (manual
// time). Totals are checked; torn_lines counts lines of the shared file that
// are not one whole record (interleaved appends); skipped, records that left
// the Log's retention (4 x kRecords) before the forwarder reached them
// (reported in the file, not forwarded).
//
//   ./bench_spdlog_sink --benchmark_min_time=0.05
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <baselines/spdlog_basic_file.hpp>
#include <fork_all.hpp>
#include <procs_args.hpp>
#include <sk/share.hpp>
#include <sk/slots/log.hpp>
#include <sk/spdlog.hpp>
#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>

namespace {

constexpr int kRecords = 20'000;

struct LogState {
  // Holds every record of up to 4 processes (36 MB); with more, the oldest
  // leave retention (the sink's cost is the same; the forwarder reports them).
  sk::Log log{"bench", sk::LogLevel::info, sk::LogRetention{.records = 4 * kRecords}};
};
SK_SHARE(LogState, log);

std::string bench_file() {
  return (std::filesystem::temp_directory_path() / ("bench_spdlog_" + std::to_string(::getpid()) + ".log")).string();
}

void finish(benchmark::State& st, int procs, double shm_bytes) {
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations()) * procs * kRecords);
  st.counters["shm_bytes"] = shm_bytes;
}

enum class Variant { mt, st, to_file };

template <Variant V>
void BM_sk(benchmark::State& st) {
  const int procs = static_cast<int>(st.range(0));
  const std::string path = bench_file();
  double shm = 0;
  std::uint64_t skipped = 0;
  for (auto _ : st) {
    st.PauseTiming();
    sk::Share<LogState> share(std::size_t{48} << 20);
    share->log.no_sinks();
    share->log.info("warm-up");  // the ring is built (and its pages touched) at the first record: not timed
    std::unique_ptr<sk::LogForwarder> fwd;
    if constexpr (V == Variant::to_file) {
      std::filesystem::remove(path);
      fwd = std::make_unique<sk::LogForwarder>(
          share->log, std::vector<spdlog::sink_ptr>{std::make_shared<spdlog::sinks::basic_file_sink_mt>(path)},
          sk::LogForwarder::Options{.from_start = false});
    }
    st.ResumeTiming();
    const auto t0 = std::chrono::steady_clock::now();
    const double forked = bench::fork_all(procs, [&](int p) {
      spdlog::sink_ptr sink;
      if constexpr (V == Variant::st)
        sink = sk::spdlog_sink_st(share->log);
      else
        sink = sk::spdlog_sink(share->log);
      spdlog::logger lg("worker", sink);
      for (int i = 0; i < kRecords; ++i) lg.info("worker {} record {}", p, i);
    });
    if (fwd) fwd->flush();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    st.PauseTiming();
    const std::uint64_t total = static_cast<std::uint64_t>(procs) * kRecords;
    bool ok = forked >= 0 && share->log.written() == total + 1;
    if (fwd) {
      const std::uint64_t forwarded = fwd->forwarded();
      ok = ok && forwarded + fwd->skipped() == total && fwd->lost() == 0;
      skipped += fwd->skipped();
      fwd.reset();
      // Every forwarded record is one whole line (the rest: skip reports).
      const bench::FileLines f = bench::count_lines(path);
      ok = ok && f.lines - f.torn == forwarded;
    }
    if (!ok) {
      st.SkipWithError("a worker failed or a total is wrong");
      return;
    }
    st.SetIterationTime(s);
    shm = static_cast<double>(share.arena().used());
    st.ResumeTiming();
  }
  std::filesystem::remove(path);
  finish(st, procs, shm);
  if (V == Variant::to_file)
    st.counters["skipped"] = benchmark::Counter(static_cast<double>(skipped), benchmark::Counter::kAvgIterations);
}

void BM_spdlog_sk_sink(benchmark::State& st) { BM_sk<Variant::mt>(st); }
void BM_spdlog_sk_sink_st(benchmark::State& st) { BM_sk<Variant::st>(st); }
void BM_spdlog_sk_sink_to_file(benchmark::State& st) { BM_sk<Variant::to_file>(st); }

void BM_spdlog_basic_file_sink(benchmark::State& st) {
  const int procs = static_cast<int>(st.range(0));
  const std::string path = bench_file();
  std::size_t torn = 0;
  for (auto _ : st) {
    st.PauseTiming();
    std::filesystem::remove(path);
    st.ResumeTiming();
    const double s = bench::fork_all(procs, [&](int p) { bench::spdlog_file_worker(path, p, kRecords); });
    st.PauseTiming();
    const bench::FileLines f = bench::count_lines(path);
    if (s < 0 || f.lines != static_cast<std::size_t>(procs) * kRecords) {
      st.SkipWithError("a worker failed or the file has the wrong number of lines");
      return;
    }
    torn += f.torn;
    st.SetIterationTime(s);
    st.ResumeTiming();
  }
  std::filesystem::remove(path);
  finish(st, procs, 0);
  st.counters["torn_lines"] = benchmark::Counter(static_cast<double>(torn), benchmark::Counter::kAvgIterations);
}

}  // namespace

BENCHMARK(BM_spdlog_sk_sink)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_spdlog_sk_sink_st)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_spdlog_sk_sink_to_file)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_spdlog_basic_file_sink)->Apply(bench::procs_args)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
