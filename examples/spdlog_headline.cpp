// The pitch's headline with the logger C++ services already use: 4 Pool
// workers log with plain spdlog calls into the shared sk::Log, and the
// parent writes the merged, ordered stream with a rotating file sink.
//
//   Python:  share.log = logging.getLogger("worker")   # with its handlers
//   C++:     spdlog's default logger -> sk::spdlog_sink(share->log)   (every process)
//            sk::LogForwarder(share->log, {rotating_file_sink})       (the parent)
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/spdlog.h>

#include <sk/pool.hpp>
#include <sk/process.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/log.hpp>
#include <sk/spdlog.hpp>

struct State {
  sk::Atomic<long> counter;  // share.counter = 0
  sk::List<int> results;     // share.results = []
  sk::Log log{"worker"};     // share.log = logging.getLogger("worker")
};
SK_SHARE(State, counter, results, log);

class Worker : public sk::Skprocess<int> {
 public:
  Worker(sk::Share<State> share, int item) : share_(std::move(share)), item_(item) { config.runs = 1; }
  void run() override {
    result_ = item_ * 2;
    share_->results.append(result_);
    share_->counter += 1;
    SPDLOG_INFO("done: {}", result_);  // plain spdlog: lands in the shared log, with file:line
  }
  int result() override { return result_; }

 private:
  sk::Share<State> share_;
  int item_;
  int result_ = 0;
};

int main() {
  sk::Share<State> share;
  share->log.no_sinks();  // records are printed by the forwarder below, once

  // spdlog in: the default logger of this process, and of every worker forked
  // from it, writes into the shared log (one total order across processes).
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("worker", sk::spdlog_sink(share->log)));

  // spdlog out: the parent writes the merged stream, formatted by spdlog.
  const std::string path =
      (std::filesystem::temp_directory_path() / ("spdlog_headline_" + std::to_string(::getpid()) + ".log")).string();
  auto file = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(path, 1 << 20, 3);
  file->set_pattern("%H:%M:%S.%e [%n] [%l] [pid %t] %s:%# %v");
  sk::LogForwarder forward(share->log, {file});

  sk::Pool pool(4);
  std::vector<std::tuple<sk::Share<State>, int>> items;
  for (int x = 0; x < 20; ++x) items.emplace_back(share, x);
  const auto results = pool.star().map<Worker>(items);
  SPDLOG_WARN("all {} items done", results.size());  // the parent logs the same way

  forward.flush();  // everything written so far is in the file
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::printf("%s (%zu lines):\n  %s\n  ...\n  %s\n", path.c_str(), lines.size(), lines.front().c_str(),
              lines.back().c_str());
  std::filesystem::remove(path);

  const bool ok = share->counter == 20 && results.size() == 20 && share->log.messages().size() == 21 &&
                  lines.size() == 21 && forward.forwarded() == 21 && forward.lost() == 0;
  std::printf("%s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
