#pragma once
// The two cereal archives behind sk::ser (see docs/serialization.md):
//
//   SpanOutputArchive  appends to a std::vector<std::byte>, or writes into a
//                      caller's fixed span (e.g. reserved ring space) and
//                      throws if it would overflow;
//   SpanInputArchive   reads a std::span<const std::byte> and treats every
//                      byte as hostile: every read is checked against the
//                      bytes left, every size tag is checked BEFORE the
//                      container allocates (a tag larger than the bytes left
//                      is a DecodeError), every bool must be 0 or 1.
//
// Wire format (native byte order, no padding, no alignment):
//   arithmetic           its bytes;  bool: one byte 0/1
//   size tag             u64 element count
//   "raw" types          trivially copyable classes with no cereal function:
//                        their object bytes (memcpy)
//   vector<E>/array<E,N> of raw, enum (std::byte) or non-bool arithmetic E:
//                        [u64 count] + one memcpy (the same bytes cereal's
//                        element-wise path writes: an enum as its underlying type)
//   std::string          [u64 count] + its chars (cereal's format); decoded
//                        with one copy, no zero-fill
//   everything else      cereal's own functions for std types / the user's
//                        serialize() (SK_FIELDS), recursing into the above.
//
// Both archives intercept operator() so that the fast paths above apply at
// every nesting level (cereal's container functions call ar(element) on the
// concrete archive type), and fall back to cereal's dispatch otherwise.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/details/helpers.hpp>

namespace sk::ser::detail {

class SpanOutputArchive;
class SpanInputArchive;

// Throws sk::DecodeError (defined in serialize.cpp: keeps <string> building out of hot paths).
[[noreturn]] void throw_truncated(std::size_t need, std::size_t pos, std::size_t size);
[[noreturn]] void throw_bad_size_tag(std::uint64_t count, std::size_t elem, std::size_t pos, std::size_t left);
[[noreturn]] void throw_bad_bool(unsigned value, std::size_t pos);

template <class T, template <class...> class Tmpl>
struct is_specialization : std::false_type {};
template <template <class...> class Tmpl, class... A>
struct is_specialization<Tmpl<A...>, Tmpl> : std::true_type {};

template <class T>
struct is_std_array : std::false_type {};
template <class E, std::size_t N>
struct is_std_array<std::array<E, N>> : std::true_type {};

// Types cereal (or we) handle by wrapper type; never treated as raw bytes.
template <class T>
inline constexpr bool is_cereal_wrapper_v =
    is_specialization<T, cereal::NameValuePair>::value || is_specialization<T, cereal::SizeTag>::value ||
    is_specialization<T, cereal::BinaryData>::value || is_specialization<T, cereal::base_class>::value ||
    is_specialization<T, cereal::virtual_base_class>::value || is_specialization<T, cereal::DeferredData>::value;

// Number of cereal serialization functions T has for our archives (0 = none).
template <class T>
inline constexpr int cereal_functions_v =
    cereal::traits::detail::count_output_serializers<T, SpanOutputArchive>::value +
    cereal::traits::detail::count_input_serializers<T, SpanInputArchive>::value;

// A class copied as its object bytes: trivially copyable, no cereal function.
template <class T>
inline constexpr bool is_raw_v = (std::is_class_v<T> || std::is_union_v<T>) && std::is_trivially_copyable_v<T> &&
                                 !is_cereal_wrapper_v<T> && cereal_functions_v<T> == 0;

// Element types whose contiguous containers are copied with one memcpy.
template <class E>
inline constexpr bool is_bulk_elem_v =
    (std::is_arithmetic_v<E> && !std::is_same_v<E, bool>) || std::is_enum_v<E> || is_raw_v<E>;

[[noreturn]] void throw_span_overflow(std::size_t need, std::size_t pos, std::size_t size);

// ---- types with a known size: encoded and decoded without a cereal archive ----
//
// Arithmetic, enums, raw classes, std::string, vector/array of bulk elements,
// and pairs/tuples of these. Their wire form is fixed by the table above, so
// put_known / get_known read and write it directly; both archives route these
// types through them too (one implementation of the format), and
// sk::ser::encode/decode skip constructing a cereal archive for them (its
// hash tables cost about 200 instructions per encode or decode).
template <class T>
constexpr bool known_size() noexcept {
  if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T> || is_raw_v<T> || std::is_same_v<T, std::string>) {
    return true;
  } else if constexpr (is_specialization<T, std::vector>::value || is_std_array<T>::value) {
    return is_bulk_elem_v<typename T::value_type>;
  } else if constexpr (is_specialization<T, std::pair>::value) {
    return known_size<typename T::first_type>() && known_size<typename T::second_type>();
  } else if constexpr (is_specialization<T, std::tuple>::value) {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (known_size<std::tuple_element_t<I, T>>() && ...);
    }(std::make_index_sequence<std::tuple_size_v<T>>{});
  } else {
    return false;
  }
}

