#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

#include <sk/slots/counter.hpp>

namespace sk::slots {

std::uint32_t g_fork_generation = 0;

namespace {

std::atomic<std::uint32_t> g_next_thread{0};
thread_local std::uint32_t t_thread = g_next_thread.fetch_add(1, std::memory_order_relaxed);

// splitmix64 finaliser: threads of one process land on unrelated stripes.
std::uint64_t mix(std::uint64_t x) noexcept {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Runs in the child right after fork(), while it has one thread.
void bump_generation() noexcept { ++g_fork_generation; }

[[maybe_unused]] const bool g_registered = [] {
  pthread_atfork(nullptr, nullptr, &bump_generation);
  return true;
}();

}  // namespace

std::uint32_t compute_counter_stripe() noexcept {
  // Consecutive pids (workers forked in a row) take consecutive stripes; the
  // first thread of a process uses its pid's stripe.
  const auto pid = static_cast<std::uint64_t>(::getpid());
  return static_cast<std::uint32_t>((pid + mix(t_thread) - mix(0)) % Counter<long>::kStripes);
}

}  // namespace sk::slots
