#pragma once
// Baselines for bench/pool.cpp (what sk::Pool is measured against):
//   - thread_parallel_for: an in-process std::thread loop over static blocks
//     (the ceiling: no processes, no copies);
//   - fork_per_task: one fork() per item, result through MAP_SHARED memory
//     (at most `workers` children at once);
//   - fork_static_split: fork `workers` children once per call, each runs a
//     fixed block [k*n/w, (k+1)*n/w) into a MAP_SHARED result array, then
//     waitpid (no stealing, no supervision: the fork-the-workers floor).
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

namespace bench {

template <class R>
class SharedArray {
 public:
  explicit SharedArray(std::size_t n) : n_(n ? n : 1) {
    void* p = mmap(nullptr, n_ * sizeof(R), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    p_ = static_cast<R*>(p);
  }
  ~SharedArray() { munmap(p_, n_ * sizeof(R)); }
  SharedArray(const SharedArray&) = delete;
  SharedArray& operator=(const SharedArray&) = delete;
  R* data() const noexcept { return p_; }

 private:
  std::size_t n_;
  R* p_;
};

template <class F>
void thread_parallel_for(std::size_t n, unsigned workers, F&& f) {
  std::vector<std::thread> ts;
  for (unsigned k = 0; k < workers; ++k)
    ts.emplace_back([&, k] {
      for (std::size_t i = n * k / workers; i < n * (k + 1) / workers; ++i) f(i);
    });
  for (auto& t : ts) t.join();
}

template <class R, class F>
std::vector<R> fork_per_task(std::size_t n, unsigned workers, F&& f) {
  SharedArray<R> out(n);
  std::size_t running = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (running == workers) {
      waitpid(-1, nullptr, 0);
      --running;
    }
    const pid_t pid = fork();
    if (pid == 0) {
      out.data()[i] = f(i);
      _exit(0);
    }
    ++running;
  }
  while (running--) waitpid(-1, nullptr, 0);
  return std::vector<R>(out.data(), out.data() + n);
}

template <class R, class F>
std::vector<R> fork_static_split(std::size_t n, unsigned workers, F&& f) {
  SharedArray<R> out(n);
  std::vector<pid_t> pids;
  for (unsigned k = 0; k < workers; ++k) {
    const pid_t pid = fork();
    if (pid == 0) {
      for (std::size_t i = n * k / workers; i < n * (k + 1) / workers; ++i) out.data()[i] = f(i);
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) waitpid(p, nullptr, 0);
  return std::vector<R>(out.data(), out.data() + n);
}

}  // namespace bench
