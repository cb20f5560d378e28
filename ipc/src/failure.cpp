#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>

#include <sk/ipc/describe_exception.hpp>
#include <sk/ipc/failure.hpp>

namespace sk::ipc {
namespace {

template <class T>
void put(std::vector<std::byte>& out, T v) {
  const auto at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}

void put_string(std::vector<std::byte>& out, const std::string& s) {
  put<std::uint32_t>(out, static_cast<std::uint32_t>(s.size()));
  const auto at = out.size();
  out.resize(at + s.size());
  std::memcpy(out.data() + at, s.data(), s.size());
}

struct Reader {
  std::span<const std::byte> in;
  std::size_t pos = 0;
  template <class T>
  T get() {
    T v;
    need(sizeof v);
    std::memcpy(&v, in.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::string get_string() {
    const auto n = get<std::uint32_t>();
    need(n);
    std::string s(reinterpret_cast<const char*>(in.data() + pos), n);
    pos += n;
    return s;
  }
  void need(std::size_t n) const {
    if (in.size() - pos < n)
      throw sk::Error("sk::ipc::decode_failure: truncated failure record (" + std::to_string(in.size()) +
                      " bytes); the worker died while reporting its failure");
  }
};

constexpr std::uint32_t kFailureMagic = 0x534b4641;  // "SKFA"

}  // namespace

void encode_failure(const FailureInfo& f, std::vector<std::byte>& out) {
  put<std::uint32_t>(out, kFailureMagic);
  put<std::uint8_t>(out, static_cast<std::uint8_t>(f.kind));
  put<std::uint8_t>(out, static_cast<std::uint8_t>(f.hook));
  put<std::uint64_t>(out, f.run);
  put<std::int32_t>(out, f.signal);
  put<std::int32_t>(out, f.exit_code);
  put<std::int64_t>(out, f.limit_ms);
  put_string(out, f.type_name);
  put_string(out, f.what);
}

FailureInfo decode_failure(std::span<const std::byte> in) {
  Reader r{in};
  if (r.get<std::uint32_t>() != kFailureMagic)
    throw sk::Error("sk::ipc::decode_failure: not a failure record (bad magic)");
  FailureInfo f;
  const auto kind = r.get<std::uint8_t>();
  const auto hook = r.get<std::uint8_t>();
  if (kind > 3 || hook >= kHookCount) throw sk::Error("sk::ipc::decode_failure: corrupt failure record");
  f.kind = static_cast<FailureInfo::Kind>(kind);
  f.hook = static_cast<HookId>(hook);
  f.run = r.get<std::uint64_t>();
  f.signal = r.get<std::int32_t>();
  f.exit_code = r.get<std::int32_t>();
  f.limit_ms = r.get<std::int64_t>();
  f.type_name = r.get_string();
  f.what = r.get_string();
  return f;
}

void capture_exception(FailureInfo& f) {
  describe_current_exception(f.type_name, f.what);  // what: "" unless a std::exception
  if (f.type_name.empty()) f.type_name = "unknown";
}

FailureInfo crash_failure(int wait_status, HookId hook, std::uint64_t run) {
  if (WIFSIGNALED(wait_status)) return crash_failure_of(WTERMSIG(wait_status), 0, hook, run);
  if (WIFEXITED(wait_status)) return crash_failure_of(0, WEXITSTATUS(wait_status), hook, run);
  FailureInfo f = crash_failure_of(0, 0, hook, run);
  f.what = "worker ended abnormally";
  return f;
}

FailureInfo crash_failure_of(int signal, int exit_code, HookId hook, std::uint64_t run) {
  FailureInfo f;
  f.kind = FailureInfo::Kind::crash;
  f.hook = hook;
  f.run = run;
  f.signal = signal;
  f.exit_code = exit_code;
  if (signal != 0) {
    const char* d = strsignal(signal);
    f.what = std::string("worker killed by signal ") + std::to_string(signal) + " (" + (d ? d : "?") + ")";
  } else {
    f.what = "worker exited with status " + std::to_string(exit_code) + " without delivering an outcome";
  }
  return f;
}

}  // namespace sk::ipc