// A cursor over hostile input: every read is checked against the bytes left.
class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) noexcept : in_(in) {}
  std::size_t position() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return in_.size() - pos_; }
  const std::byte* here() const noexcept { return in_.data() + pos_; }
  void skip(std::size_t n) noexcept { pos_ += n; }  // n <= remaining(), checked by the caller

  void loadBinary(void* data, std::size_t n) {
    if (n > remaining()) throw_truncated(n, pos_, in_.size());
    if (n != 0) std::memcpy(data, in_.data() + pos_, n);
    pos_ += n;
  }
  bool load_bool() {
    unsigned char b = 0;
    loadBinary(&b, 1);
    if (b > 1) throw_bad_bool(b, pos_ - 1);
    return b != 0;
  }
  // Reads a u64 element count and checks that `count` elements of at least
  // `elem_bytes` each fit in the bytes left (before anything is allocated).
  std::uint64_t load_count(std::size_t elem_bytes) {
    std::uint64_t n = 0;
    loadBinary(&n, sizeof n);
    const std::size_t per = elem_bytes == 0 ? 1 : elem_bytes;
    if (n > remaining() / per) throw_bad_size_tag(n, per, pos_ - sizeof n, remaining());
    return n;
  }

 private:
  std::span<const std::byte> in_;
  std::size_t pos_ = 0;
};

// Writes a known-size value to any sink with saveBinary(const void*, size_t).
template <class Sink, class T>
void put_known(Sink& out, const T& v) {
  static_assert(known_size<T>());
  if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T> || is_raw_v<T> || is_std_array<T>::value) {
    out.saveBinary(std::addressof(v), sizeof(T));
  } else if constexpr (std::is_same_v<T, std::string> || is_specialization<T, std::vector>::value) {
    const std::uint64_t n = v.size();  // size tag + elements (cereal's format)
    out.saveBinary(&n, sizeof n);
    out.saveBinary(v.data(), v.size() * sizeof(typename T::value_type));
  } else if constexpr (is_specialization<T, std::pair>::value) {
    put_known(out, v.first);
    put_known(out, v.second);
  } else {
    std::apply([&](const auto&... e) { (put_known(out, e), ...); }, v);
  }
}

// Reads a known-size value (every read checked; see ByteReader).
template <class T>
void get_known(ByteReader& in, T& v) {
  static_assert(known_size<T>());
  if constexpr (std::is_same_v<T, bool>) {
    v = in.load_bool();
  } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T> || is_raw_v<T> || is_std_array<T>::value) {
    in.loadBinary(std::addressof(v), sizeof(T));
  } else if constexpr (std::is_same_v<T, std::string>) {
    const std::uint64_t n = in.load_count(1);
    v.assign(reinterpret_cast<const char*>(in.here()), static_cast<std::size_t>(n));  // one copy, no zero-fill
    in.skip(static_cast<std::size_t>(n));
  } else if constexpr (is_specialization<T, std::vector>::value) {
    using E = typename T::value_type;
    const std::uint64_t n = in.load_count(sizeof(E));
    const std::size_t bytes = static_cast<std::size_t>(n) * sizeof(E);
    if (reinterpret_cast<std::uintptr_t>(in.here()) % alignof(E) == 0) {
      // One copy, no zero-fill first (assign from a range of trivially
      // copyable E is a memmove). load_count checked the bytes are there.
      const E* first = reinterpret_cast<const E*>(in.here());
      v.assign(first, first + n);
      in.skip(bytes);
    } else {
      v.resize(static_cast<std::size_t>(n));
      in.loadBinary(v.data(), bytes);
    }
  } else if constexpr (is_specialization<T, std::pair>::value) {
    get_known(in, v.first);
    get_known(in, v.second);
  } else {
    std::apply([&](auto&... e) { (get_known(in, e), ...); }, v);
  }
}

class SpanOutputArchive : public cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision> {
  using Base = cereal::OutputArchive<SpanOutputArchive, cereal::AllowEmptyClassElision>;

 public:
  explicit SpanOutputArchive(std::vector<std::byte>& out) : Base(this), out_(&out) {}
  // Writes into `fixed` from its start; a write past its end throws
  // (sk::SerializationError). written() says how far it got.
  explicit SpanOutputArchive(std::span<std::byte> fixed) : Base(this), fixed_(fixed) {}

  void saveBinary(const void* data, std::size_t n) {
    if (n == 0) return;
    if (out_ == nullptr) {
      if (n > fixed_.size() - pos_) throw_span_overflow(n, pos_, fixed_.size());
      std::memcpy(fixed_.data() + pos_, data, n);
      pos_ += n;
      return;
    }
    // insert, not resize + memcpy: no zero-fill pass over the new bytes.
    const auto* b = static_cast<const std::byte*>(data);
    out_->insert(out_->end(), b, b + n);
  }
  std::size_t written() const noexcept { return out_ != nullptr ? out_->size() : pos_; }

