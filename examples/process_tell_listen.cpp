// The pitch's MyProcess: two-way tell/listen between a parent and its
// Skprocess. The worker waits for a command in prerun, acts on it in run and
// acknowledges in postrun; "stop" makes it stop itself.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <sk/process.hpp>

using namespace std::chrono_literals;

class MyProcess : public sk::Skprocess<> {
 public:
  void prerun() override { command_ = listen<std::string>(5s); }
  void run() override {
    if (command_ == "stop") {
      stop();
    } else if (command_ == "print") {
      std::printf("hello\n");
    } else {
      throw std::invalid_argument("Unknown command: " + command_.value_or("<none>"));
    }
  }
  void postrun() override {
    command_.reset();
    tell(std::string("command received"));
  }

 private:
  std::optional<std::string> command_;
};

int main() {
  MyProcess p;
  p.start();
  int acknowledged = 0;
  for (int i = 0; i < 10; ++i) {
    p.tell(std::string("print"));
    auto reply = p.listen<std::string>(5s);
    if (reply != "command received") break;
    ++acknowledged;
  }
  p.tell(std::string("stop"));
  p.wait();
  p.get();  // throws the worker's failure, if any
  std::printf("%d commands acknowledged\n", acknowledged);
  return acknowledged == 10 ? 0 : 1;
}
