#pragma once
// Exceptions of sk::Path (sk/path.hpp).
//
//   sk::Error
//   └── PathError       a path cannot be built, resolved or received
//       └── PathIdError an id (Path::from_id) or a received path is hostile or
//                       malformed: not base64, escapes the project root, holds NUL
//
// Every message says what was wrong, with which input, and what to do.
#include <sk/core/error.hpp>

namespace sk {

class PathError : public Error {
 public:
  using Error::Error;
};

class PathIdError : public PathError {
 public:
  using PathError::PathError;
};

}  // namespace sk
