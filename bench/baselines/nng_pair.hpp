#pragma once
// Competitor: nng (1.5, Debian libnng-dev), a pair1 socket over ipc:// (a
// Unix domain socket; nng copies each message into an nng_msg and moves it
// through its own threads). Each process opens its socket after fork: the
// benchmark process listens, the forked peer dials (retrying in the
// background until the listener is there).
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>
#include <unistd.h>

#include <cstddef>
#include <stdexcept>
#include <string>

namespace bench {

class NngPair {
 public:
  static std::string endpoint(const std::string& tag) {
    return "ipc:///tmp/sk_bench_nng_" + std::to_string(::getpid()) + "_" + tag;
  }
  NngPair(const std::string& endpoint, bool listen) : endpoint_(endpoint), listen_(listen) {
    check(nng_pair1_open(&sock_), "nng_pair1_open");
    check(nng_socket_set_int(sock_, NNG_OPT_SENDBUF, 1024), "send buffer");
    check(nng_socket_set_int(sock_, NNG_OPT_RECVBUF, 1024), "receive buffer");
    check(nng_socket_set_size(sock_, NNG_OPT_RECVMAXSZ, 0), "max message size");  // no limit
    if (listen) {
      check(nng_listen(sock_, endpoint.c_str(), nullptr, 0), "nng_listen " + endpoint);
    } else {
      check(nng_dial(sock_, endpoint.c_str(), nullptr, NNG_FLAG_NONBLOCK), "nng_dial " + endpoint);
    }
  }
  ~NngPair() {
    nng_close(sock_);
    if (listen_) ::unlink(endpoint_.substr(6).c_str());  // strip "ipc://"
  }
  NngPair(const NngPair&) = delete;
  NngPair& operator=(const NngPair&) = delete;

  void send(const void* p, std::size_t n) { check(nng_send(sock_, const_cast<void*>(p), n, 0), "nng_send"); }
  std::size_t recv(void* p, std::size_t cap) {
    std::size_t n = cap;
    check(nng_recv(sock_, p, &n, 0), "nng_recv");
    return n;
  }

 private:
  static void check(int rc, const std::string& what) {
    if (rc != 0) throw std::runtime_error("nng: " + what + ": " + nng_strerror(rc));
  }
  std::string endpoint_;
  bool listen_;
  nng_socket sock_ = NNG_SOCKET_INITIALIZER;
};

}  // namespace bench
