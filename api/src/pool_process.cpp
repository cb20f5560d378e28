// pool.map<W>: the non-template part (see sk/pool_process.hpp).
#include <exception>

#include <sk/pool_process.hpp>

namespace sk::pool_detail {

void describe_failure(const ipc::FailureInfo& f, std::string& type, std::string& what) {
  try {
    std::rethrow_exception(process_detail::make_failure(f));
  } catch (...) {
    ipc::FailureInfo g;
    ipc::capture_exception(g);
    type = std::move(g.type_name);
    what = std::move(g.what);
  }
}

}  // namespace sk::pool_detail
