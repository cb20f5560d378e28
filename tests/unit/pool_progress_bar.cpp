// sk::progress_bar, called the way a Pool calls it: on a terminal each frame
// overwrites the whole previous one (no leftovers of a longer frame); on a
// file or pipe no carriage returns, a few plain lines and a summary.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <sk/pool.hpp>

#include "stderr_capture.hpp"

namespace {

sk::PoolProgress at(std::size_t done, std::size_t total, double elapsed, double rate, double eta) {
  sk::PoolProgress p;
  p.done = done;
  p.total = total;
  p.elapsed_s = elapsed;
  p.rate = rate;
  p.eta_s = eta;
  return p;
}

// The frames of one map over 1000 items: a long early frame (slow start, big
// ETA), then faster ones, then the final frame, which is shorter.
std::vector<sk::PoolProgress> frames() {
  return {at(3, 1000, 0.9, 3.3, 99999.9), at(300, 1000, 1.0, 300.0, 2.3), at(520, 1000, 1.2, 433.3, 1.1),
          at(760, 1000, 1.4, 542.9, 0.4), at(1000, 1000, 1.51, 662.3, 0)};
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == '\n') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// What a terminal shows for `bytes`: \r returns to column 0, \n ends a line,
// any other byte overwrites the cell under the cursor.
std::vector<std::string> screen(const std::string& bytes) {
  std::vector<std::string> lines(1);
  std::size_t col = 0;
  for (char c : bytes) {
    if (c == '\r') {
      col = 0;
    } else if (c == '\n') {
      lines.emplace_back();
      col = 0;
    } else {
      std::string& l = lines.back();
      if (l.size() <= col) l.resize(col + 1, ' ');
      l[col++] = c;
    }
  }
  for (auto& l : lines) l.erase(l.find_last_not_of(' ') + 1);
  return lines;
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 200) == 1) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

TEST(ProgressBar, file_gets_plain_lines_and_a_summary_no_carriage_returns) {
  sktest::CaptureStderr cap;
  sk::ProgressBar bar = sk::progress_bar;  // what on_progress stores: a copy per call
  for (const auto& p : frames()) bar(p);
  const std::string text = cap.text();
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  const auto lines = split_lines(text);
  ASSERT_EQ(lines.size(), 4u) << text;  // 25 %, 50 %, 75 %, summary
  EXPECT_EQ(lines[0], "sk::Pool: 300/1000 items (30%), 300.0 items/s, ETA 2.3 s");
  EXPECT_EQ(lines[1], "sk::Pool: 520/1000 items (52%), 433.3 items/s, ETA 1.1 s");
  EXPECT_EQ(lines[2], "sk::Pool: 760/1000 items (76%), 542.9 items/s, ETA 0.4 s");
  EXPECT_EQ(lines[3], "sk::Pool: 1000/1000 items in 1.51 s (662.3 items/s)");
}

TEST(ProgressBar, file_many_frames_stay_a_few_lines_and_a_reused_bar_starts_again) {
  sktest::CaptureStderr cap;
  sk::ProgressBar bar = sk::progress_bar;
  for (int call = 0; call < 2; ++call) {
    for (std::size_t d = 0; d < 10000; d += 7) bar(at(d, 10000, 0.5, 100, 1));
    bar(at(10000, 10000, 2.0, 5000, 0));
  }
  const auto lines = split_lines(cap.text());
  ASSERT_EQ(lines.size(), 8u);  // per call: 3 quarters + summary
  EXPECT_EQ(lines[3].rfind("sk::Pool: 10000/10000 items in 2.00 s", 0), 0u) << lines[3];
  EXPECT_EQ(lines[4].rfind("sk::Pool: 2506/10000 items (25%)", 0), 0u) << lines[4];
}

TEST(ProgressBar, terminal_last_frame_leaves_nothing_of_a_longer_previous_one) {
  int master = -1, slave = -1;
  ASSERT_EQ(::openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  {
    sktest::StderrTo to(slave);
    sk::ProgressBar bar = sk::progress_bar;
    for (const auto& p : frames()) bar(p);
  }
  const std::string bytes = read_all(master);
  ::close(slave);
  ::close(master);
  ASSERT_NE(bytes.find('\r'), std::string::npos) << "a terminal gets frames redrawn in place";
  const auto shown = screen(bytes);
  ASSERT_GE(shown.size(), 2u);
  // The bar's line as the user sees it after the call: the final frame only.
  EXPECT_EQ(shown[shown.size() - 2], "[##############################] 1000/1000  662.3 items/s  1.51 s")
      << "raw: " << bytes;
  EXPECT_EQ(shown.back(), "");
}
