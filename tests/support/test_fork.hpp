#pragma once
// The tests' fork. Tests that link the ipc layer create processes through the
// library's one fork primitive (sk::ipc::fork_process: the fork lock, private
// descriptors closed in the child, stdio flushed first), like the library
// itself; core_* and alloc_* tests link only their own layer, which knows
// nothing of processes, so they flush stdio and call fork() directly.
#include <sys/types.h>
#include <unistd.h>

#include <cstdio>

#if __has_include(<sk/ipc/fork.hpp>)
#include <sk/ipc/fork.hpp>
#endif

namespace sktest {

inline pid_t fork() {
#if __has_include(<sk/ipc/fork.hpp>)
  return sk::ipc::fork_process({.die_with_parent = false});
#else
  std::fflush(nullptr);
  return ::fork();
#endif
}

}  // namespace sktest
