// Fork, supervise and collect: the process side of sk::Pool.
//
// Parent loop (Run::next): drain every slot's log (acquire on log_count),
// reap dead workers (waitpid WNOHANG), recover their claimed-but-unpublished
// items (retry or WorkerCrashed), kill workers stuck past the per-item
// timeout, report progress, then park on RunHeader::done_wp for at most one
// tick. Workers wake the parent on completion of the run, on errors, and on
// every item when streaming (imap) or reporting progress.
#include <cxxabi.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <thread>
#include <typeinfo>

#include <sk/ipc/fork.hpp>
#include <sk/pool_engine.hpp>

namespace sk::detail {
namespace pool = sk::ipc::pool;

namespace {

constexpr std::uint64_t kErrorsOnlyBuffer = std::uint64_t{1} << 20;         // 1 MiB per slot
constexpr std::uint64_t kSerializedBuffer = std::uint64_t{256} << 20;       // 256 MiB per slot (virtual)
constexpr std::uint64_t kPersistentJobArea = std::uint64_t{1} << 30;        // 1 GiB (virtual)
constexpr std::uint64_t kPersistentResultBytes = 256;                       // per item
constexpr std::chrono::milliseconds kTick{20};
constexpr std::chrono::milliseconds kProgressEvery{50};
constexpr std::chrono::seconds kCancelGrace{2};

// Job table for persistent workers. Constant-initialised (zeroes), filled by
// register_job_fn from static initialisers, so it is complete before main()
// and identical in every forked worker.
constexpr std::uint32_t kMaxJobKinds = 4096;
JobFn g_jobs[kMaxJobKinds];
std::atomic<std::uint32_t> g_njobs{0};

std::uint32_t tick_for(const CallOptions& o) {
  if (!o.timeout) return static_cast<std::uint32_t>(kTick.count());
  const auto quarter = std::chrono::duration_cast<std::chrono::milliseconds>(*o.timeout / 4).count();
  return static_cast<std::uint32_t>(std::clamp<long long>(quarter, 1, kTick.count()));
}

std::uint32_t run_flags(const CallOptions& o) {
  return ((o.stream || o.progress) ? std::uint32_t{pool::kNotifyEach} : 0u) |
         (o.timeout ? std::uint32_t{pool::kTimed} : 0u);
}

// The worker's item loop, shared by both modes. Claims each index the
// scheduler proposes (CAS 0 -> pid) and runs it; returns when the run stops.
template <class Body>
void run_items(pool::RunView v, std::uint32_t slot, const Body& body, bool sweep) {
  const auto me = static_cast<std::uint32_t>(::getpid());
  pool::WorkerScheduler sched(v, slot, me * 2654435761u);
  if (sweep) sched.start_sweep();
  pool::SlotWriter writer(v, slot);
  pool::Slot& s = v.slot(slot);
  const bool timed = (v.hdr().flags & pool::kTimed) != 0;
  while (auto i = sched.next()) {
    std::uint32_t expected = 0;
    // SYNC POINT: acq_rel claim. Acquire pairs with the parent's release reset
    // of a dead worker's claim (we see the item as free only after the reset);
    // release publishes our pid to the parent's recovery scan. Without it two
    // workers could both believe they own an item.
    if (!v.claim(*i).compare_exchange_strong(expected, me, std::memory_order_acq_rel, std::memory_order_relaxed))
      continue;
    if (timed) {
      s.started_ns.store(pool::now_ns(), std::memory_order_relaxed);
      // SYNC POINT: release, pairs with the parent's acquire load of `current`
      // in check_timeouts(): it then reads a started_ns at least this new, so
      // a fresh item is never mistaken for a stuck one.
      s.current.store(*i + 1, std::memory_order_release);
    }
    body(*i, writer);
    if (timed) s.current.store(0, std::memory_order_relaxed);
  }
}

[[noreturn]] void fork_worker_main(pool::RunView v, std::uint32_t slot, const ItemBody& body, bool sweep) {
  run_items(v, slot, body, sweep);
  ipc::exit_child(0);  // flushes what the callable printed (./prog | cat loses it otherwise)
}

// `seen`: the last job this worker must not run, read by the parent before
// fork (reading it here would race with a job published meanwhile).
[[noreturn]] void persistent_worker_main(pool::RunView v, std::uint32_t slot, std::uint32_t seen, bool join_current,
                                         pid_t parent) {
  pool::RunHeader& h = v.hdr();
  for (;;) {
    h.work_wp.wait_for(
        [&] {
          return h.job_seq.load(std::memory_order_acquire) != seen ||
                 h.state.load(std::memory_order_acquire) == pool::kShutdown;
        },
        std::chrono::seconds(1));
    if (::getppid() != parent) ::_exit(0);
    if (h.state.load(std::memory_order_acquire) == pool::kShutdown) ipc::exit_child(0);
    // SYNC POINT: acquire, pairs with the parent's release bump of job_seq:
    // the job fields (kind, items, callable bytes) are visible after it.
    const std::uint32_t seq = h.job_seq.load(std::memory_order_acquire);
    if (seq == seen) continue;
    seen = seq;
    if (h.state.load(std::memory_order_acquire) == pool::kRunning) {
      const std::uint32_t kind = h.job_kind;
      if (kind < std::min(g_njobs.load(), kMaxJobKinds)) {
        const JobFn fn = g_jobs[kind];
        run_items(v, slot, [&](std::uint32_t i, pool::SlotWriter& w) { fn(v, i, w); }, join_current);
      } else {  // registered after this worker was forked (e.g. a library loaded later)
        run_items(
            v, slot,
            [](std::uint32_t i, pool::SlotWriter& w) {
              w.threw(i, "sk::PoolUsageError",
                      "this callable's job kind did not exist when the persistent workers were forked; "
                      "use the default mode (sk::Pool(n)) for it");
            },
            join_current);
      }
    }
    join_current = false;
    // What the job printed reaches a pipe or file before map() returns.
    ipc::flush_stdio();
    // SYNC POINT: release, pairs with the parent's acquire in wait_acks():
    // everything this worker wrote for the job happens-before the parent
    // resets the shared state for the next one.
    v.slot(slot).acked_job.store(seen, std::memory_order_release);
    h.done_wp.notify_all();
  }
}

[[noreturn]] void throw_fork_failed(int e) {
  throw PoolError(std::string("sk::Pool: fork() failed (") + std::strerror(e) +
                  "); too many processes or not enough memory: use fewer workers");
}

}  // namespace

std::uint32_t register_job_fn(JobFn fn) noexcept {
  const std::uint32_t id = g_njobs.fetch_add(1);
  if (id >= kMaxJobKinds) return kMaxJobKinds;  // reported when used
  g_jobs[id] = fn;
  return id;
}

void describe_current_exception(std::string& type, std::string& what) {
  const std::type_info* ti = abi::__cxa_current_exception_type();
  type = "unknown";
  if (ti) {
    int status = 0;
    char* dem = abi::__cxa_demangle(ti->name(), nullptr, nullptr, &status);
    type = (status == 0 && dem) ? dem : ti->name();
    std::free(dem);
  }
  try {
    throw;
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "(not derived from std::exception)";
  }
}

unsigned resolve_workers(unsigned requested) noexcept {
  if (requested != 0) return requested;
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : hc;
}

// ---------------------------------------------------------------------------
// Run: fork mode

Run::Run(std::size_t n, std::uint32_t result_size, bool serialized, unsigned workers, CallOptions opts,
         ItemBody body)
    : n_(n), opts_(std::move(opts)), body_(std::move(body)) {
  if (n >= 0xffffffffu)
    throw PoolUsageError("sk::Pool: " + std::to_string(n) + " items in one call; the limit is 4294967294: split the input");
  workers = std::max(1u, std::min<unsigned>(workers, static_cast<unsigned>(std::max<std::size_t>(n, 1))));
  const std::uint32_t slots = workers * 2 + 2;  // spares for replacements
  const auto layout = pool::RunLayout::compute(n, slots, std::uint64_t{n} * result_size,
                                               serialized ? kSerializedBuffer : kErrorsOnlyBuffer, 0);
  own_map_ = pool::Mapping(layout.total);
  v_ = pool::init_run(own_map_, layout, n, slots, result_size);
  pool::RunHeader& h = v_.hdr();
  h.n_items = static_cast<std::uint32_t>(n);
  h.flags = run_flags(opts_);
  h.state.store(pool::kRunning, std::memory_order_relaxed);  // published to workers by fork()
  for (std::uint32_t k = 0; k < workers; ++k) {
    const pool::Range r{static_cast<std::uint32_t>(n * k / workers), static_cast<std::uint32_t>(n * (k + 1) / workers)};
    if (!r.empty()) v_.slot(k).deque.push(r.pack());  // the worker forked for slot k owns it from then on
  }
  seen_.assign(slots, 0);
  delivered_.assign(n, 0);
  attempts_.assign(n, 0);
  for (std::uint32_t s = slots; s-- > workers;) spares_.push_back(s);
  t0_ = std::chrono::steady_clock::now();
  try {
    for (std::uint32_t k = 0; k < workers; ++k) spawn(k, false);
  } catch (...) {
    cancel();
    throw;
  }
}

void Run::spawn(std::uint32_t slot, bool replacement) {
  if (core_) {
    core_->spawn(slot, replacement);
    live_.push_back({core_->pids_[slot], slot});
    return;
  }
  const pid_t pid = ipc::fork_process({.die_with_parent = true});
  if (pid < 0) throw_fork_failed(errno);
  if (pid == 0) {
    v_.slot(slot).pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_relaxed);
    fork_worker_main(v_, slot, body_, replacement);
  }
  v_.slot(slot).pid.store(static_cast<std::uint32_t>(pid), std::memory_order_relaxed);
  live_.push_back({pid, slot});
}

