// docs/pool.md: the block runs in main(); the items, callables and the
// Skprocess class are the reader's.
#include <chrono>
#include <tuple>
#include <utility>
#include <vector>

#include <sk/pool.hpp>
#include <sk/process.hpp>

using namespace std::chrono_literals;

int fn(int x) { return x + 1; }                    // takes one item
int add(int a, int b) { return a + b; }            // takes the two elements of a pair (star)

class Worker : public sk::Skprocess<int> {
 public:
  explicit Worker(int x) : x_(x) { config.runs = 1; }
  void run() override {}
  int result() override { return x_; }

 private:
  int x_;
};

int main() {
  const int k = 3;
  const std::vector<int> items{1, 2, 3};
  const std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
  const std::vector<std::tuple<int>> args{{1}, {2}};
// @BLOCK@
}
