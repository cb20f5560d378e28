#pragma once
// The untyped boundary between sk::mpi::Pool (typed, in the caller's thread)
// and the session's engine (bytes, in its progress thread). The caller
// encodes the callable and the items once, the engine schedules chunks of
// them over the nodes and hands back each chunk's encoded results.
//
// Users do not include this directly; sk/mpi.hpp does.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include <sk/mpi/job.hpp>
#include <sk/mpi/session.hpp>

namespace sk::mpi {

struct PoolOptions {
  // Local pool workers on each node; 0: the node's hardware threads (with
  // every_rank_a_node, the machine's hardware threads over its ranks, at
  // least 1).
  unsigned workers_per_node = 0;
  // Use at most this many nodes (the first ones, rank 0's included); 0: all.
  unsigned max_nodes = 0;
  // Wall time a chunk should take on a node. Chunk sizes adapt to measured
  // item cost to meet it: long enough that per-chunk messages cost little,
  // short enough that the tail balances and a cancel is prompt.
  std::chrono::milliseconds chunk_target{20};
};

// What the last call did (sk::mpi::Pool::last_stats()).
struct CallStats {
  std::uint64_t items = 0;    // items delivered
  std::uint64_t chunks = 0;   // chunks sent
  std::uint64_t steals = 0;   // ranges taken from another node's remaining range
  std::vector<std::uint64_t> items_per_node;    // results delivered, by node index
  std::vector<std::uint64_t> largest_chunk;     // by node index
};

namespace detail {

struct CallSpec {
  std::uint64_t job = 0;
  CallKind kind = CallKind::map;
  std::int64_t timeout_ns = 0;
  std::uint32_t retries = 1;
  std::vector<std::byte> callable;
  std::vector<std::byte> items;          // each item's bytes, back to back
  std::vector<std::uint64_t> offsets;    // stride == 0: n + 1 offsets into items
  std::uint32_t stride = 0;              // bytes per item when items are fixed-size
  std::uint64_t n = 0;
};

struct ChunkResult {
  std::uint64_t begin = 0;         // map / imap: results are those of items [begin, begin + count)
  std::uint64_t count = 0;
  std::vector<std::byte> results;  // sk::ser payload of std::vector<S> with count elements
  std::exception_ptr error;        // set: after these results the call failed with it
};

class PoolCore;
class Call;

std::shared_ptr<PoolCore> open_pool(const std::shared_ptr<Engine>& engine, const PoolOptions& options);
unsigned pool_nodes(const PoolCore& pool) noexcept;
unsigned pool_workers(const PoolCore& pool) noexcept;
CallStats pool_last_stats(const PoolCore& pool);

std::shared_ptr<Call> start_call(const std::shared_ptr<PoolCore>& pool, CallSpec&& spec);

enum class Next { result, idle, end };
// Waits up to `wait` for the next chunk's results.
Next call_next(Call& call, ChunkResult& out, std::chrono::milliseconds wait);
// The caller no longer wants the rest (an imap range dropped early, a failure
// thrown): the engine stops sending chunks and tells the nodes to drop theirs.
void call_cancel(Call& call) noexcept;
std::uint64_t call_done(const Call& call) noexcept;  // items whose results arrived
CallStats call_stats(const Call& call);

}  // namespace detail
}  // namespace sk::mpi
