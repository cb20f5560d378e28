// Opening a named Share that does not exist names the call that creates it,
// sk::Share<State>::create, not the arena underneath.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include <sk/alloc/errors.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>

namespace {
struct Orders {
  sk::Atomic<long> count;
};
SK_SHARE(Orders, count);
}  // namespace

TEST(ShareOpen, missing_segment_names_share_create_and_the_path) {
  const std::string name = "sk-test-absent-" + std::to_string(::getpid());
  try {
    (void)sk::Share<Orders>::open(name);
    FAIL() << "opened a Share that was never created";
  } catch (const sk::alloc::SegmentNotFound& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("sk::Share<Orders>::open(\"" + name + "\")"), std::string::npos) << m;
    EXPECT_NE(m.find("create it first with sk::Share<Orders>::create(\"" + name + "\")"), std::string::npos) << m;
    EXPECT_NE(m.find(e.path()), std::string::npos) << m;
    EXPECT_NE(e.path().find(name), std::string::npos) << e.path();
    EXPECT_EQ(m.find("Arena::create"), std::string::npos) << m;
  }
  // Still a SegmentError for code that catches the general case.
  EXPECT_THROW((void)sk::Share<Orders>::open(name), sk::alloc::SegmentError);
}

TEST(ShareOpen, created_then_opened_by_name) {
  const std::string name = "sk-test-present-" + std::to_string(::getpid());
  auto made = sk::Share<Orders>::create(name);
  made->count += 5;
  auto again = sk::Share<Orders>::open(name);
  EXPECT_EQ(again->count.load(), 5);
  sk::Share<Orders>::unlink(name);
}
