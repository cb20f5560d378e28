// Collector side of one Pool call: lays out the run, starts or wakes the
// workers, and turns what they publish into outcomes (see run.hpp).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <new>

#include <sk/ipc/fork.hpp>
#include <sk/ipc/internal/pool/item_lifecycle.hpp>
#include <sk/ipc/internal/pool/job.hpp>
#include <sk/ipc/internal/pool/run.hpp>
#include <sk/ipc/pool_errors.hpp>

#include "worker.hpp"

namespace sk::ipc::pool {

namespace {

constexpr std::uint64_t kErrorsOnlyBuffer = std::uint64_t{1} << 20;    // 1 MiB per slot
constexpr std::uint64_t kSerializedBuffer = std::uint64_t{256} << 20;  // 256 MiB per slot (virtual)
constexpr std::chrono::milliseconds kTick{20};

// Chunk sizing. A chunk is claimed with one CAS and reported with one log
// entry, so it should hold enough cheap items to make those two invisible,
// and few enough expensive ones that the last chunk does not leave the other
// workers idle (stealing moves whole chunks).
constexpr double kChunkTargetNs = 50'000;  // a chunk of about 50 us of work
constexpr std::uint32_t kMaxChunk = 4096;
constexpr std::uint32_t kUnknownCostChunk = 256;  // first call of a callable: cost unknown
constexpr std::uint32_t kStreamChunk = 64;        // imap/progress: results come back at least this often

std::uint32_t tick_ms(const CallOptions& o) {
  if (!o.timeout) return static_cast<std::uint32_t>(kTick.count());
  const auto quarter = std::chrono::duration_cast<std::chrono::milliseconds>(*o.timeout / 4).count();
  return static_cast<std::uint32_t>(std::clamp<long long>(quarter, 1, kTick.count()));
}

std::uint32_t run_flags(const CallOptions& o, bool serialized) {
  return ((o.stream || o.progress) ? std::uint32_t{kNotifyEach} : 0u) | (o.timeout ? std::uint32_t{kTimed} : 0u) |
         (serialized ? std::uint32_t{kSerialized} : 0u) | (o.lifecycle ? std::uint32_t{kLifecycle} : 0u);
}

// pool.map<W>: how often the collector looks at hook deadlines at most (it
// also wakes at the earliest deadline it sees).
constexpr std::chrono::milliseconds kLifecycleTick{5};

std::uint32_t chunk_size_for(std::size_t n, unsigned workers, const CallOptions& o) {
  // Known cost: chunks of about kChunkTargetNs, at least 4 per worker (so an
  // idle worker can steal). Unknown cost (the first call of a callable): at
  // least 16 per worker, because a worker gives away only the upper half of
  // what it has left, so slow items at the start of its block are spread
  // only when they span several chunks.
  const std::size_t per_worker = o.ns_per_item > 0 ? 4 : 16;
  const std::size_t fair = std::max<std::size_t>(1, n / (std::size_t{workers} * per_worker));
  std::size_t c = o.ns_per_item > 0 ? static_cast<std::size_t>(std::max(1.0, kChunkTargetNs / o.ns_per_item))
                                    : kUnknownCostChunk;
  c = std::min({c, fair, std::size_t{kMaxChunk}});
  if (o.stream || o.progress || o.timeout) c = std::min<std::size_t>(c, kStreamChunk);
  if (o.lifecycle) c = 1;  // an item is a whole Skprocess lifecycle: share them out one by one
  return static_cast<std::uint32_t>(std::max<std::size_t>(c, 1));
}

[[noreturn]] void throw_fork_failed(int e) {
  throw PoolError(std::string("sk::Pool: fork() failed (") + std::strerror(e) +
                  "); too many processes or not enough memory: use fewer workers");
}

}  // namespace

unsigned resolve_workers(unsigned requested) noexcept {
  if (requested != 0) return requested;
  const long hc = ::sysconf(_SC_NPROCESSORS_ONLN);
  return hc <= 0 ? 1u : static_cast<unsigned>(hc);
}

void read_error(RunView v, std::uint32_t slot, std::uint64_t off, std::string& type, std::string& what) {
  if (off == kNoRecord) {
    type = "sk::PoolError";
    what = "the item threw, but its error record did not fit the worker's result buffer";
    return;
  }
  const std::byte* p = v.buf(slot) + off;
  std::uint32_t tl = 0, wl = 0;
  std::memcpy(&tl, p, 4);
  type.assign(reinterpret_cast<const char*>(p + 4), tl);
  std::memcpy(&wl, p + 4 + tl, 4);
  what.assign(reinterpret_cast<const char*>(p + 8 + tl), wl);
}

std::span<const std::byte> Run::result_bytes(std::uint32_t i) const noexcept {
  const std::uint64_t place = v_.offset(i);
  const std::byte* p = v_.buf(place_slot(place)) + place_offset(place);
  std::uint64_t len = 0;
  std::memcpy(&len, p, sizeof len);
  return {p + sizeof len, static_cast<std::size_t>(len)};
}

// Both modes: chunk geometry, the initial ranges, per-item bookkeeping.
void Run::lay_out_chunks(std::uint32_t workers) {
  RunHeader& h = v_.hdr();
  h.n_items = static_cast<std::uint32_t>(n_);
  h.chunk_size = chunk_size_for(n_, workers, opts_);
  h.n_chunks = static_cast<std::uint32_t>((n_ + h.chunk_size - 1) / h.chunk_size);
  delivered_.assign(n_, 0);
  attempts_.assign(n_, 0);
  threw_in_.assign(h.n_chunks, 0);
  seen_.assign(h.n_slots, 0);
  workers_ = workers;
}

// ---------------------------------------------------------------------------
// Fork mode

Run::Run(std::size_t n, std::uint32_t result_size, bool serialized, unsigned workers, CallOptions opts,
         ItemBody body)
    : n_(n), opts_(std::move(opts)), body_(std::move(body)) {
  if (n >= 0xffffffffu)
    throw PoolUsageError("sk::Pool: " + std::to_string(n) +
                         " items in one call; the limit is 4294967294: split the input");
  workers = std::max(1u, std::min<unsigned>(workers, static_cast<unsigned>(std::max<std::size_t>(n, 1))));
  const std::uint32_t slots = workers * 2 + 2;  // spares for replacements
  const auto layout = RunLayout::compute(n, slots, std::uint64_t{n} * result_size,
                                         serialized ? kSerializedBuffer : kErrorsOnlyBuffer, 0);
  own_map_ = Mapping(layout.total);
  v_ = init_run(own_map_, layout, n, slots, result_size);
  RunHeader& h = v_.hdr();
  h.flags = run_flags(opts_, serialized);
  lay_out_chunks(workers);
  h.state.store(kRunning, std::memory_order_relaxed);  // published to the workers by fork()
  for (std::uint32_t k = 0; k < workers; ++k) {
    const Range r{static_cast<std::uint32_t>(std::uint64_t{h.n_chunks} * k / workers),
                  static_cast<std::uint32_t>(std::uint64_t{h.n_chunks} * (k + 1) / workers)};
    if (!r.empty()) v_.slot(k).deque.push(r.pack());  // the worker forked for slot k owns it from then on
  }
  generation_.assign(slots, 0);
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
    live_.push_back({core_->pids_[slot], slot, v_.slot(slot).tag.load(std::memory_order_relaxed)});
    return;
  }
  const std::uint32_t tag = make_tag(slot, ++generation_[slot]);
  v_.slot(slot).tag.store(tag, std::memory_order_relaxed);  // published to the worker by fork()
  const pid_t pid = fork_process({.die_with_parent = true});
  if (pid < 0) throw_fork_failed(errno);
  if (pid == 0) fork_worker_main(v_, slot, tag, body_, replacement);
  live_.push_back({pid, slot, tag});
}

