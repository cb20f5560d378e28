#pragma once
// Readable compile-time type names and 64-bit type ids.
//
//   sk::ser::type_name<std::vector<int>>()  ->  "std::vector<int>"  (compiler's spelling)
//   sk::ser::type_id<T>()                   ->  FNV-1a of type_name<T>()
//
// Names come from __PRETTY_FUNCTION__, so they are the compiler's spelling
// (g++ and clang differ, e.g. for std::string). Both sides of a frame are
// the same program (fork) or built with the same compiler, so ids agree.
#include <cstdint>
#include <string_view>

namespace sk::ser {

namespace detail {

// Extracts T from "... [with T = <type>; ...]" (g++) or "... [T = <type>]" (clang).
constexpr std::string_view parse_pretty_type(std::string_view pretty) noexcept {
  constexpr std::string_view key = "T = ";
  const auto start = pretty.find(key);
  if (start == std::string_view::npos) return pretty;
  const auto from = start + key.size();
  auto end = pretty.find(';', from);  // g++: further "with" entries follow after ';'
  if (end == std::string_view::npos) end = pretty.rfind(']');  // clang / last entry
  if (end == std::string_view::npos || end < from) return pretty.substr(from);
  return pretty.substr(from, end - from);
}

constexpr std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace detail

template <class T>
constexpr std::string_view type_name() noexcept {
  return detail::parse_pretty_type(__PRETTY_FUNCTION__);
}

template <class T>
constexpr std::uint64_t type_id() noexcept {
  return detail::fnv1a(type_name<T>());
}

}  // namespace sk::ser
