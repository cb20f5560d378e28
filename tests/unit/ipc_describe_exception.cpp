// sk::ipc::describe_current_exception and demangle: the one describer behind
// FailureInfo (Skprocess hooks), sk::ser::RemoteError and Pool item errors.
#include <stdexcept>
#include <string>
#include <typeinfo>

#include <gtest/gtest.h>

#include <sk/core/error.hpp>
#include <sk/ipc/describe_exception.hpp>
#include <sk/ipc/failure.hpp>

namespace dx {
struct Base : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Derived : Base {
  using Base::Base;
};
struct NotStd {};
}  // namespace dx

namespace {

using sk::ipc::describe_current_exception;
using sk::ipc::ExceptionKind;

struct Described {
  ExceptionKind kind;
  std::string type;
  std::string what;
};

template <class Throw>
Described describe(Throw&& t) {
  Described d{ExceptionKind::none, "stale", "stale"};
  try {
    t();
  } catch (...) {
    d.kind = describe_current_exception(d.type, d.what);
  }
  return d;
}

TEST(DescribeException, unit_std_exception_type_and_what) {
  const Described d = describe([] { throw std::out_of_range("index 5 >= size 3"); });
  EXPECT_EQ(d.kind, ExceptionKind::std_exception);
  EXPECT_EQ(d.type, "std::out_of_range");
  EXPECT_EQ(d.what, "index 5 >= size 3");
}

TEST(DescribeException, unit_dynamic_type_when_caught_as_a_base) {
  Described d{};
  try {
    throw dx::Derived("deep");
  } catch (const dx::Base&) {
    d.kind = describe_current_exception(d.type, d.what);
  }
  EXPECT_EQ(d.kind, ExceptionKind::std_exception);
  EXPECT_EQ(d.type, "dx::Derived");
  EXPECT_EQ(d.what, "deep");
}

TEST(DescribeException, unit_non_std_exceptions_have_a_type_and_no_what) {
  Described d = describe([] { throw 42; });
  EXPECT_EQ(d.kind, ExceptionKind::other);
  EXPECT_EQ(d.type, "int");
  EXPECT_EQ(d.what, "");
  d = describe([] { throw dx::NotStd{}; });
  EXPECT_EQ(d.kind, ExceptionKind::other);
  EXPECT_EQ(d.type, "dx::NotStd");
  EXPECT_EQ(d.what, "");
}

TEST(DescribeException, unit_outside_a_handler_clears_both_and_says_none) {
  std::string type = "stale", what = "stale";
  EXPECT_EQ(describe_current_exception(type, what), ExceptionKind::none);
  EXPECT_EQ(type, "");
  EXPECT_EQ(what, "");
}

TEST(DescribeException, unit_inner_handler_describes_the_innermost_exception) {
  Described inner{}, outer{};
  try {
    throw std::invalid_argument("outer");
  } catch (...) {
    try {
      throw sk::Error("inner");
    } catch (...) {
      inner.kind = describe_current_exception(inner.type, inner.what);
    }
    outer.kind = describe_current_exception(outer.type, outer.what);
  }
  EXPECT_EQ(inner.type, "sk::Error");
  EXPECT_EQ(inner.what, "inner");
  EXPECT_EQ(outer.type, "std::invalid_argument");
  EXPECT_EQ(outer.what, "outer");
}

TEST(DescribeException, unit_demangle) {
  EXPECT_EQ(sk::ipc::demangle(typeid(dx::Derived).name()), "dx::Derived");
  EXPECT_EQ(sk::ipc::demangle(typeid(std::out_of_range).name()), "std::out_of_range");
  EXPECT_EQ(sk::ipc::demangle("not a mangled name"), "not a mangled name");
  EXPECT_EQ(sk::ipc::demangle(nullptr), "");
}

// FailureInfo (a Skprocess hook's error) keeps its own wording for what the
// describer cannot name.
TEST(DescribeException, unit_capture_exception_fills_failure_info) {
  sk::ipc::FailureInfo f;
  f.what = "stale";
  try {
    throw dx::NotStd{};
  } catch (...) {
    sk::ipc::capture_exception(f);
  }
  EXPECT_EQ(f.type_name, "dx::NotStd");
  EXPECT_EQ(f.what, "");
  try {
    throw std::length_error("too long");
  } catch (...) {
    sk::ipc::capture_exception(f);
  }
  EXPECT_EQ(f.type_name, "std::length_error");
  EXPECT_EQ(f.what, "too long");
}

}  // namespace
