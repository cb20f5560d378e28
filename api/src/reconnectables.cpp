#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <sk/reconnectables.hpp>

namespace sk {
namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

PathFile::PathFile(std::string path, int flags, int mode) : path_(std::move(path)), flags_(flags), mode_(mode) {
  fd_ = ::open(path_.c_str(), flags_ | O_CLOEXEC, mode_);
  if (fd_ < 0) throw IoError("sk::PathFile: cannot open '" + path_ + "': " + errno_text());
}

PathFile::PathFile(PathFile&& o) noexcept : path_(std::move(o.path_)), flags_(o.flags_), mode_(o.mode_), fd_(o.fd_) {
  o.fd_ = -1;
}

PathFile& PathFile::operator=(PathFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    flags_ = o.flags_;
    mode_ = o.mode_;
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

PathFile::~PathFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::size_t PathFile::write(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t w = ::write(fd_, p + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError("sk::PathFile: write to '" + path_ + "' failed: " + errno_text());
    }
    done += static_cast<std::size_t>(w);
  }
  return done;
}

std::size_t PathFile::read(void* data, std::size_t n) {
  for (;;) {
    const ssize_t r = ::read(fd_, data, n);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno != EINTR) throw IoError("sk::PathFile: read from '" + path_ + "' failed: " + errno_text());
  }
}

void PathFile::reopen_in_child() {
  off_t pos = 0;
  if (fd_ >= 0) {
    pos = ::lseek(fd_, 0, SEEK_CUR);  // the parent's position at fork time (shared description)
    ::close(fd_);                     // drops only this process's reference
    fd_ = -1;
  }
  // O_CREAT|O_EXCL|O_TRUNC made sense once, in the parent; the child reopens what exists.
  const int flags = flags_ & ~(O_CREAT | O_EXCL | O_TRUNC);
  fd_ = ::open(path_.c_str(), flags | O_CLOEXEC, mode_);
  if (fd_ < 0) throw IoError("sk::PathFile: cannot reopen '" + path_ + "' in the child: " + errno_text());
  if (pos > 0 && !(flags & O_APPEND)) ::lseek(fd_, pos, SEEK_SET);
}

TcpClient::TcpClient(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) { connect_now(); }

TcpClient::TcpClient(TcpClient&& o) noexcept : host_(std::move(o.host_)), port_(o.port_), fd_(o.fd_) { o.fd_ = -1; }

TcpClient& TcpClient::operator=(TcpClient&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    host_ = std::move(o.host_);
    port_ = o.port_;
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

TcpClient::~TcpClient() {
  if (fd_ >= 0) ::close(fd_);
}

void TcpClient::connect_now() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(port_);
  if (const int rc = ::getaddrinfo(host_.c_str(), port.c_str(), &hints, &res); rc != 0) {
    throw IoError("sk::TcpClient: cannot resolve '" + host_ + "': " + gai_strerror(rc));
  }
  std::string last = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      fd_ = fd;
      ::freeaddrinfo(res);
      return;
    }
    last = errno_text();
    ::close(fd);
  }
  ::freeaddrinfo(res);
  throw IoError("sk::TcpClient: cannot connect to " + host_ + ":" + port + ": " + last);
}

std::size_t TcpClient::send(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t w = ::send(fd_, p + done, n - done, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IoError("sk::TcpClient: send to " + host_ + " failed: " + errno_text());
    }
    done += static_cast<std::size_t>(w);
  }
  return done;
}

std::size_t TcpClient::recv(void* data, std::size_t n) {
  for (;;) {
    const ssize_t r = ::recv(fd_, data, n, 0);
    if (r >= 0) return static_cast<std::size_t>(r);
    if (errno != EINTR) throw IoError("sk::TcpClient: recv from " + host_ + " failed: " + errno_text());
  }
}

void TcpClient::reconnect_in_child() {
  if (fd_ >= 0) {
    ::close(fd_);  // only this process's reference: the parent's stream is untouched
    fd_ = -1;
  }
  connect_now();
}

}  // namespace sk
