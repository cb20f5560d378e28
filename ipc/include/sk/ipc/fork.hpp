#pragma once
// The one fork primitive and the one way a forked child ends, with the stdio
// rules every process this library starts follows:
//   - before fork, the parent flushes its stdio (C streams and std::cout,
//     std::cerr, std::clog), so a child never writes again what the parent had
//     buffered (`./prog | cat` would show those lines twice);
//   - a child ends with exit_child(), which flushes what the child wrote and
//     then _exit()s (no atexit handlers, no static destructors of the parent's
//     objects), so a worker's printf reaches a pipe or a file.
// A child killed by a signal loses what was still in its stdio buffers: that
// is any output after its last newline on a terminal, or after its last flush
// (sk::ipc::flush_stdio, fflush, std::endl) on a pipe or a file.
#include <sys/types.h>

namespace sk::ipc {

// fflush(nullptr) plus std::cout/cerr/clog.flush().
void flush_stdio() noexcept;
// flush_stdio(), then fork(). Returns what fork() returns.
pid_t fork_process() noexcept;
// flush_stdio(), then _exit(code).
[[noreturn]] void exit_child(int code) noexcept;

}  // namespace sk::ipc
