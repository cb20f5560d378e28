// sk::Path across processes: a Path sent over a Pipe or returned from a Pool
// item travels as its rp and resolves against the receiving process's root.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <sk/path.hpp>
#include <sk/pipe.hpp>
#include <sk/pool.hpp>

#include "test_fork.hpp"

namespace fs = std::filesystem;

namespace {

fs::path make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "sk_path_procs_XXXXXX").string();
  return fs::canonical(mkdtemp(tmpl.data()));
}

}  // namespace

TEST(Path, procs_1peer_pipe_path_resolves_against_the_receivers_root) {
  const fs::path base = make_temp_dir();
  fs::create_directories(base / "sender");
  fs::create_directories(base / "receiver");
  auto [anchor, point] = sk::Pipe::pair();
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sk::CustomRoot r(base / "receiver");
    const auto got = point.recv<sk::Path>();
    point.send(got.ap().string());
    point.send(sk::Path(base / "receiver/out/result.bin"));
    _exit(got.ap() == base / "receiver/data/x.csv" ? 0 : 1);
  }
  sk::CustomRoot r(base / "sender");
  anchor.send(sk::Path(base / "sender/data/x.csv"));
  EXPECT_EQ(anchor.recv<std::string>(), (base / "receiver/data/x.csv").string());
  const auto back = anchor.recv<sk::Path>();
  EXPECT_EQ(back.ap(), base / "sender/out/result.bin");
  EXPECT_EQ(back.rp(), "out/result.bin");
  int st = 0;
  waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  fs::remove_all(base);
}

TEST(Path, procs_2workers_pool_result_resolves_against_the_callers_root) {
  const fs::path base = make_temp_dir();
  fs::create_directories(base / "caller");
  fs::create_directories(base / "worker");
  sk::CustomRoot r(base / "caller");
  sk::Pool pool(2);
  const fs::path worker_root = base / "worker";
  const auto out = pool.map(
      [worker_root](int i) {
        sk::CustomRoot wr(worker_root);  // the worker's own root differs from the caller's
        return sk::Path(worker_root / ("item" + std::to_string(i) + ".txt"));
      },
      std::vector<int>{0, 1, 2, 3});
  ASSERT_EQ(out.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(out[i].rp(), "item" + std::to_string(i) + ".txt");
    EXPECT_EQ(out[i].ap(), base / "caller" / ("item" + std::to_string(i) + ".txt"));
  }
  // Plain std::filesystem::path results travel unchanged.
  const auto plain = pool.map([worker_root](int) { return worker_root / "a"; }, std::vector<int>{0});
  EXPECT_EQ(plain.at(0), worker_root / "a");
  fs::remove_all(base);
}