  template <class... Ts>
  SpanOutputArchive& operator()(Ts&&... values) {
    (put(values), ...);
    return *this;
  }
  template <class T>
  SpanOutputArchive& operator&(T&& value) {
    put(value);
    return *this;
  }
  template <class T>
  SpanOutputArchive& operator<<(T&& value) {
    put(value);
    return *this;
  }

 private:
  template <class T>
  void put(const T& v) {
    if constexpr (is_specialization<T, cereal::NameValuePair>::value) {
      put(v.value);
    } else if constexpr (is_specialization<T, cereal::SizeTag>::value) {
      const std::uint64_t n = static_cast<std::uint64_t>(v.size);
      saveBinary(&n, sizeof n);
    } else if constexpr (is_specialization<T, cereal::BinaryData>::value) {
      saveBinary(v.data, static_cast<std::size_t>(v.size));
    } else if constexpr (known_size<T>()) {
      put_known(*this, v);
    } else {
      Base::operator()(v);
    }
  }

  std::vector<std::byte>* out_ = nullptr;
  std::span<std::byte> fixed_;
  std::size_t pos_ = 0;
};

class SpanInputArchive : public cereal::InputArchive<SpanInputArchive, cereal::AllowEmptyClassElision> {
  using Base = cereal::InputArchive<SpanInputArchive, cereal::AllowEmptyClassElision>;

 public:
  explicit SpanInputArchive(std::span<const std::byte> in) : Base(this), in_(in) {}

  std::size_t position() const noexcept { return in_.position(); }
  std::size_t remaining() const noexcept { return in_.remaining(); }
  void loadBinary(void* data, std::size_t n) { in_.loadBinary(data, n); }
  bool load_bool() { return in_.load_bool(); }
  std::uint64_t load_count(std::size_t elem_bytes) { return in_.load_count(elem_bytes); }

  template <class... Ts>
  SpanInputArchive& operator()(Ts&&... values) {
    (get(values), ...);
    return *this;
  }
  template <class T>
  SpanInputArchive& operator&(T&& value) {
    get(value);
    return *this;
  }
  template <class T>
  SpanInputArchive& operator>>(T&& value) {
    get(value);
    return *this;
  }

 private:
  template <class T>
  void get(T& v) {
    if constexpr (is_specialization<std::remove_const_t<T>, cereal::NameValuePair>::value) {
      get(v.value);
    } else if constexpr (is_specialization<std::remove_const_t<T>, cereal::SizeTag>::value) {
      // Every element of every container takes at least one byte on the wire
      // (empty classes excepted), so a count above the bytes left is corrupt.
      v.size = static_cast<std::remove_reference_t<decltype(v.size)>>(load_count(1));
    } else if constexpr (is_specialization<std::remove_const_t<T>, cereal::BinaryData>::value) {
      loadBinary(v.data, static_cast<std::size_t>(v.size));
    } else if constexpr (known_size<T>()) {
      get_known(in_, v);
    } else if constexpr (is_specialization<T, std::multimap>::value) {
      // cereal 1.3.2 inserts each item before the previous one, which reverses
      // runs of equal keys; insert at the end to keep their order.
      const std::uint64_t n = load_count(1);
      v.clear();
      for (std::uint64_t i = 0; i < n; ++i) {
        typename T::key_type key{};
        typename T::mapped_type value{};
        (*this)(cereal::make_map_item(key, value));
        v.emplace_hint(v.end(), std::move(key), std::move(value));
      }
    } else {
      Base::operator()(v);
    }
  }

  ByteReader in_;
};

// ---- functions cereal's own dispatch finds (minimal serialization, class
// versions and anything that reaches Base::process directly) ------------------

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_SAVE_FUNCTION_NAME(SpanOutputArchive& ar, const T& v) {
  ar.saveBinary(std::addressof(v), sizeof(T));
}
template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(SpanInputArchive& ar, T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    v = ar.load_bool();
  } else {
    ar.loadBinary(std::addressof(v), sizeof(T));
  }
}
template <class Archive, class T>
std::enable_if_t<std::is_same_v<Archive, SpanOutputArchive> || std::is_same_v<Archive, SpanInputArchive>>
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::NameValuePair<T>& nvp) {
  ar(nvp.value);
}
template <class Archive, class T>
std::enable_if_t<std::is_same_v<Archive, SpanOutputArchive> || std::is_same_v<Archive, SpanInputArchive>>
CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, cereal::SizeTag<T>& tag) {
  ar(tag);  // the archives' operator() handles size tags (checked on input)
}
template <class T>
void CEREAL_SAVE_FUNCTION_NAME(SpanOutputArchive& ar, const cereal::BinaryData<T>& bd) {
  ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(SpanInputArchive& ar, cereal::BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}

}  // namespace sk::ser::detail

CEREAL_REGISTER_ARCHIVE(sk::ser::detail::SpanOutputArchive)
CEREAL_REGISTER_ARCHIVE(sk::ser::detail::SpanInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(sk::ser::detail::SpanInputArchive, sk::ser::detail::SpanOutputArchive)
