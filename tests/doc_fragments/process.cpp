// docs/process.md: the block (a Skprocess class and its use) runs in main().
#include <chrono>

#include <sk/process.hpp>

using namespace std::chrono_literals;

int main() {
// @BLOCK@
}
