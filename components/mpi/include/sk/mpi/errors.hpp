#pragma once
// Errors of sk::mpi (docs/mpi.md). An item's own failure arrives as the local
// Pool's exceptions (sk::ItemError, sk::TimeoutError, sk::WorkerCrashed), whose
// rank() and host() (from sk::PoolError) name the node it ran on; what only a
// multi-machine run can cause is here.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <sk/pool_errors.hpp>

namespace sk::mpi {

// MPI could not be started, the ranks do not run the same program, the
// session was used after it ended, or MPI itself failed.
class SessionError : public Error {
 public:
  using Error::Error;
};

// A half-open range of item indices [begin, end).
struct ItemRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  friend bool operator==(const ItemRange&, const ItemRange&) = default;
};

// A node's leader rank stopped answering while it held items of the call (it
// was killed, its machine went down, or the network between it and rank 0
// did). The call ends; the pool keeps working with the other nodes.
class RankLost : public PoolError {
 public:
  RankLost(int rank, std::string host, std::vector<ItemRange> items, double silent_s);
  // rank() and host() (from PoolError): the lost node's leader rank and host.
  // The items that rank held when it was given up on: sent to it, results not
  // received. Their side effects may or may not have happened.
  const std::vector<ItemRange>& items() const noexcept { return items_; }
  // How long rank 0 had heard nothing from it.
  double silent_seconds() const noexcept { return silent_s_; }

 private:
  std::vector<ItemRange> items_;
  double silent_s_;
};

// A node could not run a chunk for a reason that is not one item's (it could
// not decode the callable or the items, its local Pool refused the call).
class RemoteError : public PoolError {
 public:
  RemoteError(int rank, std::string host, ItemRange items, std::string type_name, std::string original_what);
  // rank() and host() (from PoolError): the node that could not run them.
  ItemRange items() const noexcept { return items_; }
  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& original_what() const noexcept { return what_; }

 private:
  ItemRange items_;
  std::string type_name_;
  std::string what_;
};

}  // namespace sk::mpi
