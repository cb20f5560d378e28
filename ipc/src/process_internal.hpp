#pragma once
// Internals shared by the process machinery sources (not installed): fork
// primitives, outcome frames, the worker engine entry and the supervisor loop.
// See sk/ipc/supervisor.hpp for the design.
#include <pthread.h>
#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include <sk/ipc/supervisor.hpp>

namespace sk::ipc::detail {

int pidfd_open(pid_t pid) noexcept;
std::size_t round_up(std::size_t n, std::size_t a) noexcept;
bool on_main_thread() noexcept;

// Outcome frames on the outcome pipe: {magic, kind, length} + payload.
bool write_outcome(int fd, bool ok, std::span<const std::byte> payload) noexcept;
bool write_failure(int fd, const FailureInfo& f) noexcept;
// The last complete frame wins; false if there is none.
bool parse_outcome(const std::vector<std::byte>& bytes, Outcome& out);



enum class WorkerMode { lifecycle, error_only };

// Forks a worker from the calling process (the supervisor, or the parent in
// direct mode) through ipc::fork_process, keeping only out_fd of the private
// descriptors; the worker runs the engine and exits. Returns its pid (or -1).
// In the child, in_worker_flag (the handle's copy) is set to true.
pid_t fork_worker(ControlBlock& cb, const ProcessSpec& spec, WorkerBody& body, int out_fd, WorkerMode mode,
                  const FailureInfo& pending, bool deathsig, bool& in_worker_flag);

// The supervisor process: forks workers until one delivers an outcome.
[[noreturn]] void supervisor_main(ControlBlock& cb, const ProcessSpec& spec, WorkerBody& body, int out_fd,
                                  pid_t parent, bool& in_worker_flag);

}  // namespace sk::ipc::detail
