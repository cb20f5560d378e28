#pragma once
// Baseline for bench/spdlog_sink.cpp: spdlog's own basic_file_sink_mt, one
// per process, every process appending to the same file. spdlog opens it
// with fopen(path, "ab"), i.e. O_APPEND: each write(2) of a process's stdio
// buffer lands at the end of the file, but a buffer can end mid-line, so
// lines of different processes may be cut into each other (counted as torn).
#include <spdlog/logger.h>
#include <spdlog/sinks/basic_file_sink.h>

#include <cstddef>
#include <fstream>
#include <memory>
#include <string>

namespace bench {

// One process's share of the work: `records` spdlog calls into its own sink on `path`.
inline void spdlog_file_worker(const std::string& path, int p, int records) {
  spdlog::logger lg("worker", std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, /*truncate=*/false));
  for (int i = 0; i < records; ++i) lg.info("worker {} record {}", p, i);
  lg.flush();
}

struct FileLines {
  std::size_t lines = 0;
  std::size_t torn = 0;  // not exactly one whole record
};

// Counts the lines of `path` written with spdlog's default pattern by
// spdlog_file_worker (or forwarded from sk::Log with the same pattern).
inline FileLines count_lines(const std::string& path) {
  FileLines out;
  std::ifstream f(path);
  for (std::string l; std::getline(f, l);) {
    ++out.lines;
    const std::size_t name = l.find("] [worker] [info] worker ");
    const bool whole = !l.empty() && l.front() == '[' && name != std::string::npos &&
                       l.find("[worker]", name + 3) == std::string::npos && l.find(" record ", name) != std::string::npos &&
                       l.back() >= '0' && l.back() <= '9';
    if (!whole) ++out.torn;
  }
  return out;
}

}  // namespace bench
