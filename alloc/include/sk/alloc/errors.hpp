#pragma once
// Exceptions of the alloc layer. Every message says what went wrong (with the
// arena/segment name and the numbers involved) and what to do about it.
//
//   sk::Error
//   └── ArenaError            base of every alloc error (also: bad arguments)
//       ├── ArenaFull         allocate() found no space
//       ├── OwnerRegistryError  the owner registry (owner.hpp) cannot be opened or is full
//       └── SegmentError      create/open/unlink failed (exists, permission, ENOSPC, not found)
//           ├── SegmentNotFound  open found no segment of that name (path())
//           └── BadSegment    not ours / wrong version / truncated / creator died during init
//               └── LayoutMismatch   the segment holds another layout (names both)
#include <string>
#include <string_view>
#include <utility>

#include <sk/core/error.hpp>

namespace sk::alloc {

class ArenaError : public sk::Error {
 public:
  using sk::Error::Error;
};

class ArenaFull : public ArenaError {
 public:
  using ArenaError::ArenaError;
};

class OwnerRegistryError : public ArenaError {
 public:
  using ArenaError::ArenaError;
};

class SegmentError : public ArenaError {
 public:
  using ArenaError::ArenaError;
};

// open() found no segment of that name. The typed layers above (sk::Share)
// catch it to name their own create call in the message.
class SegmentNotFound : public SegmentError {
 public:
  SegmentNotFound(std::string path, const std::string& message) : SegmentError(message), path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }
  // The same error in the words of the API the user called: `opened_with` is
  // that call (e.g. sk::Pipe::attach_point("x")), `create_with` the call that
  // makes the name (the allocator's own message names Arena::create).
  SegmentNotFound for_api(std::string_view opened_with, std::string_view create_with) const {
    return SegmentNotFound(path_, std::string(opened_with) + ": no shared segment " + path_ + ": create it first with " +
                                      std::string(create_with) + " (in this or another program), or check the name");
  }

 private:
  std::string path_;
};

class BadSegment : public SegmentError {
 public:
  using SegmentError::SegmentError;
};

class LayoutMismatch : public BadSegment {
 public:
  using BadSegment::BadSegment;
};

}  // namespace sk::alloc
