#pragma once
// sk::ser: the serialization facade (the original's `cucumber`), on cereal
// with our own bounds-checked binary archives. See docs/serialization.md.
//
//   struct Job { std::string name; std::vector<int> ids; std::optional<double> w;
//                SK_FIELDS(name, ids, w) };
//   std::vector<std::byte> bytes = sk::ser::encode(Job{...});   // framed
//   Job j = sk::ser::decode<Job>(bytes);     // DecodeError / TypeMismatch on bad bytes
//
// What is Serializable: arithmetic types and enums; trivially copyable classes
// without serialization functions (copied as bytes); std::string, vector,
// array, deque, list, map, multimap, set, unordered_map, unordered_set,
// optional, variant, monostate, pair, tuple, complex, bitset, chrono
// durations / time points and std::filesystem::path (as its string), nested
// to any depth; user types with SK_FIELDS(...) or their own cereal
// serialize()/save()/load(). Not: raw pointers, references.
//
// Framed message (encode / decode): a 24-byte header + payload
//   u32 magic "SKF1" | u16 version (1) | u16 flags (0) | u64 payload length | u64 type_id<T>()
// decode<T> checks magic, version, the exact length and the type id (a
// different id -> TypeMismatch naming both types), then decodes the payload
// with every read bounds-checked and requires it to be consumed exactly.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <cereal/cereal.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/bitset.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <sk/ipc/detail/span_archive.hpp>
#include <sk/ipc/ser_errors.hpp>
#include <sk/ipc/type_name.hpp>

