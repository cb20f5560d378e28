#include <sk/mpi/session.hpp>

#include "engine.hpp"

namespace sk::mpi {

Session::Session(int& argc, char**& argv, SessionOptions options) : Session(argc, argv, serve_later, options) {
  if (engine_->rank() != 0) engine_->serve();
}

Session::Session(int& argc, char**& argv, serve_later_t, SessionOptions options)
    : engine_(std::make_shared<detail::Engine>(&argc, &argv, options)) {
  if (engine_->rank() == 0) engine_->start_root();
}

Session::~Session() {
  if (engine_ && engine_->rank() == 0) engine_->end_session();
}

int Session::rank() const noexcept { return engine_->rank(); }
int Session::size() const noexcept { return engine_->size(); }
const std::vector<NodeInfo>& Session::nodes() const noexcept { return engine_->nodes(); }
bool Session::every_rank_a_node() const noexcept { return engine_->every_rank_a_node(); }
std::chrono::milliseconds Session::lost_after() const noexcept { return engine_->lost_after(); }

void Session::serve() { engine_->serve(); }

}  // namespace sk::mpi