// ---------------------------------------------------------------------------
// Persistent mode

Run::Run(std::shared_ptr<PersistentCore> core, std::size_t n, std::uint32_t result_size, bool serialized,
         CallOptions opts, std::uint32_t kind, const std::function<void(std::byte*, std::size_t)>& write_job)
    : core_(std::move(core)), job_lock_(core_->mu_), n_(n), opts_(std::move(opts)) {
  if (n > core_->max_items_)
    throw PoolUsageError("sk::Pool(persistent): " + std::to_string(n) +
                         " items in one call, but this pool was made for at most " + std::to_string(core_->max_items_) +
                         " per call: split the input or raise max_items");
  if (std::uint64_t{n} * result_size > core_->result_capacity_)
    throw PoolUsageError("sk::Pool(persistent): results of " + std::to_string(result_size) +
                         " bytes do not fit the result array");
  if (job_fn(kind) == nullptr)
    throw PoolUsageError(
        "sk::Pool(persistent): this callable's job kind was not registered before the workers were "
        "forked (too many distinct callables, or a shared library loaded later): use the default mode");
  v_ = core_->v_;
  RunHeader& h = v_.hdr();
  core_->respawn_dead();
  // Every worker is parked between jobs (acked the previous one): reset the
  // shared state for this job.
  for (std::uint32_t s = 0; s < h.n_slots; ++s) {
    Slot& sl = v_.slot(s);
    sl.log_count.store(0, std::memory_order_relaxed);
    sl.current.store(0, std::memory_order_relaxed);
    sl.flags.store(0, std::memory_order_relaxed);
    sl.buf_used = 0;
    std::destroy_at(&sl.deque);
    new (&sl.deque) RangeDeque{};
  }
  h.result_size = result_size;
  h.flags = run_flags(opts_, serialized);
  h.idle.store(0, std::memory_order_relaxed);
  h.job_kind = kind;
  write_job(v_.job(), h.job_capacity);
  std::vector<std::uint32_t> slots;
  for (std::uint32_t s = 0; s < h.n_slots; ++s)
    if (core_->pids_[s] != 0) slots.push_back(s);
  const auto w = static_cast<std::uint32_t>(slots.size());
  lay_out_chunks(w);
  std::memset(static_cast<void*>(&v_.chunk(0)), 0, std::size_t{h.n_chunks} * sizeof(std::uint64_t));
  if (opts_.lifecycle) std::memset(static_cast<void*>(&v_.resume(0)), 0, n_ * sizeof(ItemResume));
  for (std::uint32_t k = 0; k < w; ++k) {
    const Range r{static_cast<std::uint32_t>(std::uint64_t{h.n_chunks} * k / w),
                  static_cast<std::uint32_t>(std::uint64_t{h.n_chunks} * (k + 1) / w)};
    if (!r.empty()) v_.slot(slots[k]).deque.push(r.pack());
    live_.push_back({core_->pids_[slots[k]], slots[k], v_.slot(slots[k]).tag.load(std::memory_order_relaxed)});
  }
  for (std::uint32_t s = h.n_slots; s-- > 0;)
    if (core_->pids_[s] == 0) spares_.push_back(s);
  t0_ = std::chrono::steady_clock::now();
  h.state.store(kRunning, std::memory_order_relaxed);
  // SYNC POINT: release, pairs with the workers' acquire load of job_seq:
  // publishes the reset, the job fields, the job area and the ranges. Without
  // it a worker could run the new job over the previous job's chunk words.
  h.job_seq.fetch_add(1, std::memory_order_release);
  h.work_wp.notify_all();
}

