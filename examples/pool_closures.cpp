// The pitch's Pool example: pool.map(my_function, items) with closures,
// lambdas and locally defined functions -- the things pickle chokes on.
//
//   sk::Pool pool(4);
//   auto results = pool.map(my_function, items);   // closures, lambdas, anything
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include <sk/pool.hpp>

namespace {
int my_function(int x) { return x * x; }
}  // namespace

int main() {
  sk::Pool pool(4);
  std::vector<int> items(100);
  std::iota(items.begin(), items.end(), 0);

  // A plain function.
  const auto squares = pool.map(my_function, items);

  // A locally defined function (a lambda): works as is.
  auto transform = [](int x) { return x * 2; };
  const auto doubled = pool.map(transform, items);

  // A closure over local state, by reference: the workers see it as it is now.
  std::map<std::string, double> prices{{"apple", 0.5}, {"pear", 0.75}, {"plum", 1.25}};
  const double tax = 1.2;
  const std::vector<std::string> basket{"plum", "apple", "pear", "apple"};
  const auto priced = pool.map([&prices, tax](const std::string& name) { return prices.at(name) * tax; }, basket);

  // Change the state and map again: the next call sees the new prices.
  prices["apple"] = 1.0;
  const auto repriced = pool.map([&prices](const std::string& name) { return prices.at(name); }, basket);

  // Tuples unpacked into arguments.
  std::vector<std::pair<std::string, int>> orders{{"pear", 4}, {"plum", 2}};
  const auto totals =
      pool.star().map([&prices](const std::string& name, int n) { return prices.at(name) * n; }, orders);

  bool ok = squares[9] == 81 && doubled[50] == 100 && priced.size() == 4 && priced[0] == 1.25 * 1.2 &&
            repriced[1] == 1.0 && totals[0] == 3.0 && totals[1] == 2.5;
  std::printf("squares[9]=%d doubled[50]=%d priced[0]=%.2f repriced[1]=%.2f totals={%.2f, %.2f}\n", squares[9],
              doubled[50], priced[0], repriced[1], totals[0], totals[1]);
  std::printf("%s\n", ok ? "ok" : "MISMATCH");
  return ok ? 0 : 1;
}
