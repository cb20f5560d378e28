#pragma once
// The one exception describer: the dynamic type (demangled) and what() of the
// exception being handled, in the plain form that crosses process boundaries
// (FailureInfo of a Skprocess hook, sk::ser::RemoteError, a Pool item's error).
//
//   try { hook(); } catch (...) {
//     std::string type, what;
//     sk::ipc::describe_current_exception(type, what);   // "std::out_of_range", "index 5 >= size 3"
//   }
//
// Each caller decides what to print for the cases it cannot describe (no
// exception in flight, a type the runtime does not name, an exception that
// does not derive from std::exception): the return value and an empty `type`
// say which case it was.
#include <cstdint>
#include <string>

namespace sk::ipc {

// What describe_current_exception() found.
enum class ExceptionKind : std::uint8_t {
  none = 0,           // no exception is being handled
  std_exception = 1,  // derives from std::exception: `what` holds its what()
  other = 2,          // anything else (throw 42, a user type): `what` is empty
};

// Readable form of a mangled type name (std::type_info::name()); the input
// itself when it does not demangle; "" for nullptr.
std::string demangle(const char* mangled);

// Describes the exception being handled (inside a catch block, or wherever
// std::current_exception() is set): `type` = its dynamic type, demangled (""
// when the runtime does not name it), `what` = its what() or "". Both are
// cleared first. Throws nothing but std::bad_alloc.
ExceptionKind describe_current_exception(std::string& type, std::string& what);

}  // namespace sk::ipc
