// The worker's side of a Pool run: claim chunks the scheduler proposes, run
// their items, publish (see scheduler.hpp, result_writer.hpp).
#include <unistd.h>

#include <chrono>

#include <sk/ipc/fork.hpp>
#include <sk/ipc/internal/pool/job.hpp>
#include <sk/ipc/internal/pool/scheduler.hpp>

#include "worker.hpp"

namespace sk::ipc::pool {

namespace {

// Runs every chunk this worker can claim until the run stops or is done.
template <class Body>
void run_chunks(RunView v, std::uint32_t slot, std::uint32_t tag, const Body& body, bool sweep) {
  WorkerScheduler sched(v, slot, static_cast<std::uint32_t>(::getpid()) * 2654435761u);
  if (sweep) sched.start_sweep();
  ResultWriter w(v, slot, tag);
  while (auto c = sched.next()) {
    std::uint32_t first = 0;
    if (!w.claim(*c, first)) continue;
    body(first, v.chunk_end(*c), w);
    w.chunk_done();
  }
}

}  // namespace

void fork_worker_main(RunView v, std::uint32_t slot, std::uint32_t tag, const ItemBody& body, bool sweep) {
  run_chunks(v, slot, tag, body, sweep);
  exit_child(0);  // flushes what the callable printed (./prog | cat loses it otherwise)
}

// `seen`: the last job this worker must not run, read by the parent before
// fork (reading it here would race with a job published meanwhile).
void persistent_worker_main(RunView v, std::uint32_t slot, std::uint32_t tag, std::uint32_t seen, bool join_current,
                            pid_t parent) {
  RunHeader& h = v.hdr();
  for (;;) {
    h.work_wp.wait_for(
        [&] {
          // SYNC POINT: acquire loads, pair with the parent's release bump of
          // job_seq and release store of kShutdown (see below).
          return h.job_seq.load(std::memory_order_acquire) != seen ||
                 h.state.load(std::memory_order_acquire) == kShutdown;
        },
        std::chrono::seconds(1));
    if (::getppid() != parent) ::_exit(0);
    // SYNC POINT: acquire, pairs with the parent's release store of kShutdown.
    if (h.state.load(std::memory_order_acquire) == kShutdown) exit_child(0);
    // SYNC POINT: acquire, pairs with the parent's release bump of job_seq:
    // the job fields (kind, geometry, items, callable bytes) and the reset
    // chunk words are visible after it. Without it a worker could run a job
    // half-written.
    const std::uint32_t seq = h.job_seq.load(std::memory_order_acquire);
    if (seq == seen) continue;
    seen = seq;
    // SYNC POINT: acquire, pairs with the parent's release stores of state.
    if (h.state.load(std::memory_order_acquire) == kRunning) {
      if (const JobFn fn = job_fn(h.job_kind)) {
        run_chunks(
            v, slot, tag, [&](std::uint32_t b, std::uint32_t e, ResultWriter& w) { fn(v, b, e, w); }, join_current);
      } else {  // registered after this worker was forked (e.g. a library loaded later)
        run_chunks(
            v, slot, tag,
            [](std::uint32_t b, std::uint32_t e, ResultWriter& w) {
              for (std::uint32_t i = b; i < e; ++i)
                w.threw(i, "sk::PoolUsageError",
                        "this callable's job kind did not exist when the persistent workers were forked; "
                        "use the default mode (sk::Pool(n)) for it");
            },
            join_current);
      }
    }
    join_current = false;
    // What the job printed reaches a pipe or file before map() returns.
    flush_stdio();
    // SYNC POINT: release, pairs with the parent's acquire in settle():
    // everything this worker wrote for the job happens-before the parent
    // resets the shared state for the next one.
    v.slot(slot).acked_job.store(seen, std::memory_order_release);
    h.done_wp.notify_all();
  }
}

}  // namespace sk::ipc::pool
