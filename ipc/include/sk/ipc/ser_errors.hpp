#pragma once
// Exceptions of the serialization facade (sk/ipc/serialize.hpp).
//
//   sk::Error
//   └── SerializationError    a value cannot be encoded
//       └── DecodeError       bytes are corrupt, truncated, oversized or not a frame
//           └── TypeMismatch  a valid frame that holds another type (names both)
//
// Every message says what went wrong (type, offsets, sizes) and what to do.
#include <cstdint>
#include <string>

#include <sk/core/error.hpp>

namespace sk {

class SerializationError : public Error {
 public:
  using Error::Error;
};

class DecodeError : public SerializationError {
 public:
  using SerializationError::SerializationError;
};

class TypeMismatch : public DecodeError {
 public:
  TypeMismatch(const std::string& message, std::uint64_t expected_id, std::uint64_t actual_id)
      : DecodeError(message), expected_id_(expected_id), actual_id_(actual_id) {}
  // sk::ser::type_id of the type the caller asked for / the frame holds.
  std::uint64_t expected_id() const noexcept { return expected_id_; }
  std::uint64_t actual_id() const noexcept { return actual_id_; }

 private:
  std::uint64_t expected_id_;
  std::uint64_t actual_id_;
};

}  // namespace sk
