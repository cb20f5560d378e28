#pragma once
// Benchmark harness (not a competitor): anonymous shared memory and a forked
// peer process that runs a function until it is killed. Both sides of every
// two-process benchmark in bench/ use it, so all competitors pay the same
// set-up and acknowledgement costs.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <sk/core/futex.hpp>

namespace bench {

// MAP_SHARED|MAP_ANONYMOUS memory, inherited by fork(); unmapped on destruction.
class SharedMemory {
 public:
  explicit SharedMemory(std::size_t bytes) : bytes_(bytes) {
    mem_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem_ == MAP_FAILED) throw std::runtime_error("mmap failed");
  }
  ~SharedMemory() { munmap(mem_, bytes_); }
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  void* get() const noexcept { return mem_; }
  template <class T, class... A>
  T* make(std::size_t offset, A&&... a) {
    return new (static_cast<std::byte*>(mem_) + offset) T(std::forward<A>(a)...);
  }

 private:
  std::size_t bytes_;
  void* mem_;
};

// Round acknowledgements from the peer: it bumps `done` after each round.
struct Acks {
  std::atomic<std::uint32_t> done{0};
  sk::core::WaitPoint wp;

  void ack() noexcept {
    // SYNC POINT: release publishes everything the peer did in the round;
    // notify_all's fence pairs with the waiter's registration.
    done.fetch_add(1, std::memory_order_release);
    wp.notify_all();
  }
  void wait_for_round(std::uint32_t n) noexcept {
    // SYNC POINT: acquire pairs with ack()'s release.
    while (!wp.wait_for([&] { return done.load(std::memory_order_acquire) >= n; }, std::chrono::seconds(30))) {
    }
  }
};

// Forks a peer that runs fn() (which should loop forever); the destructor
// SIGKILLs and reaps it.
class ForkedPeer {
 public:
  template <class Fn>
  explicit ForkedPeer(Fn&& fn) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      fn();
      _exit(0);
    }
  }
  ~ForkedPeer() {
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
  }
  ForkedPeer(const ForkedPeer&) = delete;
  ForkedPeer& operator=(const ForkedPeer&) = delete;
  pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = -1;
};

// Replaces the calling (forked) process with a fresh copy of this program,
// run with `args` (for libraries that must not be used across fork()).
[[noreturn]] inline void exec_self(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string self = "bench_peer";
  argv.push_back(self.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv("/proc/self/exe", argv.data());
  _exit(127);
}

// Seconds elapsed since t0, for State::SetIterationTime.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace bench
