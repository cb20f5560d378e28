// suitkaise::spdlog with threads (the TSan suite): 4 threads of one process
// log through ONE sk::spdlog_sink (the _mt sink, then the mutex-free _st one)
// while an sk::LogForwarder tails the Log on its own thread, and a reader
// thread calls records() meanwhile. Every record once, each thread's records
// in its own order, each forwarded once in the Log's order.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/base_sink.h>

#include <sk/share.hpp>
#include <sk/spdlog.hpp>

namespace {

constexpr int kThreads = 4;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kCalls = 2'000;
#else
constexpr int kCalls = 10'000;
#endif

struct State {
  sk::Log log{"svc", sk::LogLevel::info, sk::LogRetention{.records = kThreads * kCalls}};
};
SK_SHARE(State, log);

// Keeps the payload of each record it is given (a spdlog sink, used only by
// the forwarder's thread; read after drain()).
class Keep final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> got;

 protected:
  void sink_it_(const spdlog::details::log_msg& m) override { got.emplace_back(m.payload.data(), m.payload.size()); }
  void flush_() override {}
};

template <class MakeSink>
void threads_through_one_sink(MakeSink make_sink) {
  sk::Share<State> s(std::size_t{32} << 20);
  s->log.no_sinks();
  auto keep = std::make_shared<Keep>();
  sk::LogForwarder fwd(s->log, {keep});
  auto lg = std::make_shared<spdlog::logger>("threads", make_sink(s->log));

  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done.load()) {
      const auto rs = s->log.records();
      for (std::size_t i = 1; i < rs.size(); ++i) ASSERT_LT(rs[i - 1].seq, rs[i].seq);
    }
  });
  std::vector<std::thread> ws;
  for (int t = 0; t < kThreads; ++t)
    ws.emplace_back([&, t] {
      for (int k = 0; k < kCalls; ++k) lg->info("{} {}", t, k);
    });
  for (auto& w : ws) w.join();
  done.store(true);
  reader.join();

  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), std::size_t{kThreads} * kCalls);
  std::map<int, int> next_k;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    ASSERT_EQ(rs[i].seq, i);
    int t = -1, k = -1;
    ASSERT_EQ(std::sscanf(rs[i].message.c_str(), "%d %d", &t, &k), 2);
    ASSERT_EQ(k, next_k[t]++) << "thread " << t << " out of its own order";
  }
  fwd.drain();
  EXPECT_EQ(fwd.forwarded(), rs.size());
  ASSERT_EQ(keep->got.size(), rs.size());
  for (std::size_t i = 0; i < rs.size(); ++i) ASSERT_EQ(keep->got[i], rs[i].message) << i;
}

TEST(SpdlogThreads, threads_4writers_one_mt_sink_1forwarder_1reader_every_record_once_in_order) {
  threads_through_one_sink([](sk::Log& log) { return sk::spdlog_sink(log); });
}

TEST(SpdlogThreads, threads_4writers_one_st_sink_1forwarder_1reader_every_record_once_in_order) {
  threads_through_one_sink([](sk::Log& log) { return sk::spdlog_sink_st(log); });
}

}  // namespace
