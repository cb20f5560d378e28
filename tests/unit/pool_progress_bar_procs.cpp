// pool.on_progress(sk::progress_bar) with stderr on a file (./prog 2> log):
// plain lines and a summary, no carriage-return frames.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include <sk/pool.hpp>

#include "stderr_capture.hpp"

TEST(ProgressBar, procs_4workers_map_to_a_file_writes_plain_lines) {
  std::vector<int> items(2000);
  std::iota(items.begin(), items.end(), 0);
  sk::Pool pool(4);
  std::string text;
  std::vector<int> out;
  {
    sktest::CaptureStderr cap;
    out = pool.on_progress(sk::progress_bar).map([](int x) { return x + 1; }, items);
    text = cap.text();
  }
  ASSERT_EQ(out.size(), items.size());
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  const auto last = text.rfind("sk::Pool: 2000/2000 items in ");
  ASSERT_NE(last, std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n', last), text.size() - 1) << "the summary is the last line: " << text;
  EXPECT_LE(std::count(text.begin(), text.end(), '\n'), 4) << text;
}
