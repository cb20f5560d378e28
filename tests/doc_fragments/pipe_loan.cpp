// docs/pipe.md, zero-copy: the block runs where a one-way pipe exists; src,
// n_bytes and consume() are the reader's.
#include <cstddef>
#include <cstring>
#include <span>

#include <sk/pipe.hpp>

void consume(std::span<const std::byte>) {}

int main() {
  auto [tx, rx] = sk::Pipe::pair(sk::one_way);
  const char src[] = "bytes built by the sender";
  const std::size_t n_bytes = sizeof src;
// @BLOCK@
}
