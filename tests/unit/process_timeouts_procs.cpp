// config.timeouts.<hook> takes what the original takes: seconds as a number
// (`= 30.0`) and any std::chrono duration (`= 1500us`), kept in whole
// milliseconds rounded up; non-positive limits are refused at start().
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <limits>
#include <optional>
#include <thread>

#include <sk/process.hpp>

using namespace std::chrono_literals;

namespace {

class Sleeper : public sk::Skprocess<int> {
 public:
  explicit Sleeper(std::chrono::milliseconds nap) : nap_(nap) { config.runs = 1; }
  void run() override { std::this_thread::sleep_for(nap_); }
  int result() override { return 1; }

 private:
  std::chrono::milliseconds nap_;
};

}  // namespace

TEST(ProcessTimeouts, seconds_as_a_number_and_any_duration_assign) {
  sk::ProcessConfig c;
  c.timeouts.run = 30.0;
  EXPECT_EQ(c.timeouts.run, std::optional(30000ms));
  c.timeouts.prerun = 0.25;
  EXPECT_EQ(c.timeouts.prerun, std::optional(250ms));
  c.timeouts.postrun = 2;  // an integer is seconds too
  EXPECT_EQ(c.timeouts.postrun, std::optional(2000ms));
  c.timeouts.onfinish = 1500us;  // rounded up: never shorter than asked
  EXPECT_EQ(c.timeouts.onfinish, std::optional(2ms));
  c.timeouts.result = std::chrono::duration<double>(0.0001);
  EXPECT_EQ(c.timeouts.result, std::optional(1ms));
  c.timeouts.error = 1min;
  EXPECT_EQ(c.timeouts.error, std::optional(60000ms));
  c.timeouts.run = std::nullopt;
  EXPECT_FALSE(c.timeouts.run.has_value());
  c.timeouts.run = 50ms;
  c.timeouts.run = {};
  EXPECT_FALSE(c.timeouts.run.has_value());
  const sk::ProcessTimeouts designated{.run = 1.5, .result = 10s};
  EXPECT_EQ(designated.run, std::optional(1500ms));
  EXPECT_EQ(designated.result, std::optional(10000ms));
  EXPECT_FALSE(designated.prerun.has_value());
}

TEST(ProcessTimeouts, not_a_number_or_infinite_seconds_refused_at_assignment) {
  sk::ProcessConfig c;
  EXPECT_THROW(c.timeouts.run = std::numeric_limits<double>::quiet_NaN(), sk::ProcessConfigError);
  EXPECT_THROW(c.timeouts.run = std::numeric_limits<double>::infinity(), sk::ProcessConfigError);
  EXPECT_FALSE(c.timeouts.run.has_value());
}

TEST(ProcessTimeouts, procs_non_positive_refused_at_start_naming_the_hook) {
  for (double bad : {0.0, -1.0, -0.0001}) {
    Sleeper w(0ms);
    w.config.timeouts.postrun = bad;
    try {
      w.start();
      ADD_FAILURE() << bad << " s was accepted";
    } catch (const sk::ProcessConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("config.timeouts.postrun is not positive"), std::string::npos) << e.what();
    }
  }
  Sleeper w(0ms);
  w.config.timeouts.run = 0us;
  EXPECT_THROW(w.start(), sk::ProcessConfigError);
}

TEST(ProcessTimeouts, procs_seconds_as_double_limit_kills_an_overrunning_run) {
  Sleeper w(5000ms);
  w.config.timeouts.run = 0.1;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(w.execute(), sk::ProcessTimeoutError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

TEST(ProcessTimeouts, procs_microsecond_limit_a_fast_run_passes) {
  Sleeper w(0ms);
  w.config.timeouts.run = 900000us;
  EXPECT_EQ(w.execute(), 1);
}
