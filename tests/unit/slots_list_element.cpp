// share->list[i] is a read-only copy (sk::ListElement<T>): everything that
// reads it works like T; assigning to it does not compile
// (tests/compile_fail/list_element_assign.cpp).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <type_traits>

#include <sk/share.hpp>
#include <sk/slots/list.hpp>

namespace {
struct State {
  sk::List<std::string> names;
  sk::List<int> ints;
};
SK_SHARE(State, names, ints);
}  // namespace

TEST(ListElement, reads_like_the_element) {
  sk::Share<State> s;
  s->names.append("ada");
  s->ints.append(21);
  const std::string first = s->names[0];
  EXPECT_EQ(first, "ada");
  EXPECT_TRUE(s->names[0] == "ada");
  EXPECT_TRUE("ada" == s->names[0]);
  EXPECT_TRUE(s->names[0] != "bob");
  EXPECT_EQ(s->names[0]->size(), 3u);
  EXPECT_EQ(*s->names[0], "ada");
  EXPECT_EQ(s->names[0].get(), "ada");
  EXPECT_EQ(s->ints[0] * 2, 42);
  const int n = s->ints[0];
  EXPECT_EQ(n, 21);
  std::ostringstream os;
  os << s->names[0] << ' ' << s->ints[0];
  EXPECT_EQ(os.str(), "ada 21");
  EXPECT_THROW((void)s->names[1], std::out_of_range);
}

TEST(ListElement, assignment_is_not_available) {
  using E = sk::ListElement<std::string>;
  // The operators exist only to fail with a message when instantiated;
  // a requires-expression cannot see that, so check the return type instead.
  static_assert(std::is_same_v<decltype(std::declval<sk::List<std::string>&>()[0]), E>);
  static_assert(!std::is_assignable_v<const E&, std::string>);
}
