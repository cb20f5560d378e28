#pragma once
// sk::mpi::Session: MPI for the lifetime of the program (docs/mpi.md).
//
//   int main(int argc, char** argv) {
//     sk::mpi::Session session(argc, argv);   // ranks other than 0 serve inside here and exit
//     sk::mpi::Pool pool(session);            // rank 0 only from here on
//     auto out = pool.map([](int x) { return x * x; }, items);
//   }                                         // ~Session: every rank finalizes MPI and exits
//
// Every rank runs the same program. Rank 0 returns from the constructor and
// runs main's logic; every other rank serves in the constructor (a node
// leader runs the chunks that rank 0 sends it on a local sk::Pool) until rank
// 0's Session is destroyed, then calls MPI_Finalize and std::exit(0) without
// returning. With sk::mpi::serve_later every rank returns, and ranks other
// than 0 call serve() when they are done with their own MPI work.
//
// One Session per process. A rank that hears nothing from rank 0 for
// lost_after (rank 0 died) prints why and exits with status 3.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <sk/mpi/errors.hpp>

namespace sk::mpi {

namespace detail {
class Engine;
}

struct SessionOptions {
  // A node leader that holds items of a call and has sent nothing for this
  // long is given up on (sk::mpi::RankLost); ranks give up on a silent rank 0
  // after the same time. Heartbeats go every lost_after / 5. Environment
  // override (read on rank 0): SK_MPI_LOST_AFTER_MS.
  std::chrono::milliseconds lost_after{5000};
  // Treat every rank as a node of its own, even ranks that share a machine:
  // the inter-node path (chunks over MPI, stealing, faults) on one machine.
  // Environment override (read on rank 0): SK_MPI_EVERY_RANK_A_NODE=1.
  bool every_rank_a_node = false;
};

struct serve_later_t {
  explicit constexpr serve_later_t() = default;
};
// Tag for Session(argc, argv, sk::mpi::serve_later).
inline constexpr serve_later_t serve_later{};

// A shared-memory node: its leader rank (the lowest rank on it) runs the
// node's local Pool; the node's other ranks only wait for the session's end.
struct NodeInfo {
  int leader = 0;
  std::string host;
  int ranks = 1;  // ranks of the job on this node
};

class Session {
 public:
  Session(int& argc, char**& argv, SessionOptions options = {});
  Session(int& argc, char**& argv, serve_later_t, SessionOptions options = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // Rank 0: closes every pool, tells every rank to finish, MPI_Finalize.
  ~Session();

  int rank() const noexcept;
  int size() const noexcept;
  // The nodes, in the order of their leaders' ranks (rank 0's node first).
  const std::vector<NodeInfo>& nodes() const noexcept;
  bool every_rank_a_node() const noexcept;
  std::chrono::milliseconds lost_after() const noexcept;

  // serve_later mode, ranks other than 0: serve until rank 0's Session ends,
  // then MPI_Finalize and std::exit(0). On rank 0: throws SessionError.
  [[noreturn]] void serve();

  // For sk::mpi::Pool.
  const std::shared_ptr<detail::Engine>& engine() const noexcept { return engine_; }

 private:
  std::shared_ptr<detail::Engine> engine_;
};

}  // namespace sk::mpi
