#pragma once
// RemoteError: an exception that crossed a process boundary, as plain data
// (the dynamic type's demangled name and its what()). Serializable.
//
//   try { job(); } catch (...) { reply(sk::ser::capture_current_exception()); }
#include <string>

#include <sk/ipc/serialize.hpp>

namespace sk::ser {

struct RemoteError {
  std::string type_name;  // demangled dynamic type, e.g. "std::out_of_range"
  std::string what;       // what() if it derives from std::exception, else ""

  friend bool operator==(const RemoteError&, const RemoteError&) = default;
  SK_FIELDS(type_name, what)
};

// Call inside a catch block (or anywhere an exception is in flight). Outside
// one it returns {"<no exception>", ""}. Never throws except std::bad_alloc.
RemoteError capture_current_exception();

// "<type_name>: <what>" (or just the type name when what is empty).
std::string to_string(const RemoteError& e);

}  // namespace sk::ser
