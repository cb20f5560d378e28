// Persistent mode: workers forked once, at Pool construction, that park
// between jobs (see run.hpp).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <sk/ipc/fork.hpp>
#include <sk/ipc/internal/pool/run.hpp>
#include <sk/ipc/pool_errors.hpp>

#include "worker.hpp"

namespace sk::ipc::pool {

namespace {

constexpr std::uint64_t kSerializedBuffer = std::uint64_t{256} << 20;  // 256 MiB per slot (virtual)
constexpr std::uint64_t kJobArea = std::uint64_t{1} << 30;             // 1 GiB (virtual)
constexpr std::uint64_t kResultBytes = 256;                            // per item, trivially copyable
constexpr std::chrono::seconds kCancelGrace{2};

}  // namespace

PersistentCore::PersistentCore(unsigned workers, std::size_t max_items)
    : workers_(resolve_workers(workers)), max_items_(max_items) {
  if (max_items_ == 0 || max_items_ >= 0xffffffffu)
    throw PoolUsageError("sk::Pool(persistent): max_items must be between 1 and 4294967294");
  const std::uint32_t slots = workers_ * 2 + 2;
  result_capacity_ = std::uint64_t{max_items_} * kResultBytes;
  const auto layout = RunLayout::compute(max_items_, slots, result_capacity_, kSerializedBuffer, kJobArea);
  map_ = Mapping(layout.total);
  v_ = init_run(map_, layout, max_items_, slots, 0);
  pids_.assign(slots, 0);
  generation_.assign(slots, 0);
  try {
    for (std::uint32_t k = 0; k < workers_; ++k) spawn(k, false);
  } catch (...) {
    // SYNC POINT: release, pairs with the workers' acquire of state: the ones
    // already forked see the shutdown and exit.
    v_.hdr().state.store(kShutdown, std::memory_order_release);
    v_.hdr().work_wp.notify_all();
    for (pid_t p : pids_)
      if (p) ::kill(p, SIGKILL), ::waitpid(p, nullptr, 0);
    throw;
  }
}

std::size_t PersistentCore::job_capacity() const noexcept { return v_.hdr().job_capacity; }

void PersistentCore::spawn(std::uint32_t slot, bool join_current) {
  // A replacement joins the job in flight; a fresh worker waits for the next.
  const std::uint32_t seen = v_.hdr().job_seq.load(std::memory_order_relaxed) - (join_current ? 1u : 0u);
  const std::uint32_t tag = make_tag(slot, ++generation_[slot]);
  v_.slot(slot).tag.store(tag, std::memory_order_relaxed);  // published to the worker by fork()
  const pid_t parent = ::getpid();
  const pid_t pid = fork_process({.die_with_parent = true});
  if (pid < 0) {
    const int e = errno;
    throw PoolError(std::string("sk::Pool: fork() failed (") + std::strerror(e) +
                    "); too many processes or not enough memory: use fewer workers");
  }
  if (pid == 0) persistent_worker_main(v_, slot, tag, seen, join_current, parent);
  pids_[slot] = pid;
}

void PersistentCore::respawn_dead() {
  // Between jobs (every worker parked): replace workers that died, in their
  // own slot, and keep the pool at its size.
  unsigned alive = 0;
  for (std::uint32_t s = 0; s < pids_.size(); ++s) {
    if (pids_[s] == 0) continue;
    int st = 0;
    if (::waitpid(pids_[s], &st, WNOHANG) == pids_[s]) {
      pids_[s] = 0;
      v_.slot(s).tag.store(0, std::memory_order_relaxed);
    } else {
      ++alive;
    }
  }
  for (std::uint32_t s = 0; s < pids_.size() && alive < workers_; ++s) {
    if (pids_[s] != 0) continue;
    spawn(s, false);
    ++alive;
  }
}

void PersistentCore::settle(const std::vector<std::pair<pid_t, std::uint32_t>>& workers) noexcept {
  RunHeader& h = v_.hdr();
  const std::uint32_t seq = h.job_seq.load(std::memory_order_relaxed);
  std::vector<std::pair<pid_t, std::uint32_t>> live = workers;
  auto acked = [&](std::uint32_t slot) {
    // SYNC POINT: acquire, pairs with the worker's release store of acked_job:
    // everything it wrote for the job happens-before the next job's reset.
    return v_.slot(slot).acked_job.load(std::memory_order_acquire) == seq;
  };
  const auto deadline = std::chrono::steady_clock::now() + kCancelGrace;
  for (;;) {
    bool all = true;
    for (std::size_t k = 0; k < live.size();) {
      int st = 0;
      if (::waitpid(live[k].first, &st, WNOHANG) == live[k].first) {  // died: respawned at the next job
        pids_[live[k].second] = 0;
        live.erase(live.begin() + static_cast<std::ptrdiff_t>(k));
        continue;
      }
      if (!acked(live[k].second)) all = false;
      ++k;
    }
    if (all) return;
    if (std::chrono::steady_clock::now() > deadline) {
      // A worker still inside an item of a cancelled job: kill it rather than
      // let it write into the next job's memory; it is replaced at the next job.
      for (const auto& [pid, slot] : live)
        if (!acked(slot)) {
          ::kill(pid, SIGKILL);
          int st = 0;
          ::waitpid(pid, &st, 0);
          pids_[slot] = 0;
        }
      return;
    }
    h.done_wp.wait_for(
        [&] {
          for (const auto& w : live)
            if (!acked(w.second)) return false;
          return true;
        },
        std::chrono::milliseconds(20));
  }
}

PersistentCore::~PersistentCore() {
  RunHeader& h = v_.hdr();
  // SYNC POINT: release, pairs with the workers' acquire load of state: they
  // see the shutdown and exit.
  h.state.store(kShutdown, std::memory_order_release);
  h.work_wp.notify_all();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (pid_t& p : pids_) {
    if (p == 0) continue;
    for (;;) {
      int st = 0;
      const pid_t r = ::waitpid(p, &st, WNOHANG);
      if (r == p || (r < 0 && errno != EINTR)) break;
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(p, SIGKILL);
        ::waitpid(p, &st, 0);
        break;
      }
      h.work_wp.notify_all();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    p = 0;
  }
}

}  // namespace sk::ipc::pool
