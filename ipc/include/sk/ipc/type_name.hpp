#pragma once
// Readable compile-time type names and 64-bit type ids.
//
//   sk::ser::type_name<std::vector<int>>()  ->  "std::vector<int>"  (compiler's spelling)
//   sk::ser::type_id<T>()                   ->  FNV-1a of type_name<T>(), and for
//                                               SK_FIELDS types also of their field
//                                               names and field type ids
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
constexpr std::uint64_t type_id() noexcept;

namespace detail {

// Fault found by tests/unit/layout_mismatch_procs.cpp: the id was the hash of
// the type's name only, so two programs whose same-named SK_FIELDS type lists
// other fields (reordered, renamed, retyped) exchanged frames with the same id
// and the receiver silently read swapped or wrong values. Now SK_FIELDS
// (serialize.hpp) gives the type a signature, folded into its id: the listed
// field names (whitespace ignored) and every listed field's type_id.

constexpr std::uint64_t fnv1a_u64(std::uint64_t v, std::uint64_t h) noexcept {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xffu;
    h *= 1099511628211ull;
  }
  return h;
}

// Friend of every SK_FIELDS type (so private SK_FIELDS count too).
struct FieldsAccess {
  template <class T>
  static constexpr std::uint64_t signature() noexcept {
    if constexpr (requires { T::sk_fields_signature_(); }) {
      return T::sk_fields_signature_();
    } else {
      return 0;
    }
  }
};

template <class... F>
struct FieldTypes {};
// Declared only: decltype(field_types(a, b)) is FieldTypes<type of a, type of b>.
template <class... F>
FieldTypes<F...> field_types(const F&...) noexcept;

template <class... F>
constexpr std::uint64_t fields_signature(std::string_view names, FieldTypes<F...>*) noexcept {
  std::uint64_t h = fnv1a("sk.ser.fields.v1");
  for (const char c : names) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  ((h = fnv1a_u64(::sk::ser::type_id<F>(), h)), ...);
  return h;
}

}  // namespace detail

template <class T>
constexpr std::uint64_t type_id() noexcept {
  constexpr std::uint64_t fields = detail::FieldsAccess::signature<T>();
  constexpr std::uint64_t name = detail::fnv1a(type_name<T>());
  return fields == 0 ? name : detail::fnv1a_u64(fields, name);
}

}  // namespace sk::ser
