#pragma once
namespace sk {
inline constexpr const char* kVersion = "0.1.0";
const char* version() noexcept;
}  // namespace sk
