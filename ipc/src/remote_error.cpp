#include <sk/ipc/describe_exception.hpp>
#include <sk/ipc/remote_error.hpp>

namespace sk::ser {

RemoteError capture_current_exception() {
  RemoteError r;
  if (ipc::describe_current_exception(r.type_name, r.what) == ipc::ExceptionKind::none) {
    r.type_name = "<no exception>";
  } else if (r.type_name.empty()) {
    r.type_name = "<unknown type>";
  }
  return r;
}

std::string to_string(const RemoteError& e) {
  return e.what.empty() ? e.type_name : e.type_name + ": " + e.what;
}

}  // namespace sk::ser
