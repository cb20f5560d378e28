#pragma once
// The one compile-time type-name parser and the one FNV-1a hash.
//
//   sk::core::type_name<std::vector<int>>()   ->  "std::vector<int>"  (the compiler's spelling)
//   sk::core::fnv1a("text")                    ->  64-bit FNV-1a
//   sk::core::fnv1a(more, h), fnv1a_u64(v, h)  ->  continue a hash with text / a number
//
// Users: sk::ser::type_id (ids carried by every frame between processes) and
// the Share layout hash (stored in every named segment's header). Both hash
// across programs, so these functions must never change their output:
// tests/unit/core_type_name.cpp and tests/unit/type_ids_pinned.cpp pin it.
//
// Names come from __PRETTY_FUNCTION__, so they are the compiler's spelling
// (g++ and clang differ, e.g. for std::string): two programs that exchange
// ids or open the same segment must be built with the same compiler.
#include <cstdint>
#include <string_view>

namespace sk::core {

inline constexpr std::uint64_t kFnv1aOffset = 14695981039346656037ull;
inline constexpr std::uint64_t kFnv1aPrime = 1099511628211ull;

// FNV-1a of the bytes of `s`, continuing from `h` (the offset basis by default).
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h = kFnv1aOffset) noexcept {
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= kFnv1aPrime;
  }
  return h;
}

// FNV-1a of the 8 bytes of `v`, least significant first (the same on every
// host, whatever its byte order), continuing from `h`.
constexpr std::uint64_t fnv1a_u64(std::uint64_t v, std::uint64_t h) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xffu;
    h *= kFnv1aPrime;
  }
  return h;
}

namespace detail {

// Its signature names T and nothing else: g++ writes
// "constexpr const char* sk::core::detail::pretty_function() [with T = <type>]",
// clang "const char *sk::core::detail::pretty_function() [T = <type>]".
template <class T>
constexpr const char* pretty_function() noexcept {
  return __PRETTY_FUNCTION__;
}

// The <type> of "... [with T = <type>]" / "... [T = <type>]"; the whole
// string when it has neither form (an unknown compiler).
constexpr std::string_view parse_pretty_type(std::string_view pretty) noexcept {
  constexpr std::string_view key = "T = ";
  const std::size_t start = pretty.find(key);
  if (start == std::string_view::npos) return pretty;
  const std::size_t from = start + key.size();
  const std::size_t end = pretty.rfind(']');
  if (end == std::string_view::npos || end < from) return pretty.substr(from);
  return pretty.substr(from, end - from);
}

}  // namespace detail

// Readable name of T, as the compiler spells it.
template <class T>
constexpr std::string_view type_name() noexcept {
  return detail::parse_pretty_type(detail::pretty_function<T>());
}

}  // namespace sk::core
