#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <sk/core/futex.hpp>

namespace sk::core {
namespace {
long membarrier(int cmd) noexcept { return syscall(SYS_membarrier, cmd, 0, 0); }
}  // namespace

bool futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::optional<std::chrono::nanoseconds> timeout) noexcept {
  timespec ts{};
  timespec* tsp = nullptr;
  if (timeout) {
    const auto ns = timeout->count() < 0 ? 0 : timeout->count();
    ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    tsp = &ts;
  }
  // FUTEX_WAIT (not _PRIVATE): the kernel keys the wait on the physical page,
  // so processes mapping the same shared page meet on the same futex.
  const long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, tsp,
                          nullptr, 0);
  return !(rc == -1 && errno == ETIMEDOUT);
}

int futex_wake(std::atomic<std::uint32_t>& word, int n) noexcept {
  const long rc =
      syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, n, nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
}

namespace detail {

// 0: not tried in this process, 1: registered, 2: the kernel has no
// GLOBAL_EXPEDITED membarrier (so no process can skip its fence), 3: the
// kernel has it but registering failed here (seccomp): light_fence() then
// always issues a real fence.
std::atomic<int> g_membarrier_registered{0};

namespace {
void forget_registration_in_child() noexcept {
  // Kernels inherit the registration across fork; re-registering in the
  // child on its first light_fence() costs one syscall and does not rely on it.
  g_membarrier_registered.store(0, std::memory_order_relaxed);
}
}  // namespace

void register_membarrier() noexcept {
  if (g_membarrier_registered.load(std::memory_order_relaxed) != 0) return;
  static const bool at_fork = (pthread_atfork(nullptr, nullptr, forget_registration_in_child), true);
  (void)at_fork;
  const long supported = membarrier(MEMBARRIER_CMD_QUERY);
  int state = 2;
  if (supported > 0 && (supported & MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0)
    state = membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0 ? 1 : 3;
  // Release/acquire is not needed: the registration is the kernel's state;
  // this flag only lets light_fence() skip its fence once that state is set.
  g_membarrier_registered.store(state, std::memory_order_relaxed);
}

}  // namespace detail

bool heavy_fence() noexcept {
  // SYNC POINT: the waiter's side of the asymmetric Dekker pair: orders its
  // registration in waiters_ before its re-check, then membarrier orders
  // every notifier's store before its (compiler-barrier-only) load.
  fence(std::memory_order_seq_cst);
  detail::register_membarrier();
  // Without kernel support no notifier can have skipped its fence: the
  // symmetric argument holds and the seq_cst fence above was enough.
  if (detail::g_membarrier_registered.load(std::memory_order_relaxed) == 2) return true;
  return membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
}

}  // namespace sk::core
