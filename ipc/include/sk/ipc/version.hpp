#pragma once
namespace sk::ipc {
// Wire format version of everything ipc/ puts in shared memory or on a ring.
inline constexpr unsigned kWireVersion = 1;
}  // namespace sk::ipc
