#include <cstdint>
#include <new>
#include <string>

#include <sk/core/byte_ring.hpp>

namespace sk::core {
namespace {

bool power_of_two(std::uint64_t v) noexcept { return v != 0 && (v & (v - 1)) == 0; }

void check_capacity(std::size_t capacity) {
  if (!power_of_two(capacity) || capacity < ByteRing::kMinCapacity || capacity > ByteRing::kMaxCapacity)
    throw RingError("ByteRing: capacity " + std::to_string(capacity) +
                    " is not a power of two in [" + std::to_string(ByteRing::kMinCapacity) + ", " +
                    std::to_string(ByteRing::kMaxCapacity) + "]; round it up to the next power of two");
}

}  // namespace

ByteRing::ByteRing(std::size_t capacity) noexcept {
  hdr_.magic = kMagic;
  hdr_.version = kVersion;
  hdr_.capacity = capacity;
}

std::size_t ByteRing::bytes_needed(std::size_t capacity) {
  check_capacity(capacity);
  return sizeof(ByteRing) + capacity;
}

ByteRing* ByteRing::create(void* mem, std::size_t capacity) {
  check_capacity(capacity);
  if (mem == nullptr || reinterpret_cast<std::uintptr_t>(mem) % alignof(ByteRing) != 0)
    throw RingError("ByteRing::create: memory must be non-null and " + std::to_string(alignof(ByteRing)) +
                    "-byte aligned (allocate it with that alignment)");
  return new (mem) ByteRing(capacity);
}

ByteRing* ByteRing::attach(void* mem, std::size_t mem_bytes) {
  if (mem == nullptr || reinterpret_cast<std::uintptr_t>(mem) % alignof(ByteRing) != 0 ||
      mem_bytes < sizeof(ByteRing))
    throw RingCorrupt("ByteRing::attach: memory is null, misaligned or smaller than a ring header");
  auto* r = std::launder(reinterpret_cast<ByteRing*>(mem));
  const Header& h = r->hdr_;
  if (h.magic != kMagic || h.version != kVersion)
    throw RingCorrupt("ByteRing::attach: no ring here (bad magic or version); was it created with "
                      "ByteRing::create at this offset?");
  if (!power_of_two(h.capacity) || h.capacity < kMinCapacity || h.capacity > kMaxCapacity ||
      h.capacity > mem_bytes - sizeof(ByteRing))
    throw RingCorrupt("ByteRing::attach: ring capacity " + std::to_string(h.capacity) +
                      " does not fit the " + std::to_string(mem_bytes) + " bytes given");
  return r;
}

void ByteRing::throw_too_large(std::size_t n) const {
  throw RingError("ByteRing: a message of " + std::to_string(n) + " bytes exceeds this ring's limit of " +
                  std::to_string(max_message()) + " bytes (capacity/2 - 8); use a larger ring or send "
                  "the payload out of band");
}

void ByteRing::throw_bad_stage(std::size_t n) const {
  if (prod_.reserved_flags == 0)
    throw RingError("ByteRing: commit/stage without a successful try_reserve");
  throw RingError("ByteRing: commit/stage of " + std::to_string(n) + " bytes exceeds the " +
                  std::to_string(prod_.reserved_max) + " bytes reserved");
}

void ByteRing::throw_corrupt(const char* what, std::uint64_t pos, std::uint64_t value) const {
  throw RingCorrupt(std::string("ByteRing: corrupt ") + what + " at position " + std::to_string(pos) +
                    " (value " + std::to_string(value) + ", capacity " + std::to_string(hdr_.capacity) +
                    "); the producer wrote garbage or died mid-write outside the protocol; "
                    "stop using this ring");
}

}  // namespace sk::core
