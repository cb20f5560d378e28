// Failures keep their cause: what() of a Skprocess failure and of a Pool item
// failure names the hook, the run, the original exception's type and its
// message, also when nested (Pool item -> Skprocess -> user exception), and an
// uncaught one prints all of it through std::terminate. Every test forks.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <sk/pool.hpp>
#include <sk/process.hpp>

#include "test_fork.hpp"

namespace {

struct QuotaExceeded : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Uploader : public sk::Skprocess<int> {
 public:
  explicit Uploader(int id = 0) : id_(id) { config.runs = 3; }
  // Counts its own runs: the third (run index 2) fails.
  void run() override {
    if (runs_++ == 2) throw QuotaExceeded("quota of 5 GiB exceeded by upload " + std::to_string(id_));
  }
  int result() override { return id_; }

 private:
  int id_;
  int runs_ = 0;
};

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(Errors, procs_process_error_what_names_hook_run_type_and_message) {
  Uploader w(7);
  w.start();
  try {
    w.get();
    FAIL() << "expected RunError";
  } catch (const sk::RunError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(has(what, "run")) << what;
    EXPECT_TRUE(has(what, "run 2")) << what;
    EXPECT_TRUE(has(what, "QuotaExceeded")) << what;
    EXPECT_TRUE(has(what, "quota of 5 GiB exceeded by upload 7")) << what;
  }
}

TEST(Errors, procs_1worker_pool_item_skprocess_what_names_the_user_exception) {
  sk::Pool pool(1);
  try {
    pool.map<Uploader>(std::vector<int>{3});
    FAIL() << "expected ItemError";
  } catch (const sk::ItemError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(has(what, "item 0")) << what;
    EXPECT_TRUE(has(what, "sk::RunError")) << what;
    EXPECT_TRUE(has(what, "run 2")) << what;
    EXPECT_TRUE(has(what, "QuotaExceeded")) << what;
    EXPECT_TRUE(has(what, "quota of 5 GiB exceeded by upload 3")) << what;
  }
}

// A child that lets the failure escape main(): std::terminate prints what().
TEST(Errors, procs_uncaught_process_error_prints_the_original_cause) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = sktest::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    ::close(fds[1]);
    Uploader w(9);
    w.start();
    [&]() noexcept { w.get(); }();  // throws through noexcept: std::terminate
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string err;
  char buf[512];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) err.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status)) << err;
  EXPECT_TRUE(has(err, "QuotaExceeded")) << err;
  EXPECT_TRUE(has(err, "quota of 5 GiB exceeded by upload 9")) << err;
}

// A persistent-mode call that cannot be shipped says which requirement failed.
TEST(Errors, procs_1worker_persistent_refusal_names_the_failed_requirement) {
  sk::Pool pool(1, sk::persistent);
  try {
    pool.map([p = std::make_shared<int>(1)](int x) { return x + *p; }, std::vector<int>{1});
    FAIL() << "expected PoolUsageError";
  } catch (const sk::PoolUsageError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(has(what, "the callable (")) << what;
    EXPECT_TRUE(has(what, "is not trivially copyable")) << what;
    EXPECT_FALSE(has(what, "item type")) << what;
    EXPECT_FALSE(has(what, "result type")) << what;
    EXPECT_TRUE(has(what, "sk::Pool(n)")) << what;
  }
  try {
    pool.map([](int x) { return std::array<char, 300>{static_cast<char>(x)}; }, std::vector<int>{1});
    FAIL() << "expected PoolUsageError";
  } catch (const sk::PoolUsageError& e) {
    const std::string what = e.what();
    EXPECT_FALSE(has(what, "the callable (")) << what;
    EXPECT_TRUE(has(what, "the result type (std::array<char, 300>)")) << what;
    EXPECT_TRUE(has(what, "300 bytes, over the 256")) << what;
  }
  EXPECT_EQ(pool.map([](int x) { return x + 1; }, std::vector<int>{1}), std::vector<int>{2});  // still usable
}