// ---------------------------------------------------------------------------
// Collecting

std::optional<std::uint32_t> Run::free_slot() noexcept {
  if (spares_.empty()) return std::nullopt;
  const std::uint32_t s = spares_.back();
  spares_.pop_back();
  return s;
}

// Items [begin, end) succeeded, minus those already delivered (threw).
void Run::deliver_range(std::uint32_t begin, std::uint32_t end, std::uint32_t slot, std::vector<Outcome>& out) {
  std::uint32_t run = begin;
  for (std::uint32_t i = begin; i <= end; ++i) {
    if (i == end || delivered_[i]) {
      if (run < i) {
        std::memset(&delivered_[run], 1, i - run);
        done_ += i - run;
        out.push_back({Outcome::Kind::ok, run, i, slot, 0, 0});
      }
      run = i + 1;
    }
  }
}

void Run::drain(std::vector<Outcome>& out) {
  RunHeader& h = v_.hdr();
  counts_.resize(h.n_slots);
  for (std::uint32_t s = 0; s < h.n_slots; ++s) {
    // SYNC POINT: acquire, pairs with ResultWriter::append's release store:
    // the entries up to this count, and the results and records they cover,
    // are complete. Without it a result could be read half-written.
    counts_[s] = v_.slot(s).log_count.load(std::memory_order_acquire);
  }
  for (std::uint32_t s = 0; s < h.n_slots; ++s) {
    const std::uint64_t c = counts_[s];
    const LogEntry* log = v_.log(s);
    for (; seen_[s] < c; ++seen_[s]) {
      const LogEntry e = log[seen_[s]];
      if (e.kind == kThrew) {
        if (e.index >= n_ || delivered_[e.index]) continue;
        delivered_[e.index] = 1;
        ++done_;
        ++threw_in_[e.index / h.chunk_size];
        out.push_back({Outcome::Kind::threw, e.index, e.index + 1, s, e.offset, 0});
      } else if (e.index < h.n_chunks) {
        const std::uint32_t b = v_.chunk_begin(e.index), end = v_.chunk_end(e.index);
        const std::uint64_t from = std::min<std::uint64_t>(b + e.offset, end);
        if (threw_in_[e.index] == 0 && from < end && !delivered_[from]) {
          // The common case: nothing in the range was delivered before.
          std::memset(&delivered_[from], 1, end - from);
          done_ += end - from;
          out.push_back({Outcome::Kind::ok, static_cast<std::uint32_t>(from), end, s, 0, 0});
        } else {
          deliver_range(static_cast<std::uint32_t>(from), end, s, out);
        }
      }
    }
  }
}

