// docs/pipe.md: the block runs in main(); big_value is the reader's data.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sk/pipe.hpp>

using namespace std::chrono_literals;

int main() {
  const std::vector<double> big_value(1 << 16, 1.0);
// @BLOCK@
}
