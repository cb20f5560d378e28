#pragma once
// Built-in resources with an obvious reconnect, for sk::Live<>:
//   sk::PathFile   a file opened by path; in a child it is reopened by path and
//                  positioned where the parent's was at fork time, so the two
//                  processes no longer share (and fight over) one file offset.
//   sk::TcpClient  a TCP client socket to host:port; in a child a fresh
//                  connection is made, so the two never interleave bytes on one stream.
#include <cstdint>
#include <optional>
#include <string>

#include <sk/autoreconnect.hpp>

namespace sk {

class PathFile {
 public:
  PathFile() = default;
  // open(2) with flags/mode; throws ReconnectError-free sk::Error subclass on failure.
  PathFile(std::string path, int flags, int mode = 0600);
  PathFile(PathFile&&) noexcept;
  PathFile& operator=(PathFile&&) noexcept;
  PathFile(const PathFile&) = delete;
  PathFile& operator=(const PathFile&) = delete;
  ~PathFile();

  int fd() const noexcept { return fd_; }
  const std::string& path() const noexcept { return path_; }
  std::size_t write(const void* data, std::size_t n);  // whole write or throws
  std::size_t read(void* data, std::size_t n);          // bytes read, 0 at end
  void reopen_in_child();

 private:
  std::string path_;
  int flags_ = 0;
  int mode_ = 0;
  int fd_ = -1;
};

class TcpClient {
 public:
  TcpClient() = default;
  TcpClient(std::string host, std::uint16_t port);  // connects; throws on failure
  TcpClient(TcpClient&&) noexcept;
  TcpClient& operator=(TcpClient&&) noexcept;
  TcpClient(const TcpClient&) = delete;
  TcpClient& operator=(const TcpClient&) = delete;
  ~TcpClient();

  int fd() const noexcept { return fd_; }
  std::size_t send(const void* data, std::size_t n);  // whole send or throws
  std::size_t recv(void* data, std::size_t n);        // bytes received, 0 on peer close
  void reconnect_in_child();

 private:
  void connect_now();
  std::string host_;
  std::uint16_t port_ = 0;
  int fd_ = -1;
};

// A file or socket operation failed.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace sk

template <>
struct sk::reconnect_traits<sk::PathFile> {
  static constexpr std::string_view type_name = "sk::PathFile";
  static void reconnect(sk::PathFile& f, const std::optional<std::string>&) { f.reopen_in_child(); }
};

template <>
struct sk::reconnect_traits<sk::TcpClient> {
  static constexpr std::string_view type_name = "sk::TcpClient";
  static void reconnect(sk::TcpClient& c, const std::optional<std::string>&) { c.reconnect_in_child(); }
};
