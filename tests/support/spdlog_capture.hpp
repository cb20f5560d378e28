#pragma once
// Where the suitkaise::spdlog tests let a forwarder write: a spdlog file sink
// on a fresh temporary file (removed afterwards), or an ostream sink; both
// with a pattern, both read back as lines.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/ostream_sink.h>

namespace spdlogtest {

inline std::vector<std::string> lines_of(std::istream& in) {
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

struct TempFileSink {
  std::string path;
  std::shared_ptr<spdlog::sinks::basic_file_sink_mt> sink;

  TempFileSink(const std::string& what, const std::string& pattern)
      : path(testing::TempDir() + "sk_spdlog_" + what + "_" + std::to_string(::getpid()) + ".log") {
    std::filesystem::remove(path);
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
    sink->set_pattern(pattern);
  }
  ~TempFileSink() { std::filesystem::remove(path); }
  TempFileSink(const TempFileSink&) = delete;
  TempFileSink& operator=(const TempFileSink&) = delete;

  std::vector<std::string> lines() const {
    std::ifstream f(path);
    return lines_of(f);
  }
};

struct Capture {
  std::ostringstream out;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);

  explicit Capture(const std::string& pattern) { sink->set_pattern(pattern); }
  std::vector<std::string> lines() const {
    std::istringstream in(out.str());
    return lines_of(in);
  }
};

}  // namespace spdlogtest