void Run::handle_death(const Worker& w, int status, std::vector<Outcome>& out) {
  drain(out);  // whatever it published before dying counts
  RunHeader& h = v_.hdr();
  Slot& sl = v_.slot(w.slot);
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
  for (std::uint32_t c = 0; c < h.n_chunks; ++c) {
    // SYNC POINT: acquire, pairs with ResultWriter::finished's release store:
    // the results of the items below `done` are complete (the worker is dead,
    // so the word no longer moves).
    ChunkWord cw = ChunkWord::unpack(v_.chunk(c).load(std::memory_order_acquire));
    if (cw.owner != w.tag) continue;
    const std::uint32_t b = v_.chunk_begin(c), e = v_.chunk_end(c);
    const std::uint32_t upto = std::min(b + cw.done, e);
    deliver_range(b, upto, w.slot, out);  // finished before the death, not reported yet
    if (upto < e && !delivered_[upto]) {
      const std::uint32_t i = upto;  // the item it was running (or about to run)
      if (timed && *timed == i) {
        delivered_[i] = 1;
        ++done_;
        out.push_back({Outcome::Kind::timed_out, i, i + 1, w.slot, 0, sig});
        ++cw.done;
      } else if (opts_.lifecycle) {
        if (recover_lifecycle(w, status, i, out)) ++cw.done;
      } else if (++attempts_[i] > opts_.retries) {
        delivered_[i] = 1;
        ++done_;
        out.push_back({Outcome::Kind::crashed, i, i + 1, w.slot, 0, sig});
        ++cw.done;
      }
    }
    // SYNC POINT: release, pairs with the acq_rel claim CAS of the worker that
    // resumes the chunk: it sees `done`, so it neither re-runs what was
    // delivered nor skips what was not.
    v_.chunk(c).store(ChunkWord{0, cw.done}.pack(), std::memory_order_release);
  }
  for (auto it = overran_.begin(); it != overran_.end();) it = it->pid == w.pid ? overran_.erase(it) : it + 1;
  // The dead worker may also have held ranges nobody else can see (popped or
  // stolen): every idle worker re-scans (sweep).
  // SYNC POINT: release, pairs with the workers' acquire load of sweep_epoch:
  // the re-offered chunk words above are visible to the sweep it starts.
  h.sweep_epoch.fetch_add(1, std::memory_order_release);
  h.work_wp.notify_all();
  if (done_ < n_ && h.state.load(std::memory_order_relaxed) == kRunning) {
    std::uint32_t slot = w.slot;
    if (auto spare = free_slot()) {
      slot = *spare;
    } else {
      sl.flags.fetch_or(kSlotRetired, std::memory_order_relaxed);  // reuse: sweep/steal only
    }
    spawn(slot, true);
  }
}

