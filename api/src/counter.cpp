#include <atomic>
#include <cstdint>

#include <sk/alloc/owner.hpp>
#include <sk/slots/counter.hpp>

namespace sk::slots {
namespace {

std::atomic<std::uint32_t> g_next_thread{0};

struct StripeCache {
  std::uint32_t pid = 0;
  std::uint32_t thread = g_next_thread.fetch_add(1, std::memory_order_relaxed);
  std::size_t stripe = 0;
};

// splitmix64 finaliser: neighbouring pids land on unrelated stripes.
std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

std::size_t counter_stripe(std::size_t stripes) noexcept {
  thread_local StripeCache cache;
  const std::uint32_t pid = alloc::self_owner().pid;  // cached; reset in forked children
  if (cache.pid != pid) {
    cache.pid = pid;
    // Consecutive pids (workers forked in a row) first take consecutive
    // stripes; threads of one process are spread by the hash.
    cache.stripe = static_cast<std::size_t>(pid + mix(cache.thread) - mix(0));
  }
  return cache.stripe % stripes;
}

}  // namespace sk::slots
