#pragma once
// FailureInfo: why a process run failed, in a form that crosses process
// boundaries (plain fields, a small self-describing byte encoding). The api
// layer turns it into the typed exceptions of sk/process_errors.hpp.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <sk/core/error.hpp>
#include <sk/ipc/lifecycle_state.hpp>

namespace sk::ipc {

struct FailureInfo {
  enum class Kind : std::uint8_t {
    exception = 0,  // a hook threw
    timeout = 1,    // a hook overran its timeout; the supervisor killed the worker
    crash = 2,      // the worker died (fatal signal, abort, exit without an outcome)
    killed = 3,     // kill() from the parent
  };
  Kind kind = Kind::exception;
  HookId hook = HookId::none;
  std::uint64_t run = 0;           // run index the failure happened in
  std::string type_name;           // dynamic type of the original exception (demangled)
  std::string what;                // its what()
  std::int32_t signal = 0;         // crash: the fatal signal (0 = exited without an outcome)
  std::int32_t exit_code = 0;      // crash without a signal: the exit status
  std::int64_t limit_ms = 0;       // timeout: the hook's limit

  friend bool operator==(const FailureInfo&, const FailureInfo&) = default;
};

// Encoding: little endian fixed fields then two u32-length-prefixed strings.
void encode_failure(const FailureInfo& f, std::vector<std::byte>& out);
// Throws sk::Error on truncated or malformed input.
FailureInfo decode_failure(std::span<const std::byte> in);

// The exception in flight (call inside a catch block): demangled dynamic type
// name and what() (empty what() for non-std exceptions).
void capture_exception(FailureInfo& f);

// Failure describing a dead worker from its waitpid status.
FailureInfo crash_failure(int wait_status, HookId hook, std::uint64_t run);
// The same from its fatal signal (0 = none) and exit code.
FailureInfo crash_failure_of(int signal, int exit_code, HookId hook, std::uint64_t run);

}  // namespace sk::ipc
