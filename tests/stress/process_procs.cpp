// Skprocess under load: many concurrent workers, many short-lived ones,
// processes started from several threads at once, and sustained tell/listen.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sk/process.hpp>

using namespace std::chrono_literals;

namespace {

// Squares every number it is told until it is told -1.
class Squarer : public sk::Skprocess<long> {
 public:
  void prerun() override { in_ = listen<long>(10s); }
  void run() override {
    if (!in_ || *in_ < 0) {
      stop();
      return;
    }
    sum_ += *in_;
  }
  void postrun() override { tell(*in_ * *in_); }
  long result() override { return sum_; }

 private:
  std::optional<long> in_;
  long sum_ = 0;
};

TEST(ProcessStress, procs_10_concurrent_workers_round_trips) {
  constexpr int kWorkers = 10, kRounds = 200;
  std::vector<std::unique_ptr<Squarer>> ws;
  for (int i = 0; i < kWorkers; ++i) {
    ws.push_back(std::make_unique<Squarer>());
    ws.back()->start();
  }
  for (int r = 0; r < kRounds; ++r) {
    for (int i = 0; i < kWorkers; ++i) ws[i]->tell(static_cast<long>(r + i));
    for (int i = 0; i < kWorkers; ++i) {
      auto got = ws[i]->listen<long>(20s);
      ASSERT_TRUE(got.has_value());
      ASSERT_EQ(*got, static_cast<long>(r + i) * (r + i));
    }
  }
  for (int i = 0; i < kWorkers; ++i) ws[i]->tell(-1L);
  for (int i = 0; i < kWorkers; ++i) {
    long expect = 0;
    for (int r = 0; r < kRounds; ++r) expect += r + i;
    EXPECT_EQ(ws[i]->get(), expect);
    EXPECT_EQ(ws[i]->current_run(), static_cast<std::uint64_t>(kRounds));
  }
}

class Quick : public sk::Skprocess<int> {
 public:
  explicit Quick(int v, std::uint32_t lives = 1) : v_(v) {
    config.runs = 1;
    config.lives = lives;
  }
  void run() override {}
  int result() override { return v_ * 2; }

 private:
  int v_;
};

TEST(ProcessStress, procs_300_sequential_short_processes_direct_and_supervised) {
  for (int i = 0; i < 300; ++i) {
    Quick q(i, i % 2 ? 1u : 2u);
    ASSERT_EQ(q.execute(), 2 * i);
  }
}

TEST(ProcessStress, procs_started_from_4_threads_at_once) {
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        Quick q(t * 100 + i);
        if (q.execute() == 2 * (t * 100 + i)) ok.fetch_add(1);
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 100);
}

// Many workers that fail and retry at once: nobody's outcome is mixed up.
class Flaky : public sk::Skprocess<int> {
 public:
  explicit Flaky(int id) : id_(id) {
    config.runs = 5;
    config.lives = 3;
  }
  void run() override {
    if (current_run() == 2 && !failed_) {
      failed_ = true;
      throw std::runtime_error("once");
    }
  }
  int result() override { return id_; }

 private:
  int id_;
  bool failed_ = false;
};

TEST(ProcessStress, procs_10_flaky_workers_concurrently) {
  std::vector<std::unique_ptr<Flaky>> ws;
  for (int i = 0; i < 10; ++i) {
    ws.push_back(std::make_unique<Flaky>(i));
    ws.back()->start();
  }
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ws[i]->get(), i);
}

// One-way stream of 100k small messages worker -> parent, read as they come.
class Streamer : public sk::Skprocess<int> {
 public:
  Streamer() { config.runs = 100000; }
  void run() override { tell(static_cast<std::uint64_t>(current_run())); }
  int result() override { return 0; }
};

TEST(ProcessStress, procs_100k_messages_in_order) {
  Streamer s;
  s.start();
  for (std::uint64_t i = 0; i < 100000; ++i) {
    auto m = s.listen<std::uint64_t>(20s);
    ASSERT_TRUE(m.has_value()) << i;
    ASSERT_EQ(*m, i);
  }
  EXPECT_EQ(s.get(), 0);
}

}  // namespace
