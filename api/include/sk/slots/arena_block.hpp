#pragma once
// Helpers shared by the serialized slots (Object, List, Log): finding the
// arena a slot lives in, and copying bytes into / out of arena blocks with
// relaxed atomic 64-bit word accesses, so that a reader racing with the reuse
// of a freed block reads (garbage it then rejects) without a data race.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include <sk/alloc/arena.hpp>
#include <sk/share_errors.hpp>

namespace sk::slots {

// Own offset of a slot being constructed inside an arena (ConstructionScope).
// Throws ShareError when constructed anywhere else.
inline alloc::Offset construction_offset(const void* self, std::string_view kind) {
  const alloc::ArenaView* a = alloc::constructing_arena();
  if (a == nullptr || !*a)
    throw ShareError("sk::" + std::string(kind) +
                     " allocates shared-memory blocks and must be constructed inside a Share (make it a member of "
                     "the state struct of an sk::Share<State>), not on the stack or the heap");
  return a->offset_of(self);
}

// Block bytes for a payload of n bytes: whole 8-byte words, at least one.
constexpr std::size_t block_bytes(std::size_t n) noexcept { return n == 0 ? 8 : (n + 7) & ~std::size_t{7}; }
inline constexpr std::size_t kBlockAlign = 16;

// Writes src into the block at dst (8-aligned, block_bytes(src.size()) long).
inline void store_words(std::byte* dst, std::span<const std::byte> src) noexcept {
  const std::size_t words = block_bytes(src.size()) / 8;
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t w = 0;
    const std::size_t at = i * 8;
    std::memcpy(&w, src.data() + at, src.size() - at < 8 ? src.size() - at : 8);
    std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(dst + at)).store(w, std::memory_order_relaxed);
  }
}

// Readers may copy a block that was just freed (and whose first words the
// arena's free list overwrites with a plain store); they validate the copy
// afterwards and discard it (see object.hpp / list.hpp). TSan cannot model
// that validation, so this one copy loop is not instrumented under TSan.
#if defined(__SANITIZE_THREAD__)
#define SK_SLOTS_VALIDATED_READ __attribute__((no_sanitize("thread")))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SK_SLOTS_VALIDATED_READ __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef SK_SLOTS_VALIDATED_READ
#define SK_SLOTS_VALIDATED_READ
#endif

// Copies n bytes out of the block at src (8-aligned) into dst.
SK_SLOTS_VALIDATED_READ inline void load_words(const std::byte* src, std::size_t n, std::byte* dst) noexcept {
  for (std::size_t at = 0; at < n; at += 8) {
    // The builtin (not std::atomic_ref, whose out-of-line load TSan would
    // instrument) keeps the whole copy under SK_SLOTS_VALIDATED_READ.
    const std::uint64_t w = __atomic_load_n(reinterpret_cast<const std::uint64_t*>(src + at), __ATOMIC_RELAXED);
    std::memcpy(dst + at, &w, n - at < 8 ? n - at : 8);
  }
}

// Fills a block with zero words.
inline void zero_words(std::byte* dst, std::size_t bytes) noexcept {
  for (std::size_t at = 0; at + 8 <= bytes; at += 8)
    std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(dst + at)).store(0, std::memory_order_relaxed);
}

}  // namespace sk::slots
