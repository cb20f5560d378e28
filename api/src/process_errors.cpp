#include <string>

#include <sk/ipc/failure.hpp>
#include <sk/process_errors.hpp>

namespace sk {
namespace {

std::string hook_message(const char* hook, std::uint64_t run, const std::string& type, const std::string& what) {
  std::string m = std::string("Error in ") + hook + " on run " + std::to_string(run);
  if (!type.empty()) m += ": " + type;
  if (!what.empty()) m += ": " + what;
  return m;
}

ProcessHook to_hook(ipc::HookId h) noexcept {
  switch (h) {
    case ipc::HookId::prerun: return ProcessHook::prerun;
    case ipc::HookId::run: return ProcessHook::run;
    case ipc::HookId::postrun: return ProcessHook::postrun;
    case ipc::HookId::onfinish: return ProcessHook::onfinish;
    case ipc::HookId::result: return ProcessHook::result;
    case ipc::HookId::error: return ProcessHook::error;
    default: return ProcessHook::none;
  }
}

}  // namespace

const char* to_string(ProcessHook h) noexcept {
  switch (h) {
    case ProcessHook::prerun: return "prerun";
    case ProcessHook::run: return "run";
    case ProcessHook::postrun: return "postrun";
    case ProcessHook::onfinish: return "onfinish";
    case ProcessHook::result: return "result";
    case ProcessHook::error: return "error";
    case ProcessHook::none: break;
  }
  return "none";
}

ProcessError::ProcessError(const std::string& message, ProcessHook hook, std::uint64_t current_run,
                           std::string original_type, std::string original_what)
    : Error(message),
      hook_(hook),
      run_(current_run),
      original_type_(std::move(original_type)),
      original_what_(std::move(original_what)) {}

void ProcessError::rethrow() const { throw *this; }

// The strings are copied, not moved: the order in which the arguments are
// evaluated is unspecified, and a move could empty them before hook_message
// reads them (g++ did, leaving what() as "Error in run on run N").
#define SK_DEFINE_HOOK_ERROR(Name, hook)                                                            \
  Name::Name(std::uint64_t current_run, std::string original_type, std::string original_what)       \
      : ProcessError(hook_message(#hook, current_run, original_type, original_what), ProcessHook::hook, \
                     current_run, original_type, original_what) {}
SK_DEFINE_HOOK_ERROR(PreRunError, prerun)
SK_DEFINE_HOOK_ERROR(RunError, run)
SK_DEFINE_HOOK_ERROR(PostRunError, postrun)
SK_DEFINE_HOOK_ERROR(OnFinishError, onfinish)
SK_DEFINE_HOOK_ERROR(ResultError, result)
#undef SK_DEFINE_HOOK_ERROR

ProcessTimeoutError::ProcessTimeoutError(ProcessHook hook, std::chrono::milliseconds limit, std::uint64_t current_run)
    : ProcessError(std::string("Timeout in ") + to_string(hook) + " after " + std::to_string(limit.count()) +
                       " ms on run " + std::to_string(current_run) +
                       " (the supervisor killed the worker; raise config.timeouts." + to_string(hook) +
                       " if the hook needs longer)",
                   hook, current_run, "sk::ProcessTimeoutError", ""),
      limit_(limit) {}

ProcessCrashed::ProcessCrashed(ProcessHook hook, std::uint64_t current_run, int signal, int exit_code,
                               const std::string& detail)
    : ProcessError(std::string("Process crashed in ") + to_string(hook) + " on run " + std::to_string(current_run) +
                       ": " + detail,
                   hook, current_run, "sk::ProcessCrashed", detail),
      signal_(signal),
      exit_code_(exit_code) {}

ProcessKilled::ProcessKilled(ProcessHook hook, std::uint64_t current_run)
    : ProcessError("Process was killed with kill() (on run " + std::to_string(current_run) +
                       "); it has no result. Use stop() to end it gracefully with a result.",
                   hook, current_run, "sk::ProcessKilled", "") {}

namespace process_detail {

std::exception_ptr make_failure(const ipc::FailureInfo& f) {
  const ProcessHook h = to_hook(f.hook);
  using K = ipc::FailureInfo::Kind;
  switch (f.kind) {
    case K::timeout:
      return std::make_exception_ptr(ProcessTimeoutError(h, std::chrono::milliseconds(f.limit_ms), f.run));
    case K::crash:
      return std::make_exception_ptr(ProcessCrashed(h, f.run, f.signal, f.exit_code, f.what));
    case K::killed:
      return std::make_exception_ptr(ProcessKilled(h, f.run));
    case K::exception:
      break;
  }
  switch (h) {
    case ProcessHook::prerun: return std::make_exception_ptr(PreRunError(f.run, f.type_name, f.what));
    case ProcessHook::run: return std::make_exception_ptr(RunError(f.run, f.type_name, f.what));
    case ProcessHook::postrun: return std::make_exception_ptr(PostRunError(f.run, f.type_name, f.what));
    case ProcessHook::onfinish: return std::make_exception_ptr(OnFinishError(f.run, f.type_name, f.what));
    case ProcessHook::result: return std::make_exception_ptr(ResultError(f.run, f.type_name, f.what));
    default: break;
  }
  return std::make_exception_ptr(
      ProcessError(hook_message(to_string(h), f.run, f.type_name, f.what), h, f.run, f.type_name, f.what));
}

void throw_failure(const ipc::FailureInfo& f) { std::rethrow_exception(make_failure(f)); }

}  // namespace process_detail
}  // namespace sk