// ---------------------------------------------------------------------------
// Run: persistent mode

Run::Run(std::shared_ptr<PersistentCore> core, std::size_t n, std::uint32_t result_size, bool serialized,
         CallOptions opts, std::uint32_t kind, const std::function<void(std::byte*, std::size_t)>& write_job)
    : core_(std::move(core)), job_lock_(core_->mu_), n_(n), opts_(std::move(opts)) {
  (void)serialized;
  if (n > core_->max_items_)
    throw PoolUsageError("sk::Pool(persistent): " + std::to_string(n) + " items in one call, but this pool was made for at most " +
                         std::to_string(core_->max_items_) + " per call: split the input or raise max_items");
  if (std::uint64_t{n} * result_size > core_->result_capacity_)
    throw PoolUsageError("sk::Pool(persistent): results of " + std::to_string(result_size) + " bytes do not fit the result array");
  if (kind >= g_njobs.load() || kind >= kMaxJobKinds)
    throw PoolUsageError("sk::Pool(persistent): this callable's job kind was not registered before the workers were "
                         "forked (too many distinct callables, or a shared library loaded later): use the default mode");
  v_ = core_->v_;
  pool::RunHeader& h = v_.hdr();
  core_->respawn_dead();
  // Every worker is parked between jobs (acked the previous one): reset the
  // shared state for this job.
  for (std::uint32_t s = 0; s < h.n_slots; ++s) {
    pool::Slot& sl = v_.slot(s);
    sl.log_count.store(0, std::memory_order_relaxed);
    sl.current.store(0, std::memory_order_relaxed);
    sl.flags.store(0, std::memory_order_relaxed);
    sl.buf_used = 0;
    std::destroy_at(&sl.deque);
    new (&sl.deque) pool::RangeDeque{};
  }
  std::memset(static_cast<void*>(&v_.claim(0)), 0, n * sizeof(std::uint32_t));
  h.n_items = static_cast<std::uint32_t>(n);
  h.result_size = result_size;
  h.flags = run_flags(opts_);
  h.idle.store(0, std::memory_order_relaxed);
  h.job_kind = kind;
  write_job(v_.job(), h.job_capacity);
  std::vector<std::uint32_t> slots;
  for (std::uint32_t s = 0; s < h.n_slots; ++s)
    if (core_->pids_[s] != 0) slots.push_back(s);
  const auto w = static_cast<std::uint32_t>(slots.size());
  for (std::uint32_t k = 0; k < w; ++k) {
    const pool::Range r{static_cast<std::uint32_t>(n * k / w), static_cast<std::uint32_t>(n * (k + 1) / w)};
    if (!r.empty()) v_.slot(slots[k]).deque.push(r.pack());
    live_.push_back({core_->pids_[slots[k]], slots[k]});
  }
  seen_.assign(h.n_slots, 0);
  delivered_.assign(n, 0);
  attempts_.assign(n, 0);
  for (std::uint32_t s = h.n_slots; s-- > 0;)
    if (core_->pids_[s] == 0) spares_.push_back(s);
  t0_ = std::chrono::steady_clock::now();
  h.state.store(pool::kRunning, std::memory_order_relaxed);
  // SYNC POINT: release, pairs with the workers' acquire load of job_seq:
  // publishes the reset, the job fields, the job area and the ranges.
  h.job_seq.fetch_add(1, std::memory_order_release);
  h.work_wp.notify_all();
}

