#pragma once
// Skprocess classes used as Pool items by the local Pool's tests
// (tests/unit/pool_procs.cpp) and the MPI Pool's (tests/mpi/mpi_pool.cpp).
#include <stdexcept>
#include <string>
#include <utility>

#include <sk/process.hpp>

namespace {

class Doubler : public sk::Skprocess<int> {
 public:
  explicit Doubler(int x) : x_(x) { config.runs = 3; }
  void run() override { acc_ += x_; }
  int result() override { return acc_ * 2; }

 private:
  int x_;
  int acc_ = 0;
};

class Adder : public sk::Skprocess<std::string> {
 public:
  Adder(int a, std::string s) : a_(a), s_(std::move(s)) { config.runs = 1; }
  void prerun() override { s_ += "["; }
  void run() override { s_ += std::to_string(a_); }
  void postrun() override { s_ += "]"; }
  void onfinish() override { s_ += "!"; }
  std::string result() override { return s_; }

 private:
  int a_;
  std::string s_;
};

class Flaky : public sk::Skprocess<int> {
 public:
  explicit Flaky(int fails) : fails_(fails) {
    config.runs = 2;
    config.lives = 3;
  }
  void run() override {
    if (fails_-- > 0) throw std::runtime_error("flaky");
    ++done_;
  }
  int result() override { return done_; }

 private:
  int fails_;
  int done_ = 0;
};

}  // namespace
