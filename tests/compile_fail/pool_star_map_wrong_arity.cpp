// pool.star().map unpacks a pair into two arguments; a three-parameter callable cannot take them.
// expect: static assertion failed: sk::Pool star\(\): the callable cannot be called with the item's elements
#include <utility>
#include <vector>

#include <sk/pool.hpp>

int main() {
  sk::Pool pool(2);
  std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
  auto sums = pool.star().map([](int a, int b, int c) { return a + b + c; }, pairs);
  (void)sums;
}
