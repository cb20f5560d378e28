// Outcome frames on a Skprocess's outcome pipe, shared by the parent-side
// handle, the supervisor and the worker engine, and small process helpers.
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <new>
#include <string>

#include <sk/ipc/fork.hpp>

#include "process_internal.hpp"

namespace sk::ipc::detail {

namespace {

constexpr std::uint32_t kFrameMagic = 0x534b4f43;  // "SKOC"
struct FrameHeader {
  std::uint32_t magic;
  std::uint32_t kind;  // 0 = result, 1 = failure
  std::uint64_t length;
};

}  // namespace

int pidfd_open(pid_t pid) noexcept { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::size_t round_up(std::size_t n, std::size_t a) noexcept { return (n + a - 1) / a * a; }

namespace {
bool write_all(int fd, const void* p, std::size_t n) noexcept {
  const auto* b = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd, b, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    b += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

}  // namespace

// Writes one outcome frame. SIGPIPE is blocked so that a parent that closed
// its end (it is going away) gives EPIPE instead of killing us.
bool write_outcome(int fd, bool ok, std::span<const std::byte> payload) noexcept {
  sigset_t pipe_only, old;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  const FrameHeader h{kFrameMagic, ok ? 0u : 1u, payload.size()};
  // Small outcomes go out in one write(), atomic up to PIPE_BUF.
  alignas(8) std::byte small[PIPE_BUF];
  if (payload.size() <= sizeof small - sizeof h) {
    std::memcpy(small, &h, sizeof h);
    if (!payload.empty()) std::memcpy(small + sizeof h, payload.data(), payload.size());
    return write_all(fd, small, sizeof h + payload.size());
  }
  return write_all(fd, &h, sizeof h) && write_all(fd, payload.data(), payload.size());
}

bool write_failure(int fd, const FailureInfo& f) noexcept {
  try {
    std::vector<std::byte> bytes;
    encode_failure(f, bytes);
    return write_outcome(fd, false, bytes);
  } catch (...) {
    return false;
  }
}

// Parses the frames read from the outcome pipe; the last complete one wins.
bool parse_outcome(const std::vector<std::byte>& bytes, Outcome& out) {
  std::size_t pos = 0;
  bool found = false;
  while (bytes.size() - pos >= sizeof(FrameHeader)) {
    FrameHeader h{};
    std::memcpy(&h, bytes.data() + pos, sizeof h);
    if (h.magic != kFrameMagic || h.kind > 1 || h.length > bytes.size() - pos - sizeof h) break;
    const std::span<const std::byte> payload(bytes.data() + pos + sizeof h, static_cast<std::size_t>(h.length));
    if (h.kind == 0) {
      out.ok = true;
      out.result.assign(payload.begin(), payload.end());
    } else {
      try {
        out.failure = decode_failure(payload);
        out.ok = false;
      } catch (const sk::Error&) {
        break;
      }
    }
    found = true;
    pos += sizeof h + static_cast<std::size_t>(h.length);
  }
  return found;
}

bool on_main_thread() noexcept { return ::gettid() == ::getpid(); }

}  // namespace sk::ipc::detail
