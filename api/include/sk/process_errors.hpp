#pragma once
// Errors of sk::Skprocess.
//
//   sk::Error
//   |- ProcessError              a process run failed (delivered by get())
//   |  |- PreRunError, RunError, PostRunError   a hook threw; lives exhausted
//   |  |- OnFinishError, ResultError            onfinish/result threw (no lives cost)
//   |  |- ProcessTimeoutError                   a hook overran its timeout
//   |  |- ProcessCrashed                        the worker died (signal, abort, exit)
//   |  `- ProcessKilled                         get() after kill()
//   `- ProcessUsageError         the API was misused (no process ran)
//      |- ProcessAlreadyStarted, ProcessNotStarted, ProcessChannelClosed
//      `- ProcessConfigError
//
// Every ProcessError carries the hook, the run index and the original
// exception's type name and what(), across the process boundary.
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include <sk/core/error.hpp>

namespace sk::ipc {
struct FailureInfo;
}

namespace sk {

enum class ProcessHook : std::uint8_t { none = 0, prerun, run, postrun, onfinish, result, error };
const char* to_string(ProcessHook h) noexcept;

class ProcessError : public Error {
 public:
  ProcessError(const std::string& message, ProcessHook hook, std::uint64_t current_run, std::string original_type = {},
               std::string original_what = {});
  ProcessHook hook() const noexcept { return hook_; }
  std::uint64_t current_run() const noexcept { return run_; }
  // The exception thrown by the hook: its dynamic type (demangled) and what().
  const std::string& original_type() const noexcept { return original_type_; }
  const std::string& original_what() const noexcept { return original_what_; }
  // Throws this exception as its dynamic type (used by the default error()).
  [[noreturn]] virtual void rethrow() const;

 private:
  ProcessHook hook_;
  std::uint64_t run_;
  std::string original_type_;
  std::string original_what_;
};

#define SK_PROCESS_HOOK_ERROR(Name)                                                           \
  class Name : public ProcessError {                                                          \
   public:                                                                                    \
    Name(std::uint64_t current_run, std::string original_type, std::string original_what);    \
    [[noreturn]] void rethrow() const override { throw *this; }                               \
  };
SK_PROCESS_HOOK_ERROR(PreRunError)
SK_PROCESS_HOOK_ERROR(RunError)
SK_PROCESS_HOOK_ERROR(PostRunError)
SK_PROCESS_HOOK_ERROR(OnFinishError)
SK_PROCESS_HOOK_ERROR(ResultError)
#undef SK_PROCESS_HOOK_ERROR

class ProcessTimeoutError : public ProcessError {
 public:
  ProcessTimeoutError(ProcessHook hook, std::chrono::milliseconds limit, std::uint64_t current_run);
  std::chrono::milliseconds limit() const noexcept { return limit_; }
  [[noreturn]] void rethrow() const override { throw *this; }

 private:
  std::chrono::milliseconds limit_;
};

class ProcessCrashed : public ProcessError {
 public:
  // signal 0: the worker exited (status exit_code) without delivering an outcome.
  ProcessCrashed(ProcessHook hook, std::uint64_t current_run, int signal, int exit_code, const std::string& detail);
  int signal() const noexcept { return signal_; }
  int exit_code() const noexcept { return exit_code_; }
  [[noreturn]] void rethrow() const override { throw *this; }

 private:
  int signal_;
  int exit_code_;
};

class ProcessKilled : public ProcessError {
 public:
  ProcessKilled(ProcessHook hook, std::uint64_t current_run);
  [[noreturn]] void rethrow() const override { throw *this; }
};

class ProcessUsageError : public Error {
 public:
  using Error::Error;
};
class ProcessAlreadyStarted : public ProcessUsageError {
 public:
  using ProcessUsageError::ProcessUsageError;
};
class ProcessNotStarted : public ProcessUsageError {
 public:
  using ProcessUsageError::ProcessUsageError;
};
class ProcessChannelClosed : public ProcessUsageError {
 public:
  using ProcessUsageError::ProcessUsageError;
};
class ProcessConfigError : public ProcessUsageError {
 public:
  using ProcessUsageError::ProcessUsageError;
};

namespace process_detail {
// The typed ProcessError that `f` describes, as an exception_ptr.
std::exception_ptr make_failure(const ipc::FailureInfo& f);
[[noreturn]] void throw_failure(const ipc::FailureInfo& f);
}  // namespace process_detail

}  // namespace sk
