// Output that worker processes write reaches a pipe or a file exactly once:
// printf and std::cout inside pool.map (fork-per-call and persistent mode) and
// inside Skprocess hooks, and nothing the parent had buffered before a fork is
// written twice. Every test forks a child program whose stdout is a pipe (so
// stdio is fully buffered, as under `./prog | cat`) and counts its lines.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <sk/pool.hpp>
#include <sk/process.hpp>

#include "test_fork.hpp"

namespace {

// Runs `body` in a child whose stdout and stderr are one pipe, fully
// buffered; returns how many times each line arrived.
std::map<std::string, int> lines_of_child(const std::function<void()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return {};
  std::fflush(nullptr);
  const pid_t pid = sktest::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    std::setvbuf(stdout, nullptr, _IOFBF, BUFSIZ);  // what a pipe gets at start-up
    body();
    std::fflush(nullptr);  // what exit() would do; _exit keeps gtest's state out of it
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) all.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::map<std::string, int> counts;
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) ++counts[line];
  return counts;
}

int print_item(int x) {
  std::printf("printf item %d\n", x);
  std::cout << "cout item " << x << '\n';
  return x;
}

class Talker : public sk::Skprocess<int> {
 public:
  explicit Talker(int id = 0) : id_(id) { config.runs = 2; }
  void prerun() override { std::printf("prerun %d.%d\n", id_, runs_); }
  void run() override { std::cout << "run " << id_ << '.' << runs_++ << '\n'; }
  void onfinish() override { std::fprintf(stderr, "onfinish %d on stderr\n", id_); }
  int result() override { return runs_; }

 private:
  int id_;
  int runs_ = 0;
};

void expect_once(const std::map<std::string, int>& got, const std::vector<std::string>& want) {
  for (const auto& w : want) {
    const auto it = got.find(w);
    EXPECT_EQ(it == got.end() ? 0 : it->second, 1) << "line \"" << w << "\"";
  }
}

std::vector<std::string> item_lines(const char* tag, int n) {
  std::vector<std::string> v{std::string("before ") + tag, std::string("after ") + tag};
  for (int i = 0; i < n; ++i) {
    v.push_back("printf item " + std::to_string(i));
    v.push_back("cout item " + std::to_string(i));
  }
  return v;
}

}  // namespace

TEST(Output, procs_2workers_fork_mode_map_output_reaches_a_pipe_once) {
  const auto got = lines_of_child([] {
    std::printf("before fork\n");  // buffered in the parent when the workers fork
    sk::Pool pool(2);
    pool.map(print_item, std::vector<int>{0, 1, 2, 3, 4, 5});
    std::printf("after fork\n");
  });
  expect_once(got, item_lines("fork", 6));
}

TEST(Output, procs_2workers_persistent_map_output_reaches_a_pipe_once) {
  const auto got = lines_of_child([] {
    std::printf("before persistent\n");
    sk::Pool pool(2, sk::persistent);
    pool.map(print_item, std::vector<int>{0, 1, 2});
    pool.map(print_item, std::vector<int>{3, 4, 5});
    std::printf("after persistent\n");
  });
  expect_once(got, item_lines("persistent", 6));
}

TEST(Output, procs_skprocess_hook_output_reaches_a_pipe_once) {
  const auto got = lines_of_child([] {
    std::printf("before process\n");
    Talker t;
    t.start();
    t.get();
    std::printf("after process\n");
  });
  expect_once(got, {"before process", "after process", "prerun 0.0", "prerun 0.1", "run 0.0", "run 0.1",
                    "onfinish 0 on stderr"});
}

TEST(Output, procs_1worker_pool_skprocess_items_output_reaches_a_pipe_once) {
  const auto got = lines_of_child([] {
    std::printf("before items\n");
    sk::Pool pool(1);
    pool.map<Talker>(std::vector<int>{1, 2});
    std::printf("after items\n");
  });
  expect_once(got, {"before items", "after items", "prerun 1.0", "prerun 1.1", "run 1.0", "run 1.1",
                    "onfinish 1 on stderr", "prerun 2.0", "run 2.1", "onfinish 2 on stderr"});
}