// ---------------------------------------------------------------------------
// Run: collecting

std::optional<std::uint32_t> Run::free_slot() noexcept {
  if (spares_.empty()) return std::nullopt;
  const std::uint32_t s = spares_.back();
  spares_.pop_back();
  return s;
}

void Run::drain(std::vector<Outcome>& out) {
  pool::RunHeader& h = v_.hdr();
  counts_.resize(h.n_slots);
  std::uint64_t fresh = 0;
  for (std::uint32_t s = 0; s < h.n_slots; ++s) {
    // SYNC POINT: acquire, pairs with SlotWriter::append's release store:
    // the entries up to this count and the bytes they point to are complete.
    counts_[s] = v_.slot(s).log_count.load(std::memory_order_acquire);
    fresh += counts_[s] - seen_[s];
  }
  out.reserve(out.size() + fresh);
  for (std::uint32_t s = 0; s < h.n_slots; ++s) {
    const std::uint64_t c = counts_[s];
    const pool::LogEntry* log = v_.log(s);
    for (; seen_[s] < c; ++seen_[s]) {
      const pool::LogEntry e = log[seen_[s]];
      if (e.index >= n_ || delivered_[e.index]) continue;
      delivered_[e.index] = 1;
      ++done_;
      out.push_back({e.kind == pool::kOk ? Outcome::Kind::ok : Outcome::Kind::threw, e.index, s, e.offset, 0});
    }
  }
}

