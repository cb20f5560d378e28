// sk::ser::RemoteError: the exception in flight as plain, serializable data.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include <sk/ipc/remote_error.hpp>

namespace demo {
struct Base : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct Derived : Base {
  using Base::Base;
};
struct NotStd {
  int code = 3;
};
}  // namespace demo

namespace {

using sk::ser::capture_current_exception;
using sk::ser::RemoteError;

template <class Throw>
RemoteError capture(Throw&& t) {
  try {
    t();
  } catch (...) {
    return capture_current_exception();
  }
  return {};
}

TEST(RemoteError, std_exception_type_and_what) {
  const auto r = capture([] { throw std::out_of_range("index 5 >= size 3"); });
  EXPECT_EQ(r.type_name, "std::out_of_range");
  EXPECT_EQ(r.what, "index 5 >= size 3");
  EXPECT_EQ(sk::ser::to_string(r), "std::out_of_range: index 5 >= size 3");
}

TEST(RemoteError, dynamic_type_when_caught_as_base) {
  RemoteError r;
  try {
    throw demo::Derived("deep");
  } catch (const demo::Base&) {
    r = capture_current_exception();
  }
  EXPECT_EQ(r.type_name, "demo::Derived");
  EXPECT_EQ(r.what, "deep");
}

TEST(RemoteError, sk_error_subclass) {
  const auto r = capture([] { throw sk::DecodeError("bad bytes"); });
  EXPECT_EQ(r.type_name, "sk::DecodeError");
  EXPECT_EQ(r.what, "bad bytes");
}

TEST(RemoteError, non_std_exceptions_have_type_but_no_what) {
  auto r = capture([] { throw 42; });
  EXPECT_EQ(r.type_name, "int");
  EXPECT_EQ(r.what, "");
  r = capture([] { throw demo::NotStd{}; });
  EXPECT_EQ(r.type_name, "demo::NotStd");
  EXPECT_EQ(sk::ser::to_string(r), "demo::NotStd");
}

TEST(RemoteError, outside_catch_block) {
  const auto r = capture_current_exception();
  EXPECT_EQ(r.type_name, "<no exception>");
  EXPECT_EQ(r.what, "");
}

TEST(RemoteError, round_trips_through_frames) {
  const auto r = capture([] { throw std::invalid_argument("x must be > 0"); });
  EXPECT_EQ(sk::ser::decode<RemoteError>(sk::ser::encode(r)), r);
}

}  // namespace
