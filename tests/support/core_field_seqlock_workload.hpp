#pragma once
// A FieldSeqlock workload for the thread and process tests: three counters
// and one wide field. Every transaction moves one unit between two counters
// (so they always sum to 0) and, when it includes the wide field, stamps all
// its words with one value (so a torn copy is visible). Readers check both on
// every snapshot: a snapshot that mixed two instants breaks the sum.
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include <sk/core/field_seqlock.hpp>

#include "core_seqlock_value.hpp"

namespace coretest {

using Cells = sk::core::FieldSeqlock<std::int64_t, std::int64_t, std::int64_t, Wide>;

struct FieldValues {
  std::int64_t c[3] = {0, 0, 0};
  Wide wide = Wide::filled(0);

  template <std::size_t I>
  auto& get() noexcept {
    if constexpr (I < 3) {
      return c[I];
    } else {
      return wide;
    }
  }
};

// FieldSeqlock's out/in accessor over a FieldValues.
inline auto fields(FieldValues& v) noexcept {
  return [&v]<std::size_t I>() -> auto& { return v.get<I>(); };
}

// The four transactions: {0,1}, {1,2}, {0,2,wide}, {0,1,2,wide}.
inline constexpr std::uint64_t kMasks[4] = {0b0011, 0b0110, 0b1101, 0b1111};

// Runs transaction `kind` (0..3), `n` being the writer's running count (the
// wide field's new stamp). Returns the mask it wrote.
template <class Owners>
std::uint64_t transact(Cells& cells, int kind, std::uint64_t stamp, Owners owners) {
  auto move = [&]<std::uint64_t M>(int from, int to) {
    auto w = cells.begin_write<M>(owners);
    FieldValues v;
    w.read(fields(v));
    v.c[from] -= 1;
    v.c[to] += 1;
    if constexpr ((M >> 3) & 1u) v.wide = Wide::filled(stamp);
    w.write(fields(v));
    w.commit();
    return M;
  };
  switch (kind) {
    case 0: return move.template operator()<kMasks[0]>(0, 1);
    case 1: return move.template operator()<kMasks[1]>(1, 2);
    case 2: return move.template operator()<kMasks[2]>(2, 0);
    default: return move.template operator()<kMasks[3]>(1, 0);
  }
}

// One snapshot of everything: counters sum to 0, the wide field is whole.
template <class Owners>
bool snapshot_ok(const Cells& cells, Owners owners) {
  FieldValues v;
  cells.read<Cells::kAll>(fields(v), owners);
  return v.c[0] + v.c[1] + v.c[2] == 0 && v.wide.uniform();
}

// A snapshot of two counters that one transaction kind always writes
// together with a third: only whole words, no sum to check, but it must not
// hang or tear the wide field.
template <class Owners>
bool partial_ok(const Cells& cells, Owners owners) {
  FieldValues v;
  cells.read<0b1010>(fields(v), owners);
  return v.wide.uniform();
}

}  // namespace coretest

namespace coretest {

// Owners for processes: the pid names the writer; a gone (or zombie) pid is dead.
inline std::uint64_t pid_tag() { return static_cast<std::uint64_t>(::getpid()); }

}  // namespace coretest