void Run::handle_death(const Worker& w, int status, std::vector<Outcome>& out) {
  drain(out);  // whatever it published before dying counts
  pool::Slot& sl = v_.slot(w.slot);
  sl.pid.store(0, std::memory_order_relaxed);
  sl.current.store(0, std::memory_order_relaxed);
  if (core_) core_->pids_[w.slot] = 0;
  const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  std::optional<std::uint32_t> timed;
  for (auto it = timed_out_.begin(); it != timed_out_.end(); ++it)
    if (it->first == w.pid) {
      timed = it->second;
      timed_out_.erase(it);
      break;
    }
  const auto pid = static_cast<std::uint32_t>(w.pid);
  bool freed = false;
  for (std::uint32_t i = 0; i < n_; ++i) {
    if (delivered_[i] || v_.claim(i).load(std::memory_order_relaxed) != pid) continue;
    if (timed && *timed == i) {
      delivered_[i] = 1;
      ++done_;
      out.push_back({Outcome::Kind::timed_out, i, w.slot, 0, sig});
    } else if (++attempts_[i] > opts_.retries) {
      delivered_[i] = 1;
      ++done_;
      out.push_back({Outcome::Kind::crashed, i, w.slot, 0, sig});
    } else {
      // SYNC POINT: release, pairs with the acq_rel claim CAS of the worker
      // that re-runs the item (the dead worker's claim is gone for good).
      v_.claim(i).store(0, std::memory_order_release);
      freed = true;
    }
  }
  pool::RunHeader& h = v_.hdr();
  // A dead worker may also have held a private range or a stolen one that
  // nobody else can see: every idle worker re-scans (sweep), freed or not.
  (void)freed;
  h.sweep_epoch.fetch_add(1, std::memory_order_release);
  h.work_wp.notify_all();
  if (done_ < n_ && h.state.load(std::memory_order_relaxed) == pool::kRunning) {
    std::uint32_t slot = w.slot;
    if (auto spare = free_slot()) {
      slot = *spare;
    } else {
      sl.flags.fetch_or(pool::kSlotRetired, std::memory_order_relaxed);  // reuse: sweep/steal only
    }
    spawn(slot, true);
  }
}

