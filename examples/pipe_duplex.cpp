// The pitch's duplex Pipe: a worker and its parent say hello to each other.
//
//   anchor, point = Pipe.pair()
//   class MyProcess(Skprocess):
//       def __init__(self, pipe_point): self.pipe = pipe_point; self.process_config.runs = 1
//       def __run__(self): self.pipe.send("hello"); result = self.pipe.recv(); print(result)
//   process = MyProcess(point); process.start()
//   anchor.send("hello"); result = anchor.recv(); print(result); process.wait()
#include <cstdio>
#include <string>
#include <utility>

#include <sk/pipe.hpp>
#include <sk/process.hpp>

class MyProcess : public sk::Skprocess<std::string> {
 public:
  explicit MyProcess(sk::Pipe::Point pipe_point) : pipe_(std::move(pipe_point)) { config.runs = 1; }

  void run() override {
    pipe_.send(std::string("hello"));
    got_ = pipe_.recv<std::string>();
    std::printf("worker got: %s\n", got_.c_str());
  }
  std::string result() override { return got_; }

 private:
  sk::Pipe::Point pipe_;
  std::string got_;
};

int main() {
  auto [anchor, point] = sk::Pipe::pair();

  MyProcess process(point);  // the worker keeps its own copy of the point
  process.start();

  anchor.send(std::string("hello"));
  const auto result = anchor.recv<std::string>();
  std::printf("parent got: %s\n", result.c_str());

  const std::string worker_result = process.get();  // waits; rethrows a worker failure
  return result == "hello" && worker_result == "hello" ? 0 : 1;
}