// pool.map<W>: the worker running item i's lifecycle died (crash, or killed
// for a hook deadline). Decide as a Skprocess supervisor would; returns true
// when the item has its outcome now (false: it is re-offered, resumed).
bool Run::recover_lifecycle(const Worker& w, int status, std::uint32_t i, std::vector<Outcome>& out) {
  LifecycleState& life = v_.slot(w.slot).life;
  // SYNC POINT: acquire, pairs with the engine's release of current_run.
  const std::uint64_t run = life.current_run.load(std::memory_order_acquire);
  FailureInfo cause = crash_failure(status, static_cast<HookId>(life.hook.load(std::memory_order_relaxed)), run);
  for (auto it = overran_.begin(); it != overran_.end(); ++it)
    if (it->pid == w.pid) {
      cause = timeout_failure(it->hook, run, it->limit_ms);
      overran_.erase(it);
      break;
    }
  const AfterDeath next = after_death(life, cause);
  if (next.kind == AfterDeath::Kind::deliver) {
    delivered_[i] = 1;
    ++done_;
    failures_[i] = next.failure;
    out.push_back({Outcome::Kind::failed, i, i + 1, w.slot, 0, 0});
    return true;
  }
  v_.resume(i) = resume_record(next, life);  // published by the chunk word's release store
  return false;
}

