#include <sk/version.hpp>
namespace sk {
const char* version() noexcept { return kVersion; }
}  // namespace sk