// Inside a user struct or class (any access section; private fields allowed):
//   struct Point3 { double x, y, z; std::string label; SK_FIELDS(x, y, z, label) };
// Fields are written in the order listed. SK_FIELDS() (no fields) is allowed.
// The field names and types are part of the type's type_id (see type_name.hpp),
// so a program whose same-named type lists other fields gets a TypeMismatch.
#define SK_FIELDS(...)                                                                        \
  friend class ::cereal::access;                                                              \
  friend struct ::sk::ser::detail::FieldsAccess;                                              \
  template <class SkArchive_>                                                                 \
  void serialize(SkArchive_& sk_archive_) {                                                   \
    sk_archive_(__VA_ARGS__);                                                                 \
  }                                                                                           \
  static constexpr ::std::uint64_t sk_fields_signature_() noexcept {                          \
    return ::sk::ser::detail::fields_signature(                                               \
        #__VA_ARGS__, static_cast<decltype(::sk::ser::detail::field_types(__VA_ARGS__))*>(nullptr)); \
  }

// std::filesystem::path travels as its native string, unchanged: a plain path
// means the same file only where the same directories exist (sk::Path sends
// a root-relative form instead). Beside cereal's own std codecs. Deduced P,
// not a path parameter: a type that merely converts to a path (sk::Path) must
// not match, or its own save/load would be ambiguous with these.
namespace cereal {
template <class Archive, class P>
  requires std::is_same_v<P, std::filesystem::path>
void save(Archive& ar, const P& p) {
  ar(p.native());
}
template <class Archive, class P>
  requires std::is_same_v<P, std::filesystem::path>
void load(Archive& ar, P& p) {
  std::string s;
  ar(s);
  p = std::move(s);
}
}  // namespace cereal

namespace sk::ser {

namespace detail {

// Deep check for the std containers we know, so that e.g.
// std::vector<NotSerializable> fails the concept instead of deep inside cereal.
template <class T>
struct deep_ok;

template <class T>
inline constexpr bool top_ok_v =
    !std::is_pointer_v<T> && !std::is_reference_v<T> && !std::is_function_v<T> &&
    (std::is_arithmetic_v<T> || std::is_enum_v<T> || is_raw_v<T> ||
     (cereal::traits::is_output_serializable<T, SpanOutputArchive>::value &&
      cereal::traits::is_input_serializable<T, SpanInputArchive>::value));

template <class T>
struct deep_ok : std::bool_constant<top_ok_v<T>> {};
template <template <class...> class C, class... A>
struct deep_ok<C<A...>> : std::bool_constant<top_ok_v<C<A...>>> {};

template <class... E>
inline constexpr bool all_deep_ok_v = (deep_ok<E>::value && ...);

template <class E, class A>
struct deep_ok<std::vector<E, A>> : std::bool_constant<all_deep_ok_v<E>> {};
template <class E, std::size_t N>
struct deep_ok<std::array<E, N>> : std::bool_constant<all_deep_ok_v<E>> {};
template <class E, class A>
struct deep_ok<std::deque<E, A>> : std::bool_constant<all_deep_ok_v<E>> {};
template <class E, class A>
struct deep_ok<std::list<E, A>> : std::bool_constant<all_deep_ok_v<E>> {};
template <class K, class V, class C, class A>
struct deep_ok<std::map<K, V, C, A>> : std::bool_constant<all_deep_ok_v<K, V>> {};
template <class K, class V, class C, class A>
struct deep_ok<std::multimap<K, V, C, A>> : std::bool_constant<all_deep_ok_v<K, V>> {};
template <class K, class C, class A>
struct deep_ok<std::set<K, C, A>> : std::bool_constant<all_deep_ok_v<K>> {};
template <class K, class V, class H, class E, class A>
struct deep_ok<std::unordered_map<K, V, H, E, A>> : std::bool_constant<all_deep_ok_v<K, V>> {};
template <class K, class H, class E, class A>
struct deep_ok<std::unordered_set<K, H, E, A>> : std::bool_constant<all_deep_ok_v<K>> {};
template <class E>
struct deep_ok<std::optional<E>> : std::bool_constant<all_deep_ok_v<E>> {};
template <class... E>
struct deep_ok<std::variant<E...>> : std::bool_constant<all_deep_ok_v<E...>> {};
template <class A, class B>
struct deep_ok<std::pair<A, B>> : std::bool_constant<all_deep_ok_v<A, B>> {};
template <class... E>
struct deep_ok<std::tuple<E...>> : std::bool_constant<all_deep_ok_v<E...>> {};

// Process-local registry type_id -> type_name, filled (before main) for every
// type this program encodes or decodes, so a TypeMismatch can name the type a
// frame actually holds. Thread-safe.
void register_type_name(std::uint64_t id, std::string_view name) noexcept;
std::string_view registered_type_name(std::uint64_t id) noexcept;  // "" if unknown

template <class T>
struct TypeRegistrar {
  inline static const bool registered = (register_type_name(type_id<T>(), type_name<T>()), true);
};

[[noreturn]] void throw_encode_failed(std::string_view type, const char* why);
[[noreturn]] void throw_decode_failed(std::string_view type, const char* why);
[[noreturn]] void throw_trailing(std::string_view type, std::size_t used, std::size_t size);
[[noreturn]] void throw_type_mismatch(std::string_view expected, std::uint64_t expected_id, std::uint64_t actual_id);

}  // namespace detail

template <class T>
concept Serializable = detail::deep_ok<std::remove_cv_t<T>>::value;

// ---- what a sent value travels as ---------------------------------------------
//
// tell("print") would otherwise send a char[6], and the other side's
// listen<std::string>() would fail at run time with a TypeMismatch. A string
// literal, a char array (up to its first NUL) and a const char* travel as
// std::string; everything else as itself. The sending templates (tell, Pipe
// send) encode to_wire(value).

namespace detail {
template <class T>
struct wire {
  using type = T;
};
template <std::size_t N>
struct wire<char[N]> {
  using type = std::string;
};
template <>
struct wire<char*> {
  using type = std::string;
};
template <>
struct wire<const char*> {
  using type = std::string;
};
}  // namespace detail

template <class T>
using wire_t = typename detail::wire<std::remove_cvref_t<T>>::type;

// A value that tell/send accept: its wire type is Serializable.
template <class T>
concept Sendable = Serializable<wire_t<T>>;

template <class T>
decltype(auto) to_wire(const T& v) {
  using U = std::remove_cvref_t<T>;
  if constexpr (std::is_array_v<U>) {
    const std::string_view all(v, std::extent_v<U>);
    return std::string(all.substr(0, all.find('\0')));
  } else if constexpr (std::is_pointer_v<U>) {
    if (v == nullptr)
      throw SerializationError("sk::ser: cannot send a null const char* (it is not a string); send std::string() "
                               "for an empty one");
    return std::string(v);
  } else {
    return v;  // decltype(auto) of an lvalue: const T&, no copy
  }
}

// ---- frame header -------------------------------------------------------------

inline constexpr std::uint32_t kFrameMagic = 0x31464B53u;  // bytes "SKF1" (little endian)
inline constexpr std::uint16_t kFrameVersion = 1;
inline constexpr std::size_t kFrameHeaderBytes = 24;

struct FrameHeader {
  std::uint32_t magic = kFrameMagic;
  std::uint16_t version = kFrameVersion;
  std::uint16_t flags = 0;
  std::uint64_t payload_len = 0;
  std::uint64_t type_id = 0;
};
static_assert(sizeof(FrameHeader) == kFrameHeaderBytes && std::is_trivially_copyable_v<FrameHeader>);

// Reads and checks the header at the start of `bytes` (magic, version, flags,
// and that the payload it announces is all there). Throws DecodeError.
FrameHeader read_frame_header(std::span<const std::byte> bytes);
// Total bytes (header + payload) of the frame at the start of `bytes` (which
// may hold more after it). Throws DecodeError like read_frame_header.
std::size_t frame_size(std::span<const std::byte> bytes);
// type_id of the value in the frame. Throws DecodeError if it is not a frame.
std::uint64_t peek_type_id(std::span<const std::byte> framed);
// The registered name of a type id ("" if this program never encoded or
// decoded that type).
std::string_view type_name_of(std::uint64_t id) noexcept;

// ---- payload only (no header), for storage whose type is fixed -----------------

namespace detail {
// Appends to a vector (the sink put_known writes known-size values to).
struct VectorSink {
  std::vector<std::byte>* out;
  void saveBinary(const void* data, std::size_t n) {
    const auto* b = static_cast<const std::byte*>(data);
    out->insert(out->end(), b, b + n);
  }
};
// Writes into a fixed span; a write past its end throws SerializationError.
struct FixedSink {
  std::span<std::byte> out;
  std::size_t pos = 0;
  void saveBinary(const void* data, std::size_t n) {
    if (n > out.size() - pos) throw_span_overflow(n, pos, out.size());
    if (n != 0) std::memcpy(out.data() + pos, data, n);
    pos += n;
  }
};
}  // namespace detail

template <Serializable T>
void encode_payload(const T& v, std::vector<std::byte>& out) {
  if constexpr (detail::known_size<T>()) {
    detail::VectorSink sink{&out};
    detail::put_known(sink, v);  // no cereal archive (see span_archive.hpp)
    return;
  }
  const std::size_t at = out.size();
  try {
    detail::SpanOutputArchive ar(out);
    ar(v);
  } catch (const cereal::Exception& e) {
    out.resize(at);
    detail::throw_encode_failed(type_name<T>(), e.what());
  } catch (...) {
    out.resize(at);
    throw;
  }
}

template <Serializable T>
T decode_payload(std::span<const std::byte> payload) {
  static_assert(std::is_default_constructible_v<T>, "sk::ser decodes into a default-constructed T");
  T v{};
  if constexpr (detail::known_size<T>()) {
    detail::ByteReader in(payload);  // no cereal archive (see span_archive.hpp)
    detail::get_known(in, v);
    if (in.remaining() != 0) detail::throw_trailing(type_name<T>(), in.position(), payload.size());
    return v;
  }
  detail::SpanInputArchive ar(payload);
  try {
    ar(v);
  } catch (const sk::Error&) {
    throw;
  } catch (const cereal::Exception& e) {
    detail::throw_decode_failed(type_name<T>(), e.what());
  } catch (const std::length_error& e) {
    detail::throw_decode_failed(type_name<T>(), e.what());
  }
  if (ar.remaining() != 0) detail::throw_trailing(type_name<T>(), ar.position(), payload.size());
  return v;
}

// ---- framed messages -------------------------------------------------------------

// Appends one frame holding v to out (out keeps what it had before).
template <Serializable T>
void encode_into(const T& v, std::vector<std::byte>& out) {
  (void)detail::TypeRegistrar<T>::registered;
  const std::size_t at = out.size();
  out.resize(at + kFrameHeaderBytes);
  try {
    encode_payload(v, out);
  } catch (...) {
    out.resize(at);
    throw;
  }
  FrameHeader h;
  h.payload_len = out.size() - at - kFrameHeaderBytes;
  h.type_id = type_id<T>();
  std::memcpy(out.data() + at, &h, sizeof h);
}

template <Serializable T>
std::vector<std::byte> encode(const T& v) {
  std::vector<std::byte> out;
  encode_into(v, out);
  return out;
}

// ---- encoding straight into caller memory (no intermediate buffer) -------------
//
// For a value whose encoded size is known without encoding it, a transport
// can reserve exactly frame_bytes(v) of its own memory (ring space, a shared
// block) and encode_to() it there: one pass, the same bytes encode() makes.

namespace detail {
// Payload bytes of v (T with known_size<T>()), as SpanOutputArchive writes them.
template <class T>
std::size_t payload_bytes(const T& v) noexcept {
  if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T> || is_raw_v<T> || is_std_array<T>::value) {
    return sizeof(T);
  } else if constexpr (std::is_same_v<T, std::string>) {
    return sizeof(std::uint64_t) + v.size();
  } else if constexpr (is_specialization<T, std::vector>::value) {
    return sizeof(std::uint64_t) + v.size() * sizeof(typename T::value_type);
  } else if constexpr (is_specialization<T, std::pair>::value) {
    return payload_bytes(v.first) + payload_bytes(v.second);
  } else {
    return std::apply([](const auto&... e) { return (std::size_t{0} + ... + payload_bytes(e)); }, v);
  }
}
}  // namespace detail

// True when frame_bytes(v) can be computed without encoding: arithmetic,
// enums, trivially copyable classes without serialization functions,
// std::string, vector/array of those (not bool), and pairs/tuples of these.
template <class T>
inline constexpr bool has_known_size_v = detail::known_size<std::remove_cv_t<T>>();

// Bytes of the frame encode(v) returns.
template <Serializable T>
  requires has_known_size_v<T>
std::size_t frame_bytes(const T& v) noexcept {
  return kFrameHeaderBytes + detail::payload_bytes(v);
}

// Writes one frame holding v at the start of `out` and returns its size (the
// same bytes as encode(v)). Throws SerializationError if out is too small.
template <Serializable T>
std::size_t encode_to(const T& v, std::span<std::byte> out) {
  (void)detail::TypeRegistrar<T>::registered;
  if (out.size() < kFrameHeaderBytes) detail::throw_span_overflow(kFrameHeaderBytes, 0, out.size());
  std::size_t payload = 0;
  if constexpr (detail::known_size<T>()) {
    detail::FixedSink sink{out.subspan(kFrameHeaderBytes)};
    detail::put_known(sink, v);
    payload = sink.pos;
  } else {
    detail::SpanOutputArchive ar(out.subspan(kFrameHeaderBytes));
    try {
      ar(v);
    } catch (const cereal::Exception& e) {
      detail::throw_encode_failed(type_name<T>(), e.what());
    }
    payload = ar.written();
  }
  FrameHeader h;
  h.payload_len = payload;
  h.type_id = type_id<T>();
  std::memcpy(out.data(), &h, sizeof h);
  return kFrameHeaderBytes + payload;
}

// Decodes a frame that must be exactly one frame of T (no trailing bytes).
template <Serializable T>
T decode(std::span<const std::byte> framed) {
  (void)detail::TypeRegistrar<T>::registered;
  const FrameHeader h = read_frame_header(framed);
  if (h.type_id != type_id<T>()) detail::throw_type_mismatch(type_name<T>(), type_id<T>(), h.type_id);
  if (framed.size() != kFrameHeaderBytes + h.payload_len)
    detail::throw_trailing(type_name<T>(), kFrameHeaderBytes + h.payload_len, framed.size());
  return decode_payload<T>(framed.subspan(kFrameHeaderBytes, h.payload_len));
}

}  // namespace sk::ser