void Run::reap(std::vector<Outcome>& out, bool block_for_killed) {
  for (std::size_t k = 0; k < live_.size();) {
    const Worker w = live_[k];
    bool killed = false;
    for (auto& t : timed_out_) killed |= (t.first == w.pid);
    int status = 0;
    const pid_t r = ::waitpid(w.pid, &status, (block_for_killed && killed) ? 0 : WNOHANG);
    if (r == w.pid || (r < 0 && errno == ECHILD)) {
      live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(k));
      if (r < 0) status = 0;
      handle_death(w, status, out);
      continue;  // live_ may have grown (replacement); it is re-scanned next time
    }
    ++k;
  }
}

void Run::check_timeouts() {
  if (!opts_.timeout) return;
  const auto limit = static_cast<std::uint64_t>(opts_.timeout->count());
  const std::uint64_t now = pool::now_ns();
  for (const Worker& w : live_) {
    const pool::Slot& sl = v_.slot(w.slot);
    // SYNC POINT: acquire, pairs with the release store of `current` in
    // run_items(): started_ns read below belongs to this item or a later one.
    const std::uint32_t c = sl.current.load(std::memory_order_acquire);
    if (c == 0) continue;
    const std::uint64_t started = sl.started_ns.load(std::memory_order_relaxed);
    if (now <= started || now - started <= limit) continue;
    bool already = false;
    for (auto& t : timed_out_) already |= (t.first == w.pid);
    if (already) continue;
    timed_out_.emplace_back(w.pid, c - 1);
    ::kill(w.pid, SIGKILL);
  }
}

void Run::report_progress(bool final) {
  if (!opts_.progress) return;
  const auto now = std::chrono::steady_clock::now();
  if (!final && now - last_progress_ < kProgressEvery) return;
  last_progress_ = now;
  PoolProgress p;
  p.done = done_;
  p.total = n_;
  p.elapsed_s = std::chrono::duration<double>(now - t0_).count();
  p.rate = p.elapsed_s > 0 ? static_cast<double>(done_) / p.elapsed_s : 0;
  p.eta_s = (p.rate > 0 && done_ < n_) ? static_cast<double>(n_ - done_) / p.rate : 0;
  opts_.progress(p);
}

std::uint64_t Run::published_sum() const noexcept {
  std::uint64_t sum = 0;
  for (std::uint32_t s = 0; s < v_.hdr().n_slots; ++s) sum += v_.slot(s).log_count.load(std::memory_order_relaxed);
  return sum;
}

bool Run::next(std::vector<Outcome>& out) {
  out.clear();
  if (done_ == n_) {
    finish();
    return false;
  }
  pool::RunHeader& h = v_.hdr();
  const auto tick = std::chrono::milliseconds(tick_for(opts_));
  for (;;) {
    const std::uint64_t published = published_sum();
    drain(out);
    reap(out, true);
    if (!out.empty()) {
      published_seen_ = published;
      report_progress(done_ == n_);
      if (done_ == n_) finish();
      return true;
    }
    check_timeouts();
    if (!timed_out_.empty()) continue;  // reap the killed worker at once
    published_seen_ = published;
    report_progress(false);
    h.done_wp.wait_for([&] { return published_sum() != published_seen_; }, tick);
  }
}

void Run::finish() noexcept {
  if (finished_) return;
  finished_ = true;
  pool::RunHeader& h = v_.hdr();
  h.state.store(pool::kFinished, std::memory_order_release);
  h.work_wp.notify_all();
  if (!core_) {
    for (const Worker& w : live_) {
      int st = 0;
      while (::waitpid(w.pid, &st, 0) < 0 && errno == EINTR) {
      }
    }
    live_.clear();
    return;
  }
  // Persistent: wait until every live worker has left the job.
  const std::uint32_t seq = h.job_seq.load(std::memory_order_relaxed);
  const auto deadline = std::chrono::steady_clock::now() + kCancelGrace;
  for (;;) {
    bool all = true;
    for (std::size_t k = 0; k < live_.size();) {
      int st = 0;
      if (::waitpid(live_[k].pid, &st, WNOHANG) == live_[k].pid) {  // died: respawned at the next job
        core_->pids_[live_[k].slot] = 0;
        live_.erase(live_.begin() + static_cast<std::ptrdiff_t>(k));
        continue;
      }
      // SYNC POINT: acquire, pairs with the worker's release store of acked_job.
      if (v_.slot(live_[k].slot).acked_job.load(std::memory_order_acquire) != seq) all = false;
      ++k;
    }
    if (all) break;
    if (std::chrono::steady_clock::now() > deadline) {
      // A worker still inside an item of a cancelled job: kill it rather than
      // let it write into the next job's memory; it is replaced at the next job.
      for (const Worker& w : live_)
        if (v_.slot(w.slot).acked_job.load(std::memory_order_acquire) != seq) {
          ::kill(w.pid, SIGKILL);
          int st = 0;
          ::waitpid(w.pid, &st, 0);
          core_->pids_[w.slot] = 0;
        }
      break;
    }
    h.done_wp.wait_for(
        [&] {
          for (const Worker& w : live_)
            if (v_.slot(w.slot).acked_job.load(std::memory_order_acquire) != seq) return false;
          return true;
        },
        std::chrono::milliseconds(20));
  }
  live_.clear();
  h.state.store(pool::kIdle, std::memory_order_relaxed);
}

