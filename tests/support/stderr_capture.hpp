#pragma once
// Points this process's stderr (fd 2) elsewhere for a scope: at a descriptor
// (StderrTo, e.g. a pty's slave side) or at a temporary file whose text the
// test reads back (CaptureStderr).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sktest {

class StderrTo {
 public:
  explicit StderrTo(int fd) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    ::dup2(fd, STDERR_FILENO);
  }
  ~StderrTo() { restore(); }
  StderrTo(const StderrTo&) = delete;
  StderrTo& operator=(const StderrTo&) = delete;
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }

 private:
  int saved_ = -1;
};

// fd 2 goes to an unlinked temporary file until text() (or the end of scope).
class CaptureStderr {
 public:
  CaptureStderr() : fd_(temp_fd()), to_(fd_) {}
  ~CaptureStderr() {
    to_.restore();
    ::close(fd_);
  }
  CaptureStderr(const CaptureStderr&) = delete;
  CaptureStderr& operator=(const CaptureStderr&) = delete;
  // Restores fd 2 and returns what was written to it meanwhile.
  std::string text() {
    to_.restore();
    std::string out;
    char buf[4096];
    for (off_t at = 0;;) {
      const ssize_t n = ::pread(fd_, buf, sizeof buf, at);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
      at += n;
    }
    return out;
  }

 private:
  static int temp_fd() {
    char path[] = "/tmp/sk-stderr-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd >= 0) ::unlink(path);
    return fd;
  }
  int fd_;
  StderrTo to_;
};

}  // namespace sktest
