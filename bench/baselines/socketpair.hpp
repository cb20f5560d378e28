#pragma once
// Competitor: an AF_UNIX SOCK_STREAM socketpair (full duplex). One send per
// message; readers take what is available.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <stdexcept>

#include "pipe_fd.hpp"

namespace bench {

class SocketPair {
 public:
  SocketPair() {
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fd_) != 0) throw std::runtime_error("socketpair failed");
  }
  ~SocketPair() {
    ::close(fd_[0]);
    ::close(fd_[1]);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;

  // Side 0 and side 1 each send to / receive from the other.
  void send(int side, const void* p, std::size_t n) const { PipeFd::write_all(fd_[side], p, n); }
  std::size_t recv_some(int side, void* p, std::size_t cap) const { return PipeFd::read_some(fd_[side], p, cap); }
  void recv_exact(int side, void* p, std::size_t n) const { PipeFd::read_exact(fd_[side], p, n); }

 private:
  int fd_[2] = {-1, -1};
};

}  // namespace bench