void Run::reap(std::vector<Outcome>& out, bool block_for_killed) {
  for (std::size_t k = 0; k < live_.size();) {
    const Worker w = live_[k];
    bool killed = false;
    for (auto& t : timed_out_) killed |= (t.first == w.pid);
    for (auto& o : overran_) killed |= (o.pid == w.pid);
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
  const std::uint64_t now = now_ns();
  if (opts_.lifecycle) {
    // Hook deadlines of pool.map<W> items, enforced as a Skprocess's
    // supervisor does: the worker gets no signal; it is killed, and the item
    // is then resumed or failed by recover_lifecycle().
    for (const Worker& w : live_) {
      const LifecycleState& life = v_.slot(w.slot).life;
      // SYNC POINT: acquire, pairs with the engine's release store of the
      // deadline in begin_hook(): the hook and its limit are those of this
      // deadline.
      const std::uint64_t d = life.deadline.load(std::memory_order_acquire);
      if (d == 0 || now <= LifecycleState::deadline_ns(d)) continue;
      bool already = false;
      for (auto& o : overran_) already |= (o.pid == w.pid);
      if (already) continue;
      overran_.push_back({w.pid, LifecycleState::deadline_hook(d), life.deadline_limit_ms.load(std::memory_order_relaxed)});
      ::kill(w.pid, SIGKILL);
    }
  }
  if (!opts_.timeout) return;
  const auto limit = static_cast<std::uint64_t>(opts_.timeout->count());
  for (const Worker& w : live_) {
    const Slot& sl = v_.slot(w.slot);
    // SYNC POINT: acquire, pairs with the release store of `current` in
    // ResultWriter::start_item: started_ns read below belongs to this item or
    // a later one.
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

// How long the collector may park: one tick, or less when a pool.map<W>
// item's hook deadline comes sooner.
std::chrono::milliseconds Run::park_time() const noexcept {
  auto t = std::chrono::milliseconds(tick_ms(opts_));
  if (!opts_.lifecycle) return t;
  t = std::min(t, kLifecycleTick);
  const std::uint64_t now = now_ns();
  for (const Worker& w : live_) {
    // SYNC POINT: acquire, as in check_timeouts (only the time is used).
    const std::uint64_t d = v_.slot(w.slot).life.deadline.load(std::memory_order_acquire);
    if (d == 0) continue;
    const std::uint64_t at = LifecycleState::deadline_ns(d);
    const auto left = std::chrono::milliseconds(at > now ? (at - now) / 1'000'000 + 1 : 0);
    t = std::min(t, left);
  }
  return t;
}

void Run::report_progress(bool final) {
  if (!opts_.progress) return;
  const auto now = std::chrono::steady_clock::now();
  if (!final && now - last_progress_ < kPoolProgressEvery) return;
  last_progress_ = now;
  opts_.progress(PoolProgress::of(done_, n_, std::chrono::duration<double>(now - t0_).count()));
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
  RunHeader& h = v_.hdr();
  const auto tick = std::chrono::milliseconds(tick_ms(opts_));
  for (;;) {
    const std::uint64_t published = published_sum();
    drain(out);
    reap(out, true);
    if (!out.empty()) {
      published_seen_ = published;
      if (done_ == n_) {
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0_).count();
        ns_per_item_ = n_ ? ns * workers_ / static_cast<double>(n_) : 0;
      }
      report_progress(done_ == n_);
      if (done_ == n_) finish();
      return true;
    }
    check_timeouts();
    if (!timed_out_.empty() || !overran_.empty()) continue;  // reap the killed worker at once
    published_seen_ = published;
    report_progress(false);
    h.done_wp.wait_for([&] { return published_sum() != published_seen_; }, std::min(tick, park_time()));
  }
}

void Run::finish() noexcept {
  if (finished_) return;
  finished_ = true;
  RunHeader& h = v_.hdr();
  // SYNC POINT: release, pairs with the workers' acquire loads of state: a
  // worker that sees the run ended also sees everything the parent did before.
  h.state.store(kFinished, std::memory_order_release);
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
  std::vector<std::pair<pid_t, std::uint32_t>> busy;
  for (const Worker& w : live_) busy.emplace_back(w.pid, w.slot);
  core_->settle(busy);
  live_.clear();
  h.state.store(kIdle, std::memory_order_relaxed);
}

void Run::cancel() noexcept {
  if (finished_) return;
  RunHeader& h = v_.hdr();
  // SYNC POINT: release, pairs with the workers' acquire loads of state (they
  // stop taking chunks).
  h.state.store(kCancelled, std::memory_order_release);
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
      read_error(v_, o.slot, o.offset, type, what);
      throw ItemError(o.begin, std::move(type), std::move(what));
    }
    case Outcome::Kind::crashed:
      throw WorkerCrashed(o.begin, o.signal, opts_.retries + 1);
    case Outcome::Kind::timed_out:
      throw TimeoutError(o.begin, opts_.timeout ? std::chrono::duration<double>(*opts_.timeout).count() : 0.0);
    case Outcome::Kind::failed: {
      const auto it = failures_.find(o.begin);
      std::string type = "sk::ProcessError", what = "the item's Skprocess lifecycle failed";
      if (it != failures_.end()) {
        what = it->second.what;
        if (opts_.describe_failure) opts_.describe_failure(it->second, type, what);
      }
      throw ItemError(o.begin, std::move(type), std::move(what));
    }
    case Outcome::Kind::ok:
      break;
  }
  throw PoolError("sk::Pool: internal error: raise() called for a successful item");
}

}  // namespace sk::ipc::pool
