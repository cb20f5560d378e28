#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <sk/alloc/owner.hpp>

namespace sk::alloc {
namespace {

// Reads /proc/<pid>/stat into buf; returns the text after the ") " that ends
// the command name (which may itself contain spaces and parentheses).
const char* read_stat(pid_t pid, char* buf, std::size_t cap) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  const ssize_t n = ::read(fd, buf, cap - 1);
  ::close(fd);
  if (n <= 0) return nullptr;
  buf[n] = '\0';
  const char* close_paren = std::strrchr(buf, ')');
  if (!close_paren || close_paren[1] == '\0') return nullptr;
  return close_paren + 2;  // points at the state letter (field 3)
}

// Field 22 (starttime) counted from field 3 (state) is the 20th token.
std::uint32_t start_from_stat(const char* rest) noexcept {
  const char* p = rest;
  for (int field = 3; field < 22 && *p; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return 0;
    ++p;
  }
  return static_cast<std::uint32_t>(std::strtoull(p, nullptr, 10));
}

std::atomic<std::uint64_t> g_self{0};

void reset_self_after_fork() noexcept { g_self.store(0, std::memory_order_relaxed); }

[[maybe_unused]] const bool g_atfork_registered = [] {
  pthread_atfork(nullptr, nullptr, &reset_self_after_fork);
  return true;
}();

}  // namespace

std::uint32_t process_start_time(pid_t pid) noexcept {
  char buf[1024];
  const char* rest = read_stat(pid, buf, sizeof buf);
  return rest ? start_from_stat(rest) : 0;
}

OwnerId self_owner() noexcept {
  std::uint64_t w = g_self.load(std::memory_order_relaxed);
  if (w == 0) {
    const pid_t pid = ::getpid();
    OwnerId o{static_cast<std::uint32_t>(pid), process_start_time(pid)};
    w = o.pack();
    g_self.store(w, std::memory_order_relaxed);
  }
  return OwnerId::unpack(w);
}

bool is_alive(std::uint32_t pid, std::uint32_t start) noexcept {
  if (pid == 0) return false;
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  char buf[1024];
  const char* rest = read_stat(static_cast<pid_t>(pid), buf, sizeof buf);
  if (!rest) return false;
  if (rest[0] == 'Z' || rest[0] == 'X' || rest[0] == 'x') return false;  // zombie / dead
  if (start != 0 && start_from_stat(rest) != start) return false;        // pid was reused
  return true;
}

}  // namespace sk::alloc
