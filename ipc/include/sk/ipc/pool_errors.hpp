#pragma once
// Errors thrown by sk::Pool. Every one derives from sk::PoolError (and so from
// sk::Error); each names the item index it is about, so a failing map says
// which input broke and how.
#include <cstddef>
#include <string>
#include <utility>

#include <sk/core/error.hpp>

namespace sk {

class PoolError : public Error {
 public:
  using Error::Error;
  // Where an item failed when it ran on another machine (sk::mpi::Pool,
  // docs/mpi.md): the MPI rank whose node ran it and that node's host name.
  // -1 and "" for a local sk::Pool and for errors that are about no node.
  int rank() const noexcept { return rank_; }
  const std::string& host() const noexcept { return host_; }

 protected:
  PoolError(const std::string& message, int rank, std::string host)
      : Error(message), rank_(rank), host_(std::move(host)) {}

 private:
  int rank_ = -1;
  std::string host_;
};

// Bad arguments to a Pool (too many items, a modifier combination that makes
// no sense, a persistent-mode callable that cannot reach the workers).
class PoolUsageError : public PoolError {
 public:
  using PoolError::PoolError;
};

// An item's callable threw. The original exception's dynamic type name and
// what() are kept as they were in the worker (not flattened into one string).
class ItemError : public PoolError {
 public:
  ItemError(std::size_t index, std::string type_name, std::string original_what)
      : PoolError("sk::Pool: item " + std::to_string(index) + " raised " + type_name + ": " + original_what +
                  " (the other items were cancelled; the pool stays usable)"),
        index_(index),
        type_name_(std::move(type_name)),
        what_(std::move(original_what)) {}
  // An item that ran on another machine (sk::mpi::Pool, docs/mpi.md): the
  // MPI rank whose node ran it and that node's host name.
  ItemError(std::size_t index, std::string type_name, std::string original_what, int rank, std::string host)
      : PoolError("sk::mpi::Pool: item " + std::to_string(index) + " raised " + type_name + ": " + original_what +
                      " (on rank " + std::to_string(rank) + ", host " + host +
                      "; the other items were cancelled; the pool stays usable)",
                  rank, host),
        index_(index),
        type_name_(std::move(type_name)),
        what_(std::move(original_what)) {}
  std::size_t index() const noexcept { return index_; }
  // Demangled dynamic type of the exception the item threw, e.g. "std::out_of_range".
  const std::string& type_name() const noexcept { return type_name_; }
  // what() of the original exception.
  const std::string& original_what() const noexcept { return what_; }

 private:
  std::size_t index_;
  std::string type_name_;
  std::string what_;
};

// The worker running an item died from a signal, on every allowed attempt.
class WorkerCrashed : public PoolError {
 public:
  WorkerCrashed(std::size_t index, int signal, unsigned attempts);
  // The same, for an item of an sk::mpi::Pool that ran on rank `rank` (host `host`).
  WorkerCrashed(std::size_t index, int signal, unsigned attempts, int rank, std::string host);
  std::size_t index() const noexcept { return index_; }
  int signal() const noexcept { return signal_; }
  unsigned attempts() const noexcept { return attempts_; }

 private:
  std::size_t index_;
  int signal_;
  unsigned attempts_;
};

// An item ran longer than the per-item timeout; its worker was killed.
class TimeoutError : public PoolError {
 public:
  TimeoutError(std::size_t index, double seconds);
  // The same, for an item of an sk::mpi::Pool that ran on rank `rank` (host `host`).
  TimeoutError(std::size_t index, double seconds, int rank, std::string host);
  std::size_t index() const noexcept { return index_; }
  double seconds() const noexcept { return seconds_; }

 private:
  std::size_t index_;
  double seconds_;
};

}  // namespace sk
