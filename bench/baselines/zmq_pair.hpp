#pragma once
// Competitor: ZeroMQ (libzmq 4.3, Debian libzmq3-dev), a PAIR socket over
// ipc:// (a Unix domain socket under the hood; zmq copies each message into
// its own buffers and moves it through its I/O thread). Each process makes
// its own context after fork (zmq contexts must not cross a fork): the
// benchmark process binds, the forked peer connects.
#include <unistd.h>
#include <zmq.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace bench {

class ZmqPair {
 public:
  // An ipc:// endpoint name unique to this benchmark process and `tag`.
  static std::string endpoint(const std::string& tag) {
    return "ipc:///tmp/sk_bench_zmq_" + std::to_string(::getpid()) + "_" + tag;
  }
  ZmqPair(const std::string& endpoint, bool bind) : endpoint_(endpoint), bind_(bind) {
    ctx_ = zmq_ctx_new();
    sock_ = zmq_socket(ctx_, ZMQ_PAIR);
    if (ctx_ == nullptr || sock_ == nullptr) throw std::runtime_error("zmq: cannot create a PAIR socket");
    const int hwm = 100000;  // messages queued per direction before send blocks
    zmq_setsockopt(sock_, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sock_, ZMQ_RCVHWM, &hwm, sizeof hwm);
    const int rc = bind ? zmq_bind(sock_, endpoint.c_str()) : zmq_connect(sock_, endpoint.c_str());
    if (rc != 0) throw std::runtime_error("zmq: bind/connect " + endpoint + ": " + zmq_strerror(zmq_errno()));
  }
  ~ZmqPair() {
    const int linger = 0;
    zmq_setsockopt(sock_, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(sock_);
    zmq_ctx_term(ctx_);
    if (bind_) ::unlink(endpoint_.substr(6).c_str());  // strip "ipc://"
  }
  ZmqPair(const ZmqPair&) = delete;
  ZmqPair& operator=(const ZmqPair&) = delete;

  void send(const void* p, std::size_t n) {
    while (zmq_send(sock_, p, n, 0) < 0)
      if (zmq_errno() != EINTR) throw std::runtime_error("zmq_send failed");
  }
  // Receives one message (truncated to cap bytes); returns its size.
  std::size_t recv(void* p, std::size_t cap) {
    int n;
    while ((n = zmq_recv(sock_, p, cap, 0)) < 0)
      if (zmq_errno() != EINTR) throw std::runtime_error("zmq_recv failed");
    return static_cast<std::size_t>(n);
  }

 private:
  std::string endpoint_;
  bool bind_;
  void* ctx_ = nullptr;
  void* sock_ = nullptr;
};

}  // namespace bench
