// docs/timers-circuits-modifiers.md, call modifiers: the block runs in main();
// fetch, Page, NetError and url are the reader's.
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

#include <sk/modifiers.hpp>
#include <sk/task.hpp>

using namespace std::chrono_literals;

struct Page {
  std::string body;
};
struct NetError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
Page fetch(const std::string& url) { return Page{url}; }

int main() {
  const std::string url = "http://127.0.0.1/";
// @BLOCK@
}
