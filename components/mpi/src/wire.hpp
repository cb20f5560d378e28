#pragma once
// Messages between rank 0 and the node leaders. Each MPI message is one
// sk::ser frame holding a Header, followed by raw payload bytes (a callable's
// bytes, a chunk's items, a chunk's results), so bulk data is copied once.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include <sk/ipc/serialize.hpp>
#include <sk/mpi/job.hpp>

namespace sk::mpi::detail::wire {

// ---- rank 0 -> node leaders -----------------------------------------------------
// Open a pool: fork the node's local sk::Pool (workers 0 = the node's default).
struct Open {
  std::uint64_t pool = 0;
  std::uint32_t workers = 0;
  SK_FIELDS(pool, workers)
};
struct Close {
  std::uint64_t pool = 0;
  SK_FIELDS(pool)
};
// A call's constants; payload: the callable's bytes.
struct Start {
  std::uint64_t pool = 0, call = 0, job = 0;
  std::int64_t timeout_ns = 0;
  std::uint32_t retries = 1, stride = 0;
  SK_FIELDS(pool, call, job, timeout_ns, retries, stride)
};
// Items [begin, begin + count); payload: stride == 0: count + 1 u64 offsets
// (from 0) then the items' bytes; else count * stride bytes.
struct Chunk {
  std::uint64_t pool = 0, call = 0, chunk = 0, begin = 0, count = 0;
  SK_FIELDS(pool, call, chunk, begin, count)
};
// The call is over: drop its queued chunks and the results of a running one.
struct EndCall {
  std::uint64_t pool = 0, call = 0;
  SK_FIELDS(pool, call)
};
// Rank 0 is alive (every lost_after / 5, to every rank).
struct Ping {
  SK_FIELDS()
};
// The session is over: close every pool, answer Ack, wait for Final.
struct End {
  SK_FIELDS()
};
// finalize: every rank answered End and none was lost, so MPI_Finalize (which
// waits for every rank of the job) can complete; else every rank leaves
// without it: with a dead rank it can hang (Open MPI 4.1, --enable-recovery).
struct Final {
  bool finalize = true;
  SK_FIELDS(finalize)
};

// ---- node leaders (and, for Ack, every rank) -> rank 0 -----------------------------------------------------
struct Opened {
  std::uint64_t pool = 0;
  std::uint32_t workers = 0;
  std::string error;  // non-empty: the local pool could not be made
  SK_FIELDS(pool, workers, error)
};
// A chunk ran; payload: sk::ser payload of std::vector<S> with `produced` results.
struct Done {
  std::uint64_t pool = 0, call = 0, chunk = 0, produced = 0;
  std::int64_t exec_ns = 0;                // wall time the local Pool took
  std::optional<JobFailure> failure;       // an item failed (after `produced` results)
  std::string error_type, error_what;      // non-empty: the chunk could not run at all
  SK_FIELDS(pool, call, chunk, produced, exec_ns, failure, error_type, error_what)
};
// The leader has chunks queued or running (every lost_after / 5 while it does).
struct Beat {
  SK_FIELDS()
};
// Any rank, to End: its pools are closed, it waits for Final.
struct Ack {
  SK_FIELDS()
};

using Header = std::variant<Open, Close, Start, Chunk, EndCall, Ping, End, Final, Opened, Done, Beat, Ack>;

inline std::vector<std::byte> message(const Header& h, std::span<const std::byte> payload = {},
                                      std::span<const std::byte> more = {}) {
  std::vector<std::byte> out;
  out.reserve(64 + payload.size() + more.size());
  ser::encode_into(h, out);
  out.insert(out.end(), payload.begin(), payload.end());
  out.insert(out.end(), more.begin(), more.end());
  return out;
}

// Splits a received message into its header and where its payload starts.
// Throws sk::DecodeError on bytes that are not one of our messages.
inline Header parse(std::span<const std::byte> msg, std::size_t& payload_at) {
  payload_at = ser::frame_size(msg);
  return ser::decode<Header>(msg.first(payload_at));
}

}  // namespace sk::mpi::detail::wire
