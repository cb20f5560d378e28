#pragma once
// Exceptions of the alloc layer. Every message says what went wrong (with the
// arena/segment name and the numbers involved) and what to do about it.
//
//   sk::Error
//   └── ArenaError            base of every alloc error (also: bad arguments)
//       ├── ArenaFull         allocate() found no space
//       ├── OwnerRegistryError  the owner registry (owner.hpp) cannot be opened or is full
//       └── SegmentError      create/open/unlink failed (exists, permission, ENOSPC, not found)
//           └── BadSegment    not ours / wrong version / truncated / creator died during init
//               └── LayoutMismatch   the segment holds another layout (names both)
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

class BadSegment : public SegmentError {
 public:
  using SegmentError::SegmentError;
};

class LayoutMismatch : public BadSegment {
 public:
  using BadSegment::BadSegment;
};

}  // namespace sk::alloc
