#include <cstdio>
#include <string>

#include <sk/mpi/errors.hpp>
#include <sk/mpi/job.hpp>
#include <sk/mpi/pool.hpp>

namespace sk::mpi {
namespace {

std::string ranges_text(const std::vector<ItemRange>& items) {
  std::string s;
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    total += items[i].end - items[i].begin;
    if (i < 8) {
      if (i) s += ", ";
      s += "[" + std::to_string(items[i].begin) + ", " + std::to_string(items[i].end) + ")";
    }
  }
  if (items.size() > 8) s += ", ...";
  return std::to_string(total) + " item" + (total == 1 ? "" : "s") + " " + s;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", s);
  return buf;
}

}  // namespace

RankLost::RankLost(int rank, std::string host, std::vector<ItemRange> items, double silent_s)
    : PoolError("sk::mpi::Pool: lost rank " + std::to_string(rank) + " (host " + host + "): nothing from it for " +
                seconds_text(silent_s) + " s while it held " + ranges_text(items) +
                "; the call is ended, those items may or may not have run (make them safe to repeat, or check "
                "their effects), and the pool goes on without that node",
                rank, host),
      items_(std::move(items)),
      silent_s_(silent_s) {}

RemoteError::RemoteError(int rank, std::string host, ItemRange items, std::string type_name, std::string original_what)
    : PoolError("sk::mpi::Pool: rank " + std::to_string(rank) + " (host " + host + ") could not run items [" +
                std::to_string(items.begin) + ", " + std::to_string(items.end) + "): " + type_name + ": " +
                original_what,
                rank, host),
      items_(items),
      type_name_(std::move(type_name)),
      what_(std::move(original_what)) {}

namespace detail {

void throw_bad_callable_bytes(std::string_view type, std::size_t got, std::size_t want) {
  throw DecodeError("sk::mpi: the callable " + std::string(type) + " arrived as " + std::to_string(got) +
                    " bytes, not its size " + std::to_string(want) + ": the ranks do not run the same program");
}

}  // namespace detail

namespace pool_detail {

void throw_item_encode(std::size_t index, const std::exception& e) {
  throw PoolUsageError("sk::mpi::Pool: item " + std::to_string(index) + " could not be serialized to send it: " +
                       e.what());
}

void throw_too_many(std::size_t n) {
  throw PoolUsageError("sk::mpi::Pool: " + std::to_string(n) + " items in one call; split the input (at most 2^40)");
}

}  // namespace pool_detail
}  // namespace sk::mpi
