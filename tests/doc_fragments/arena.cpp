// docs/arena.md: the block runs in main(); Jobs and its layout hash are the reader's.
#include <cstdint>

#include <sk/alloc/arena.hpp>

struct Jobs {
  std::uint64_t head = 0;
};
constexpr std::uint64_t hash_of_my_structs = 0x6a6f6273;

int main() {
// @BLOCK@
}
