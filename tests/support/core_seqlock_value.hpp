#pragma once
// The value the Seqlock tests store: 128 bytes whose 16 words are all equal in
// every committed value, so a torn read (words from two values) is visible.
#include <cstdint>

namespace coretest {

struct Wide {
  std::uint64_t w[16];

  static Wide filled(std::uint64_t v) {
    Wide x{};
    for (auto& e : x.w) e = v;
    return x;
  }
  bool uniform() const {
    for (auto e : w)
      if (e != w[0]) return false;
    return true;
  }
};

inline void add_one(Wide& v) {
  for (auto& e : v.w) ++e;
}

// Checks the values one reader sees: each whole (not torn) and never smaller
// than the one before (committed values only grow in these tests).
class ReadChecker {
 public:
  bool see(const Wide& v) {
    const bool good = v.uniform() && v.w[0] >= last_;
    last_ = v.w[0];
    ++reads_;
    ok_ = ok_ && good;
    return good;
  }
  bool ok() const { return ok_; }
  std::uint64_t reads() const { return reads_; }

 private:
  std::uint64_t last_ = 0;
  std::uint64_t reads_ = 0;
  bool ok_ = true;
};

}  // namespace coretest
