#pragma once
// Worker side of the Pool runtime (not installed): the chunk loop and the
// main functions of fork-mode and persistent workers.
#include <sys/types.h>

#include <cstdint>

#include <sk/ipc/internal/pool/run.hpp>

namespace sk::ipc::pool {

// Fork mode: runs the call's chunks, then exits (flushing stdio).
[[noreturn]] void fork_worker_main(RunView v, std::uint32_t slot, std::uint32_t tag, const ItemBody& body,
                                   bool sweep);

// Persistent mode: parks between jobs, runs each job published after
// `seen` (or the one in flight, when join_current), exits at shutdown or
// when `parent` is gone.
[[noreturn]] void persistent_worker_main(RunView v, std::uint32_t slot, std::uint32_t tag, std::uint32_t seen,
                                         bool join_current, pid_t parent);

}  // namespace sk::ipc::pool
