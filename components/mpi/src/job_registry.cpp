// The table of NodeJob entry points, filled during static initialisation.
#include <mutex>
#include <vector>

#include <sk/core/type_name.hpp>
#include <sk/ipc/type_name.hpp>
#include <sk/mpi/job.hpp>

namespace sk::mpi::detail {
namespace {

struct Entry {
  std::uint64_t name_id;
  std::uint64_t id;
  JobFn fn;
};

// Function-local statics: registration runs before main from other
// translation units' initialisers, in whatever order the linker chose.
std::vector<Entry>& table() {
  static std::vector<Entry> t;
  return t;
}
std::mutex& table_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

std::uint64_t register_job(std::uint64_t name_id, JobFn fn) noexcept {
  std::lock_guard lk(table_mutex());
  auto& t = table();
  std::uint64_t same = 0;
  for (const auto& e : t) {
    if (e.fn == fn) return e.id;
    if (e.name_id == name_id) ++same;
  }
  const std::uint64_t id = same == 0 ? name_id : core::fnv1a_u64(same, name_id);
  t.push_back(Entry{name_id, id, fn});
  return id;
}

JobFn find_job(std::uint64_t id) noexcept {
  std::lock_guard lk(table_mutex());
  for (const auto& e : table())
    if (e.id == id) return e.fn;
  return nullptr;
}

std::uint64_t registry_digest() noexcept {
  std::lock_guard lk(table_mutex());
  std::uint64_t h = core::fnv1a("sk.mpi.jobs.v1");
  for (const auto& e : table()) h = core::fnv1a_u64(e.id, h);
  return core::fnv1a_u64(table().size(), h);
}

}  // namespace sk::mpi::detail
