#pragma once
// Competitor: pipe(2). One write(2) per message; the reader takes whatever is
// available (up to its buffer) per read(2).
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <stdexcept>

namespace bench {

class PipeFd {
 public:
  PipeFd() {
    if (::pipe(fd_) != 0) throw std::runtime_error("pipe failed");
  }
  ~PipeFd() {
    ::close(fd_[0]);
    ::close(fd_[1]);
  }
  PipeFd(const PipeFd&) = delete;
  PipeFd& operator=(const PipeFd&) = delete;

  // Writes all n bytes (one syscall unless the pipe is full).
  void send(const void* p, std::size_t n) const { write_all(fd_[1], p, n); }
  // Reads what is available (blocks until at least one byte).
  std::size_t recv_some(void* p, std::size_t cap) const { return read_some(fd_[0], p, cap); }
  // Reads exactly n bytes.
  void recv_exact(void* p, std::size_t n) const { read_exact(fd_[0], p, n); }

  static void write_all(int fd, const void* p, std::size_t n) {
    auto* c = static_cast<const char*>(p);
    while (n > 0) {
      const ssize_t w = ::write(fd, c, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error("write failed");
      }
      c += w;
      n -= static_cast<std::size_t>(w);
    }
  }
  static std::size_t read_some(int fd, void* p, std::size_t cap) {
    for (;;) {
      const ssize_t r = ::read(fd, p, cap);
      if (r > 0) return static_cast<std::size_t>(r);
      if (r < 0 && errno == EINTR) continue;
      throw std::runtime_error("read failed or peer closed");
    }
  }
  static void read_exact(int fd, void* p, std::size_t n) {
    auto* c = static_cast<char*>(p);
    while (n > 0) {
      const std::size_t r = read_some(fd, c, n);
      c += r;
      n -= r;
    }
  }

 private:
  int fd_[2] = {-1, -1};
};

}  // namespace bench
