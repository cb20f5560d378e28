#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

#include <sk/ipc/remote_error.hpp>

namespace sk::ser {
namespace {

std::string demangle(const char* mangled) {
  if (mangled == nullptr) return "<unknown type>";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

}  // namespace

RemoteError capture_current_exception() {
  RemoteError r;
  const std::exception_ptr ep = std::current_exception();
  if (!ep) {
    r.type_name = "<no exception>";
    return r;
  }
  const std::type_info* ti = abi::__cxa_current_exception_type();
  r.type_name = ti ? demangle(ti->name()) : "<unknown type>";
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    r.what = e.what();
  } catch (...) {
    // not a std::exception: no message
  }
  return r;
}

std::string to_string(const RemoteError& e) {
  return e.what.empty() ? e.type_name : e.type_name + ": " + e.what;
}

}  // namespace sk::ser
