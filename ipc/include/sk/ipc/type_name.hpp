#pragma once
// Readable compile-time type names and 64-bit type ids.
//
//   sk::ser::type_name<std::vector<int>>()  ->  "std::vector<int>"  (compiler's spelling)
//   sk::ser::type_id<T>()                   ->  FNV-1a of type_name<T>(), and for
//                                               SK_FIELDS types also of their field
//                                               names and field type ids
//
// Names and the hash are sk/core/type_name.hpp's (shared with the Share
// layout hash). Both sides of a frame are the same program (fork) or built
// with the same compiler, so ids agree.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <sk/core/type_name.hpp>

namespace sk::ser {

using core::type_name;

template <class T>
constexpr std::uint64_t type_id() noexcept;

namespace detail {

// Fault found by tests/unit/layout_mismatch_procs.cpp: the id was the hash of
// the type's name only, so two programs whose same-named SK_FIELDS type lists
// other fields (reordered, renamed, retyped) exchanged frames with the same id
// and the receiver silently read swapped or wrong values. Now SK_FIELDS
// (serialize.hpp) gives the type a signature, folded into its id: the listed
// field names (whitespace ignored) and every listed field's type_id.

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
  std::uint64_t h = core::fnv1a("sk.ser.fields.v1");
  for (std::size_t i = 0; i < names.size(); ++i) {
    const char c = names[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    h = core::fnv1a(names.substr(i, 1), h);
  }
  ((h = core::fnv1a_u64(::sk::ser::type_id<F>(), h)), ...);
  return h;
}

}  // namespace detail

template <class T>
constexpr std::uint64_t type_id() noexcept {
  constexpr std::uint64_t fields = detail::FieldsAccess::signature<T>();
  constexpr std::uint64_t name = core::fnv1a(type_name<T>());
  return fields == 0 ? name : core::fnv1a_u64(fields, name);
}

}  // namespace sk::ser
