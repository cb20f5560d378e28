// Skprocess costs against raw POSIX in the same run:
//   - start-to-result latency of a trivial worker (direct: one fork;
//     supervised: lives=2, two forks) vs fork + pipe + waitpid;
//   - tell/listen round trip of a 64-byte message vs a pipe(2) ping-pong;
//   - one-way throughput of 64-byte messages (parent -> worker) vs pipe(2).
// Run: bench_process --benchmark_min_time=0.05
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>

#include <baselines/pipe_fd.hpp>
#include <sk/process.hpp>

using namespace std::chrono_literals;

namespace {

using Msg = std::array<char, 64>;

class Trivial : public sk::Skprocess<int> {
 public:
  explicit Trivial(std::uint32_t lives) {
    config.runs = 1;
    config.lives = lives;
  }
  void run() override {}
  int result() override { return 42; }
};

void BM_Skprocess_start_to_result_direct(benchmark::State& st) {
  for (auto _ : st) {
    Trivial t(1);
    benchmark::DoNotOptimize(t.execute());
  }
}
BENCHMARK(BM_Skprocess_start_to_result_direct)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Skprocess_start_to_result_supervised(benchmark::State& st) {
  for (auto _ : st) {
    Trivial t(2);
    benchmark::DoNotOptimize(t.execute());
  }
}
BENCHMARK(BM_Skprocess_start_to_result_supervised)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Raw_fork_pipe_waitpid(benchmark::State& st) {
  for (auto _ : st) {
    int fds[2];
    if (pipe(fds) != 0) st.SkipWithError("pipe");
    const pid_t pid = fork();
    if (pid == 0) {
      const int v = 42;
      bench::PipeFd::write_all(fds[1], &v, sizeof v);
      _exit(0);
    }
    close(fds[1]);
    int v = 0;
    bench::PipeFd::read_exact(fds[0], &v, sizeof v);
    close(fds[0]);
    waitpid(pid, nullptr, 0);
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_Raw_fork_pipe_waitpid)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Echoes each message back (listen in prerun, tell in postrun).
class EchoWorker : public sk::Skprocess<> {
 public:
  void prerun() override { m_ = listen<Msg>(30s); }
  void run() override {
    if (!m_ || (*m_)[0] == 'q') stop();
  }
  void postrun() override { tell(*m_); }

 private:
  std::optional<Msg> m_;
};

void BM_Skprocess_tell_listen_round_trip_64B(benchmark::State& st) {
  EchoWorker w;
  w.start();
  Msg m{};
  m[0] = 'x';
  for (auto _ : st) {
    w.tell(m);
    auto r = w.listen<Msg>(30s);
    if (!r) st.SkipWithError("no reply");
  }
  m[0] = 'q';
  w.tell(m);
  w.get();
}
BENCHMARK(BM_Skprocess_tell_listen_round_trip_64B)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_Pipe_round_trip_64B(benchmark::State& st) {
  bench::PipeFd to, from;
  const pid_t pid = fork();
  if (pid == 0) {
    Msg m{};
    for (;;) {
      to.recv_exact(&m, sizeof m);
      if (m[0] == 'q') _exit(0);
      from.send(&m, sizeof m);
    }
  }
  Msg m{};
  m[0] = 'x';
  for (auto _ : st) {
    to.send(&m, sizeof m);
    from.recv_exact(&m, sizeof m);
  }
  m[0] = 'q';
  to.send(&m, sizeof m);
  waitpid(pid, nullptr, 0);
}
BENCHMARK(BM_Pipe_round_trip_64B)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Counts messages; a message starting with 'a' asks for the count so far.
class Sink : public sk::Skprocess<> {
 public:
  void run() override {
    auto m = listen<Msg>(30s);
    if (!m || (*m)[0] == 'q') {
      stop();
      return;
    }
    ++n_;
    if ((*m)[0] == 'a') tell(n_);
  }

 private:
  std::uint64_t n_ = 0;
};

constexpr int kBatch = 10000;

void BM_Skprocess_one_way_64B(benchmark::State& st) {
  Sink w;
  w.start();
  Msg m{};
  for (auto _ : st) {
    m[0] = 'x';
    for (int i = 0; i < kBatch - 1; ++i) w.tell(m);
    m[0] = 'a';
    w.tell(m);
    if (!w.listen<std::uint64_t>(30s)) st.SkipWithError("no ack");
  }
  st.SetItemsProcessed(st.iterations() * kBatch);
  st.SetBytesProcessed(st.iterations() * kBatch * 64);
  m[0] = 'q';
  w.tell(m);
  w.get();
}
BENCHMARK(BM_Skprocess_one_way_64B)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_Pipe_one_way_64B(benchmark::State& st) {
  bench::PipeFd to, ack;
  const pid_t pid = fork();
  if (pid == 0) {
    Msg m{};
    std::uint64_t n = 0;
    for (;;) {
      to.recv_exact(&m, sizeof m);
      if (m[0] == 'q') _exit(0);
      ++n;
      if (m[0] == 'a') ack.send(&n, sizeof n);
    }
  }
  Msg m{};
  for (auto _ : st) {
    m[0] = 'x';
    for (int i = 0; i < kBatch - 1; ++i) to.send(&m, sizeof m);
    m[0] = 'a';
    to.send(&m, sizeof m);
    std::uint64_t n;
    ack.recv_exact(&n, sizeof n);
  }
  st.SetItemsProcessed(st.iterations() * kBatch);
  st.SetBytesProcessed(st.iterations() * kBatch * 64);
  m[0] = 'q';
  to.send(&m, sizeof m);
  waitpid(pid, nullptr, 0);
}
BENCHMARK(BM_Pipe_one_way_64B)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
