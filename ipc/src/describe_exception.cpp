#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

#include <sk/ipc/describe_exception.hpp>

namespace sk::ipc {

std::string demangle(const char* mangled) {
  if (mangled == nullptr) return {};
  int status = 0;
  const std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status),
                                                   std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

ExceptionKind describe_current_exception(std::string& type, std::string& what) {
  type.clear();
  what.clear();
  const std::exception_ptr ep = std::current_exception();
  if (!ep) return ExceptionKind::none;
  // The dynamic type, also when the handler caught a base class or `...`.
  if (const std::type_info* ti = abi::__cxa_current_exception_type()) type = demangle(ti->name());
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    what = e.what();
    return ExceptionKind::std_exception;
  } catch (...) {
    return ExceptionKind::other;
  }
}

}  // namespace sk::ipc
