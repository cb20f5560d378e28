// Non-template parts of sk::ser: error messages, frame headers, the type-name
// registry.
#include <cstdio>
#include <mutex>
#include <string>
#include <unordered_map>

#include <sk/ipc/serialize.hpp>

namespace sk::ser {

namespace detail {
namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<std::uint64_t, std::string_view> names;
};

Registry& registry() noexcept {
  static Registry r;  // constructed on first use (also during static init)
  return r;
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

void register_type_name(std::uint64_t id, std::string_view name) noexcept {
  Registry& r = registry();
  try {
    std::lock_guard lock(r.mu);
    r.names.emplace(id, name);
  } catch (...) {
    // out of memory: the name just stays unknown
  }
}

std::string_view registered_type_name(std::uint64_t id) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  const auto it = r.names.find(id);
  return it == r.names.end() ? std::string_view{} : it->second;
}

void throw_truncated(std::size_t need, std::size_t pos, std::size_t size) {
  throw DecodeError("sk::ser: truncated data: need " + std::to_string(need) + " byte(s) at offset " +
                    std::to_string(pos) + " but only " + std::to_string(size - pos) + " of " +
                    std::to_string(size) +
                    " remain; the bytes were cut short or corrupted in transit (send the whole frame)");
}

void throw_bad_size_tag(std::uint64_t count, std::size_t elem, std::size_t pos, std::size_t left) {
  throw DecodeError("sk::ser: corrupt size tag at offset " + std::to_string(pos) + ": " + std::to_string(count) +
                    " element(s) of at least " + std::to_string(elem) + " byte(s) cannot fit in the " +
                    std::to_string(left) +
                    " byte(s) left; the bytes are corrupt or not what the decoder expects (nothing was allocated)");
}

void throw_span_overflow(std::size_t need, std::size_t pos, std::size_t size) {
  throw SerializationError("sk::ser: encoding into a fixed buffer of " + std::to_string(size) +
                           " bytes: need " + std::to_string(need) + " more byte(s) at offset " + std::to_string(pos) +
                           "; size the buffer with frame_bytes(value) (or encode into a std::vector)");
}

void throw_bad_bool(unsigned value, std::size_t pos) {
  throw DecodeError("sk::ser: corrupt bool at offset " + std::to_string(pos) + ": byte value " +
                    std::to_string(value) + " is neither 0 nor 1; the bytes are corrupt");
}

void throw_encode_failed(std::string_view type, const char* why) {
  throw SerializationError("sk::ser: cannot encode a value of type " + std::string(type) + ": " + why +
                           " (e.g. a valueless variant); fix the value before sending it");
}

void throw_decode_failed(std::string_view type, const char* why) {
  throw DecodeError("sk::ser: cannot decode a " + std::string(type) + ": " + why +
                    "; the bytes are corrupt or were encoded from another type");
}

void throw_trailing(std::string_view type, std::size_t used, std::size_t size) {
  throw DecodeError("sk::ser: decoding a " + std::string(type) + " used " + std::to_string(used) + " of " +
                    std::to_string(size) + " byte(s); " + std::to_string(size - used) +
                    " trailing byte(s) remain: the bytes hold something else (or several frames: split them "
                    "with sk::ser::frame_size)");
}

void throw_type_mismatch(std::string_view expected, std::uint64_t expected_id, std::uint64_t actual_id) {
  const std::string_view actual = registered_type_name(actual_id);
  const std::string actual_text = actual.empty() ? "a type this program never encoded or decoded (type id " +
                                                       hex(actual_id) + ")"
                                                 : std::string(actual) + " (type id " + hex(actual_id) + ")";
  throw TypeMismatch("sk::ser: type mismatch: decode<" + std::string(expected) + "> (type id " + hex(expected_id) +
                         ") was given a frame holding " + actual_text +
                         "; decode with the type the sender encoded, or check sk::ser::peek_type_id first",
                     expected_id, actual_id);
}

}  // namespace detail

FrameHeader read_frame_header(std::span<const std::byte> bytes) {
  if (bytes.size() < kFrameHeaderBytes)
    throw DecodeError("sk::ser: not a frame: " + std::to_string(bytes.size()) + " byte(s), a frame header needs " +
                      std::to_string(kFrameHeaderBytes) + "; the message was cut short");
  FrameHeader h;
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.magic != kFrameMagic)
    throw DecodeError("sk::ser: not a frame: bad magic " + detail::hex(h.magic) +
                      " (expected \"SKF1\"); the bytes are corrupt or were not made by sk::ser::encode");
  if (h.version != kFrameVersion)
    throw DecodeError("sk::ser: frame version " + std::to_string(h.version) + " is not supported (this build reads " +
                      std::to_string(kFrameVersion) + "); build both sides from the same suitkaise version");
  if (h.flags != 0)
    throw DecodeError("sk::ser: frame has unknown flags " + std::to_string(h.flags) +
                      "; the bytes are corrupt or come from a newer suitkaise");
  if (h.payload_len > bytes.size() - kFrameHeaderBytes)
    throw DecodeError("sk::ser: truncated frame: header announces " + std::to_string(h.payload_len) +
                      " payload byte(s) but only " + std::to_string(bytes.size() - kFrameHeaderBytes) +
                      " follow; the message was cut short or corrupted");
  return h;
}

std::size_t frame_size(std::span<const std::byte> bytes) {
  return kFrameHeaderBytes + static_cast<std::size_t>(read_frame_header(bytes).payload_len);
}

std::uint64_t peek_type_id(std::span<const std::byte> framed) { return read_frame_header(framed).type_id; }

std::string_view type_name_of(std::uint64_t id) noexcept { return detail::registered_type_name(id); }

}  // namespace sk::ser
