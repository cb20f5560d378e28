// pool.map passes one item; a two-parameter callable needs pool.star().
// expect: static assertion failed: sk::Pool::map: the callable cannot be called with one item
#include <utility>
#include <vector>

#include <sk/pool.hpp>

int main() {
  sk::Pool pool(2);
  std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
  auto sums = pool.map([](int a, int b) { return a + b; }, pairs);
  (void)sums;
}
