#pragma once
// Exceptions of sk::Share and its slots.
//
//   sk::Error
//   └── ShareError        base of Share errors (bad use of a Share handle)
//       └── SlotPoisoned  a slot whose writer died mid-write and that cannot be
//                         rolled back; its value is lost (see docs/share.md)
//
// Arena errors (full arena, layout mismatch, missing segment) are the alloc
// layer's: sk::alloc::ArenaFull, sk::alloc::LayoutMismatch, sk::alloc::SegmentError.
#include <sk/core/error.hpp>

namespace sk {

class ShareError : public Error {
 public:
  using Error::Error;
};

class SlotPoisoned : public ShareError {
 public:
  using ShareError::ShareError;
};

}  // namespace sk
