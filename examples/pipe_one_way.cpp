// The pitch's one-way Pipe: only the anchor sends, only the point receives
// (enforced by the types: `point.send(x)` does not compile). The worker
// receives its data in prerun, processes it in run and drops it in postrun.
//
//   anchor, point = Pipe.pair(one_way=True)
//   class MyProcess(Skprocess):
//       def __prerun__(self): self.data_to_process = self.pipe.recv()
//       def __run__(self): self.process_data(self.data_to_process)
//       def __postrun__(self): self.data_to_process = None
#include <cstdio>
#include <numeric>
#include <optional>
#include <utility>
#include <vector>

#include <sk/pipe.hpp>
#include <sk/process.hpp>

class MyProcess : public sk::Skprocess<long> {
 public:
  explicit MyProcess(sk::Pipe::OneWayPoint pipe_point) : pipe_(std::move(pipe_point)) { config.runs = 3; }

  void prerun() override { data_to_process_ = pipe_.recv<std::vector<int>>(); }
  void run() override { total_ += process_data(*data_to_process_); }
  void postrun() override { data_to_process_.reset(); }
  long result() override { return total_; }

 private:
  static long process_data(const std::vector<int>& data) { return std::accumulate(data.begin(), data.end(), 0L); }

  sk::Pipe::OneWayPoint pipe_;
  std::optional<std::vector<int>> data_to_process_;
  long total_ = 0;
};

int main() {
  auto [anchor, point] = sk::Pipe::pair(sk::one_way);

  MyProcess process(point);
  process.start();

  for (int batch = 0; batch < 3; ++batch) {
    std::vector<int> data(1000);
    std::iota(data.begin(), data.end(), batch * 1000);
    anchor.send(data);  // one batch per run
  }
  const long total = process.get();
  std::printf("worker processed a total of %ld\n", total);
  return total == 2999L * 3000 / 2 ? 0 : 1;
}
