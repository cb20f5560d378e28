#pragma once
// Persistent mode: the job area of the run mapping, and the table of job
// kinds (per-type entry points) the workers run.
//
//   [JobHeader][callable bytes][items: n x T (trivially copyable)
//                               or (n+1) x u64 offsets + sk::ser payloads]
//
// The workers were forked when the Pool was created, so the job carries the
// callable byte for byte (it must be trivially copyable) and the items by
// value. The code is found through a table filled during static
// initialisation (each PersistentJob<...> type registers its entry point),
// so the table is complete before main() and identical in every worker; no
// code pointer is stored in shared memory, only the table index.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <ranges>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include <sk/ipc/internal/pool/layout.hpp>
#include <sk/ipc/internal/pool/result_writer.hpp>
#include <sk/ipc/pool_errors.hpp>
#include <sk/ipc/serialize.hpp>

namespace sk::ipc::pool {

struct JobHeader {
  std::uint64_t f_off, items_off, n, serialized_items;
};

// Runs items [begin, end) of the job in the mapping, publishing through w.
using JobFn = void (*)(RunView v, std::uint32_t begin, std::uint32_t end, ResultWriter& w);

// Adds an entry point to the table (static initialisation); returns its kind.
std::uint32_t register_job_fn(JobFn fn) noexcept;
// The entry point of `kind`, or nullptr when it is not in this process's table.
JobFn job_fn(std::uint32_t kind) noexcept;

// Writes the callable and the items into the job area (cap bytes). Throws
// PoolUsageError when they do not fit.
template <class FD, class T, class Seq>
void write_job(std::byte* job, std::size_t cap, const FD& f, Seq& seq, std::size_t n) {
  JobHeader jh{};
  jh.f_off = align_up(sizeof(JobHeader), 64);
  jh.items_off = align_up(jh.f_off + sizeof(FD), 64);
  jh.n = n;
  auto need = [&](std::uint64_t end) {
    if (end > cap)
      throw PoolUsageError("sk::Pool(persistent): the items of this call need more than the " +
                           std::to_string(cap) + " bytes of the job area: split the input");
  };
  need(jh.items_off);
  std::memcpy(job + jh.f_off, static_cast<const void*>(std::addressof(f)), sizeof(FD));
  if constexpr (std::is_trivially_copyable_v<T>) {
    need(jh.items_off + std::uint64_t{n} * sizeof(T));
    std::byte* dst = job + jh.items_off;
    using Ref = std::ranges::range_reference_t<Seq&>;
    if constexpr (std::ranges::contiguous_range<Seq> && std::is_same_v<std::remove_cvref_t<Ref>, T>) {
      if (n != 0) std::memcpy(dst, std::ranges::data(seq), n * sizeof(T));  // one copy for a whole vector
    } else {
      std::size_t i = 0;
      for (auto&& it : seq) {
        const T tmp = it;
        std::memcpy(dst + i++ * sizeof(T), &tmp, sizeof(T));
      }
    }
  } else {
    jh.serialized_items = 1;
    const std::uint64_t table = (std::uint64_t{n} + 1) * sizeof(std::uint64_t);
    need(jh.items_off + table);
    auto* offs = reinterpret_cast<std::uint64_t*>(job + jh.items_off);
    std::byte* data = job + jh.items_off + table;
    std::vector<std::byte> buf;
    std::uint64_t pos = 0;
    std::size_t i = 0;
    for (auto&& it : seq) {
      buf.clear();
      ser::encode_payload(static_cast<const T&>(it), buf);
      need(jh.items_off + table + pos + buf.size());
      offs[i++] = pos;
      std::memcpy(data + pos, buf.data(), buf.size());
      pos += buf.size();
    }
    offs[n] = pos;
  }
  std::memcpy(job, &jh, sizeof jh);
}

inline JobHeader job_header(RunView v) noexcept {
  JobHeader jh;
  std::memcpy(&jh, v.job(), sizeof jh);
  return jh;
}

// The callable of the job. Its bytes were copied from an FD, a trivially
// copyable (so implicit-lifetime) type: they are an FD in this process too.
template <class FD>
FD& job_callable(RunView v, const JobHeader& jh) noexcept {
  return *std::launder(reinterpret_cast<FD*>(v.job() + jh.f_off));
}

// Item i of the job (a copy; serialized items are decoded, which may throw).
template <class T>
T job_item(RunView v, const JobHeader& jh, std::uint32_t i) {
  const std::byte* items = v.job() + jh.items_off;
  if constexpr (std::is_trivially_copyable_v<T>) {
    T item;
    std::memcpy(static_cast<void*>(&item), items + std::uint64_t{i} * sizeof(T), sizeof(T));
    return item;
  } else {
    const auto* offs = reinterpret_cast<const std::uint64_t*>(items);
    const std::byte* data = items + (jh.n + 1) * sizeof(std::uint64_t);
    return ser::decode_payload<T>(std::span<const std::byte>(data + offs[i], offs[i + 1] - offs[i]));
  }
}

// A trivially copyable item in place (no copy), for the fast loop.
template <class T>
const T* job_items(RunView v, const JobHeader& jh) noexcept {
  static_assert(std::is_trivially_copyable_v<T>);
  return std::launder(reinterpret_cast<const T*>(v.job() + jh.items_off));
}

}  // namespace sk::ipc::pool