void Run::cancel() noexcept {
  if (finished_) return;
  pool::RunHeader& h = v_.hdr();
  h.state.store(pool::kCancelled, std::memory_order_release);
  h.work_wp.notify_all();
  if (!core_) {
    for (const Worker& w : live_) ::kill(w.pid, SIGKILL);
  }
  finish();
}

Run::~Run() { cancel(); }

void Run::raise(const Outcome& o) const {
  switch (o.kind) {
    case Outcome::Kind::threw: {
      std::string type, what;
      pool::read_error(v_, o.slot, o.offset, type, what);
      throw ItemError(o.index, std::move(type), std::move(what));
    }
    case Outcome::Kind::crashed:
      throw WorkerCrashed(o.index, o.signal, opts_.retries + 1);
    case Outcome::Kind::timed_out:
      throw TimeoutError(o.index, opts_.timeout ? std::chrono::duration<double>(*opts_.timeout).count() : 0.0);
    case Outcome::Kind::ok:
      break;
  }
  throw PoolError("sk::Pool: internal error: raise() called for a successful item");
}

// ---------------------------------------------------------------------------
// PersistentCore

PersistentCore::PersistentCore(unsigned workers, std::size_t max_items)
    : workers_(resolve_workers(workers)), max_items_(max_items) {
  if (max_items_ == 0 || max_items_ >= 0xffffffffu)
    throw PoolUsageError("sk::Pool(persistent): max_items must be between 1 and 4294967294");
  const std::uint32_t slots = workers_ * 2 + 2;
  result_capacity_ = std::uint64_t{max_items_} * kPersistentResultBytes;
  const auto layout =
      pool::RunLayout::compute(max_items_, slots, result_capacity_, kSerializedBuffer, kPersistentJobArea);
  map_ = pool::Mapping(layout.total);
  v_ = pool::init_run(map_, layout, max_items_, slots, 0);
  pids_.assign(slots, 0);
  try {
    for (std::uint32_t k = 0; k < workers_; ++k) spawn(k, false);
  } catch (...) {
    v_.hdr().state.store(pool::kShutdown, std::memory_order_release);
    v_.hdr().work_wp.notify_all();
    for (pid_t p : pids_)
      if (p) ::kill(p, SIGKILL), ::waitpid(p, nullptr, 0);
    throw;
  }
}

std::size_t PersistentCore::job_capacity() const noexcept { return v_.hdr().job_capacity; }

void PersistentCore::spawn(std::uint32_t slot, bool join_current) {
  const pid_t parent = ::getpid();
  // A replacement joins the job in flight; a fresh worker waits for the next.
  const std::uint32_t seen = v_.hdr().job_seq.load(std::memory_order_relaxed) - (join_current ? 1u : 0u);
  const pid_t pid = ipc::fork_process({.die_with_parent = true});
  if (pid < 0) throw_fork_failed(errno);
  if (pid == 0) {
    v_.slot(slot).pid.store(static_cast<std::uint32_t>(::getpid()), std::memory_order_relaxed);
    persistent_worker_main(v_, slot, seen, join_current, parent);
  }
  pids_[slot] = pid;
  v_.slot(slot).pid.store(static_cast<std::uint32_t>(pid), std::memory_order_relaxed);
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
      v_.slot(s).pid.store(0, std::memory_order_relaxed);
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

PersistentCore::~PersistentCore() {
  pool::RunHeader& h = v_.hdr();
  h.state.store(pool::kShutdown, std::memory_order_release);
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

}  // namespace sk::detail
