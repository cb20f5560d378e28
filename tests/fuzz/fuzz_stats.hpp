#pragma once
// Counts what a libFuzzer target was fed and prints, when the process exits
// normally (libFuzzer's -max_total_time / -runs end with exit()), one line
//   fuzz <target>: <runs> inputs, <bytes> bytes
// that scripts/fuzz collects (docs quote "bytes fuzzed" from it).
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* d, size_t n) {
//     sk_fuzz::count("fuzz_pipe_decode", n); ...
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace sk_fuzz {

struct Stats {
  const char* target = nullptr;
  std::uint64_t runs = 0;
  std::uint64_t bytes = 0;
};

inline Stats& stats() noexcept {
  static Stats s;
  return s;
}

inline void print_stats() noexcept {
  const Stats& s = stats();
  if (s.target == nullptr) return;
  std::fprintf(stderr, "fuzz %s: %llu inputs, %llu bytes\n", s.target, static_cast<unsigned long long>(s.runs),
               static_cast<unsigned long long>(s.bytes));
}

inline void count(const char* target, std::size_t n) noexcept {
  Stats& s = stats();
  if (s.target == nullptr) {
    s.target = target;
    std::atexit(print_stats);
  }
  ++s.runs;
  s.bytes += n;
}

// Runs before fail() aborts and when a sanitizer reports (targets that
// create files set it so a finding leaves nothing behind in /dev/shm).
inline void (*on_fail)() = nullptr;

// A broken invariant that is not a crash by itself (a view outside the
// mapping, an exception type the API does not document): report and abort
// so libFuzzer records the input.
[[noreturn]] inline void fail(const char* what) noexcept {
  std::fprintf(stderr, "FUZZ INVARIANT BROKEN: %s\n", what);
  if (on_fail) on_fail();
  std::abort();
}

// Reads the fuzz input front to back; past the end every read yields 0 (so
// any byte string is a valid program).
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) noexcept : p_(data), n_(size) {}
  bool empty() const noexcept { return n_ == 0; }
  std::size_t left() const noexcept { return n_; }
  std::uint8_t u8() noexcept {
    if (n_ == 0) return 0;
    --n_;
    return *p_++;
  }
  std::uint16_t u16() noexcept { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint32_t u32() noexcept { return static_cast<std::uint32_t>(u16()) | (static_cast<std::uint32_t>(u16()) << 16); }
  std::uint64_t u64() noexcept { return static_cast<std::uint64_t>(u32()) | (static_cast<std::uint64_t>(u32()) << 32); }
  // Up to n bytes (fewer at the end of the input).
  const std::uint8_t* bytes(std::size_t& n) noexcept {
    if (n > n_) n = n_;
    const std::uint8_t* at = p_;
    p_ += n;
    n_ -= n;
    return at;
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
};

}  // namespace sk_fuzz
