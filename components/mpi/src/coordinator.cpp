// Rank 0's scheduler. A call's items start split over the pool's nodes in
// proportion to their workers; each node is kept two chunks ahead (one
// running, one queued, so the round trip hides behind the work); chunk sizes
// follow the node's measured overhead and cost per item (chunk_size);
// a node whose own range is used up takes the upper half of the largest
// range another node has left (all of a lost node's). Nothing goes per item.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <string>

#include "engine.hpp"

namespace sk::mpi::detail {
namespace {

constexpr std::size_t kNone = static_cast<std::size_t>(-1);
constexpr std::size_t kDepth = 2;                              // chunks outstanding per node and call
constexpr std::uint64_t kMaxChunkBytes = std::uint64_t{32} << 20;  // items' bytes per chunk message

std::exception_ptr failure_exception(const JobFailure& f, int rank, const std::string& host) {
  switch (f.kind) {
    case JobFailure::timed_out:
      return std::make_exception_ptr(TimeoutError(f.index, f.seconds, rank, host));
    case JobFailure::crashed:
      return std::make_exception_ptr(WorkerCrashed(f.index, f.signal, f.attempts, rank, host));
    default:
      return std::make_exception_ptr(ItemError(f.index, f.type_name, f.what, rank, host));
  }
}

}  // namespace

// ---- Call / PoolCore ---------------------------------------------------------

void Call::push(ChunkResult&& r) {
  {
    std::lock_guard lk(m_);
    ready_.push_back(std::move(r));
  }
  cv_.notify_all();
}

void Call::end(CallStats stats) {
  {
    std::lock_guard lk(m_);
    ended_ = true;
    stats_ = std::move(stats);
  }
  cv_.notify_all();
}

PoolCore::~PoolCore() {
  if (!engine_ || engine_->ended()) return;
  try {
    Engine* e = engine_.get();
    const std::uint64_t id = id_;
    engine_->post([e, id] { e->coordinator().close_pool(id); });
  } catch (...) {
    // The session ended meanwhile: every node closes its pools with it.
  }
}

std::shared_ptr<PoolCore> open_pool(const std::shared_ptr<Engine>& engine, const PoolOptions& options) {
  if (!engine || engine->ended()) throw SessionError("sk::mpi::Pool: the session has ended");
  if (engine->rank() != 0)
    throw SessionError("sk::mpi::Pool: rank " + std::to_string(engine->rank()) +
                       " made a Pool; only rank 0 does (the other ranks serve its pools)");
  if (options.chunk_target <= std::chrono::milliseconds(0))
    throw PoolUsageError("sk::mpi::PoolOptions: chunk_target must be positive");
  auto core = std::make_shared<PoolCore>(engine, 0, options);
  auto opened = std::make_shared<std::promise<void>>();
  auto fut = opened->get_future();
  Engine* e = engine.get();
  engine->post([e, core, opened] {
    try {
      e->coordinator().open_pool(core, opened);
    } catch (...) {
      opened->set_exception(std::current_exception());
    }
  });
  fut.get();
  return core;
}

unsigned pool_nodes(const PoolCore& pool) noexcept { return static_cast<unsigned>(pool.nodes_.size()); }

unsigned pool_workers(const PoolCore& pool) noexcept {
  unsigned w = 0;
  for (unsigned x : pool.workers_) w += x;
  return w;
}

CallStats pool_last_stats(const PoolCore& pool) {
  std::lock_guard lk(pool.stats_m_);
  return pool.last_;
}

std::shared_ptr<Call> start_call(const std::shared_ptr<PoolCore>& pool, CallSpec&& spec) {
  auto call = std::make_shared<Call>(pool, std::move(spec));
  Engine* e = pool->engine_.get();
  pool->engine_->post([e, call] {
    try {
      e->coordinator().start(call);
    } catch (...) {  // the call could not be set up (out of memory): the caller gets why
      ChunkResult c;
      c.error = std::current_exception();
      call->push(std::move(c));
      call->end({});
    }
  });
  return call;
}

Next call_next(Call& call, ChunkResult& out, std::chrono::milliseconds wait) {
  std::unique_lock lk(call.m_);
  call.cv_.wait_for(lk, wait, [&] { return !call.ready_.empty() || call.ended_; });
  if (!call.ready_.empty()) {
    out = std::move(call.ready_.front());
    call.ready_.pop_front();
    return Next::result;
  }
  return call.ended_ ? Next::end : Next::idle;
}

void call_cancel(Call& call) noexcept {
  {
    std::lock_guard lk(call.m_);
    if (call.ended_) return;
  }
  if (!call.cancel_.exchange(true)) call.pool_->engine_->wake();
}

std::uint64_t call_done(const Call& call) noexcept { return call.done_.load(); }

CallStats call_stats(const Call& call) {
  std::lock_guard lk(const_cast<Call&>(call).m_);
  return call.stats_;
}

// ---- Coordinator ---------------------------------------------------------------

Coordinator::Coordinator(Engine& e) : e_(e) {
  const auto now = Clock::now();
  for (const auto& n : e.nodes()) {
    Node x;
    x.rank = n.leader;
    x.host = n.host;
    x.last_heard = now;
    nodes_.push_back(std::move(x));
  }
}

std::size_t Coordinator::node_of(int rank) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i].rank == rank) return i;
  return kNone;
}

bool Coordinator::rank_lost(int rank) const {
  const std::size_t i = node_of(rank);
  return i != kNone && !nodes_[i].alive;
}

void Coordinator::open_pool(std::shared_ptr<PoolCore> pool, std::shared_ptr<std::promise<void>> opened) {
  const std::uint64_t id = next_pool_++;
  pool->id_ = id;
  Opening o;
  o.pool = std::move(pool);
  o.opened = std::move(opened);
  const unsigned max = o.pool->options_.max_nodes;
  for (std::size_t i = 0; i < nodes_.size() && (max == 0 || o.pending.size() < max); ++i) {
    if (!nodes_[i].alive) continue;
    o.pending.insert(i);
    e_.send(nodes_[i].rank, wire::message(wire::Open{id, o.pool->options_.workers_per_node}));
  }
  openings_.emplace(id, std::move(o));
}

void Coordinator::finish_opening(Opening& o) {
  const std::uint64_t id = o.pool->id_;
  if (!o.errors.empty() || o.workers.empty()) {
    for (const auto& [i, w] : o.workers)
      if (nodes_[i].alive) e_.send(nodes_[i].rank, wire::message(wire::Close{id}));
    o.opened->set_exception(std::make_exception_ptr(SessionError(
        "sk::mpi::Pool: could not open the nodes' local pools:" + (o.errors.empty() ? " no node answered" : o.errors))));
  } else {
    std::vector<std::size_t> ns;
    for (const auto& [i, w] : o.workers) {
      ns.push_back(i);
      o.pool->nodes_.push_back(i);
      o.pool->workers_.push_back(w);
    }
    pools_[id] = std::move(ns);
    o.opened->set_value();
  }
  openings_.erase(id);
}

void Coordinator::close_pool(std::uint64_t pool) {
  auto it = pools_.find(pool);
  if (it == pools_.end()) return;
  for (std::size_t i : it->second)
    if (nodes_[i].alive) e_.send(nodes_[i].rank, wire::message(wire::Close{pool}));
  pools_.erase(it);
}

void Coordinator::start(std::shared_ptr<Call> call) {
  Run r;
  r.call = std::move(call);
  r.call->id_ = next_call_++;
  const CallSpec& spec = r.call->spec_;
  const auto& pool = *r.call->pool_;
  r.limit = spec.n;
  std::uint64_t total_workers = 0;
  for (std::size_t k = 0; k < pool.nodes_.size(); ++k) {
    if (!nodes_[pool.nodes_[k]].alive) continue;
    NodeRun nr;
    nr.node = pool.nodes_[k];
    nr.workers = std::max(1u, pool.workers_[k]);
    total_workers += nr.workers;
    r.nodes.push_back(nr);
  }
  // Initial ranges in proportion to each node's workers (n < 2^40 and far
  // fewer than 2^23 workers: the products fit in 64 bits).
  std::uint64_t cum = 0;
  for (auto& nr : r.nodes) {
    nr.next = spec.n * cum / total_workers;
    cum += nr.workers;
    nr.end = spec.n * cum / total_workers;
  }
  r.stats.items_per_node.assign(nodes_.size(), 0);
  r.stats.largest_chunk.assign(nodes_.size(), 0);
  runs_.push_back(std::move(r));
  try {
    dispatch(runs_.back(), Clock::now());
  } catch (...) {
    fail(runs_.back(), std::current_exception());
  }
}

std::uint64_t Coordinator::remaining(const Run& r, const NodeRun& nr) const {
  const std::uint64_t end = std::min(nr.end, r.limit);
  return nr.next < end ? end - nr.next : 0;
}

bool Coordinator::steal(Run& r, NodeRun& thief) {
  NodeRun* victim = nullptr;
  std::uint64_t best = 0;
  for (auto& v : r.nodes) {
    if (&v == &thief) continue;
    const std::uint64_t rem = remaining(r, v);
    // A lost node's range goes first, and whole; a live node's only once it
    // is at work (its first chunk sent), so a thief never takes what a node
    // that has not started yet would do at once.
    const bool dead = !nodes_[v.node].alive;
    if (!dead && v.out.empty()) continue;
    if (rem > 0 && (dead || rem > best)) {
      victim = &v;
      best = rem;
      if (dead) break;
    }
  }
  if (!victim) return false;
  const std::uint64_t vend = std::min(victim->end, r.limit);
  const std::uint64_t rem = vend - victim->next;
  const std::uint64_t take = nodes_[victim->node].alive ? (rem + 1) / 2 : rem;
  thief.next = vend - take;
  thief.end = vend;
  victim->end = vend - take;
  ++r.stats.steals;
  return true;
}

// A chunk's time on a node is about overhead + items * cost: the local
// Pool's call (a wake-up in persistent mode, forks in fork-per-call mode)
// plus the items over the node's workers. Both are fitted (least squares)
// to the node's last chunks of this call. A chunk should take
// max(chunk_target, 8 x overhead), so that the overhead stays a small part
// of it; fitting the overhead apart keeps a slow call set-up from passing
// for slow items (which would shrink the chunks and make it worse).
std::uint64_t Coordinator::chunk_size(const Run& r, const NodeRun& nr) const {
  std::uint64_t rem_total = 0, alive = 0;
  for (const auto& v : r.nodes) {
    rem_total += remaining(r, v);
    if (nodes_[v.node].alive) ++alive;
  }
  alive = std::max<std::uint64_t>(alive, 1);
  // Guided: no chunk larger than a share of what is left, so the tail splits
  // over every node.
  const std::uint64_t guided = std::max<std::uint64_t>(1, (rem_total + 2 * alive - 1) / (2 * alive));
  double want = nr.workers;  // first chunks: one item per worker, to measure
  if (nr.nsamples > 0) {
    const std::size_t k = std::min(nr.nsamples, nr.samples.size());
    double mn = 0, mt = 0;
    for (std::size_t i = 0; i < k; ++i) {
      mn += nr.samples[i].first;
      mt += nr.samples[i].second;
    }
    mn /= static_cast<double>(k);
    mt /= static_cast<double>(k);
    double var = 0, cov = 0;
    for (std::size_t i = 0; i < k; ++i) {
      var += (nr.samples[i].first - mn) * (nr.samples[i].first - mn);
      cov += (nr.samples[i].first - mn) * (nr.samples[i].second - mt);
    }
    double cost = mt / mn, overhead = 0;
    const bool one_size = var <= 0;  // no overhead known yet: probe a bigger chunk below
    if (!one_size) {
      cost = cov / var;
      overhead = mt - cost * mn;
      if (cost <= 0) {  // bigger chunks took no longer: all overhead
        cost = 0;
        overhead = mt;
      } else if (overhead < 0) {
        cost = mt / mn;
        overhead = 0;
      }
    }
    const double target =
        std::max(std::chrono::duration<double>(r.call->pool_->options_.chunk_target).count(), 8 * overhead);
    want = cost > 0 ? std::max(1.0, std::floor((target - overhead) / cost)) : 1e18;
    want = std::min(want, static_cast<double>(nr.last) * 8);  // grow at most 8x per chunk
    if (one_size) want = std::max(want, static_cast<double>(nr.last) * 2);
  }
  want = std::max(want, static_cast<double>(nr.workers));  // fewer items than workers idles some
  std::uint64_t size = want >= 1e18 ? guided : static_cast<std::uint64_t>(want);
  size = std::clamp<std::uint64_t>(std::min(size, guided), 1, std::max<std::uint64_t>(remaining(r, nr), 1));
  const CallSpec& spec = r.call->spec_;
  auto bytes = [&](std::uint64_t n) {
    return spec.stride != 0 ? n * spec.stride : spec.offsets[nr.next + n] - spec.offsets[nr.next];
  };
  while (size > 1 && bytes(size) > kMaxChunkBytes) size /= 2;
  return size;
}

void Coordinator::send_chunk(Run& r, NodeRun& nr, std::uint64_t begin, std::uint64_t end) {
  const CallSpec& spec = r.call->spec_;
  const std::uint64_t pool = r.call->pool_->id_;
  const int rank = nodes_[nr.node].rank;
  if (!nr.started) {
    nr.started = true;
    wire::Start s;
    s.pool = pool;
    s.call = r.call->id_;
    s.job = spec.job;
    s.timeout_ns = spec.timeout_ns;
    s.retries = spec.retries;
    s.stride = spec.stride;
    e_.send(rank, wire::message(s, spec.callable));
  }
  wire::Chunk c{pool, r.call->id_, r.next_chunk++, begin, end - begin};
  if (spec.stride != 0) {
    e_.send(rank, wire::message(c, std::span(spec.items).subspan(begin * spec.stride, (end - begin) * spec.stride)));
  } else {
    std::vector<std::uint64_t> table(end - begin + 1);
    for (std::uint64_t i = begin; i <= end; ++i) table[i - begin] = spec.offsets[i] - spec.offsets[begin];
    e_.send(rank, wire::message(c, std::as_bytes(std::span(table)),
                                std::span(spec.items).subspan(spec.offsets[begin], spec.offsets[end] - spec.offsets[begin])));
  }
  nr.out.push_back(Out{c.chunk, begin, end - begin});
  ++r.stats.chunks;
  auto& largest = r.stats.largest_chunk[nr.node];
  largest = std::max(largest, end - begin);
}

void Coordinator::dispatch(Run& r, Clock::time_point) {
  if (r.finished) return;
  // Round by round, so every node gets its first chunk before any gets a
  // second. A node takes from its own range; only an idle one (nothing
  // outstanding) steals, the queued second chunk comes from its own range.
  for (std::size_t depth = 1; depth <= kDepth; ++depth) {
    for (auto& nr : r.nodes) {
      if (!nodes_[nr.node].alive || nr.out.size() >= depth) continue;
      if (remaining(r, nr) == 0 && (!nr.out.empty() || !steal(r, nr))) continue;
      const std::uint64_t size = chunk_size(r, nr);
      const std::uint64_t b = nr.next;
      nr.next += size;
      send_chunk(r, nr, b, b + size);
    }
  }
}

void Coordinator::on_message(int src, const wire::Header& h, std::vector<std::byte>&& msg, std::size_t payload_at) {
  const std::size_t i = node_of(src);
  if (i == kNone || !nodes_[i].alive) return;
  nodes_[i].last_heard = Clock::now();
  if (const auto* o = std::get_if<wire::Opened>(&h)) {
    auto it = openings_.find(o->pool);
    if (it == openings_.end() || !it->second.pending.erase(i)) return;
    if (!o->error.empty()) {
      it->second.errors += " rank " + std::to_string(src) + " (host " + nodes_[i].host + "): " + o->error + ";";
    } else {
      it->second.workers[i] = o->workers;
    }
    if (it->second.pending.empty()) finish_opening(it->second);
  } else if (const auto* d = std::get_if<wire::Done>(&h)) {
    on_done(i, *d, std::move(msg), payload_at);
  }
}

void Coordinator::on_done(std::size_t node, const wire::Done& d, std::vector<std::byte>&& msg, std::size_t payload_at) {
  auto rit = std::find_if(runs_.begin(), runs_.end(), [&](const Run& r) {
    return !r.finished && r.call->id_ == d.call && r.call->pool_->id_ == d.pool;
  });
  if (rit == runs_.end()) return;
  Run& r = *rit;
  auto nit = std::find_if(r.nodes.begin(), r.nodes.end(), [&](const NodeRun& x) { return x.node == node; });
  if (nit == r.nodes.end()) return;
  NodeRun& nr = *nit;
  auto oit = std::find_if(nr.out.begin(), nr.out.end(), [&](const Out& o) { return o.chunk == d.chunk; });
  if (oit == nr.out.end()) return;
  const Out out = *oit;
  nr.out.erase(oit);
  const Node& n = nodes_[node];
  if (!d.error_type.empty()) {
    fail(r, std::make_exception_ptr(
                RemoteError(n.rank, n.host, ItemRange{out.begin, out.begin + out.count}, d.error_type, d.error_what)));
    return;
  }
  if (d.produced > out.count) {
    fail(r, std::make_exception_ptr(RemoteError(n.rank, n.host, ItemRange{out.begin, out.begin + out.count},
                                                "sk::DecodeError", "a chunk reported more results than items")));
    return;
  }
  if (!d.failure && d.produced > 0 && d.exec_ns > 0) {
    nr.samples[nr.nsamples++ % nr.samples.size()] = {static_cast<double>(d.produced),
                                                      static_cast<double>(d.exec_ns) * 1e-9};
    nr.last = d.produced;
  }
  ChunkResult res;
  res.begin = out.begin;
  res.count = d.produced;
  res.results.assign(msg.begin() + static_cast<std::ptrdiff_t>(payload_at), msg.end());
  if (d.failure) res.error = failure_exception(*d.failure, n.rank, n.host);
  r.delivered.emplace_back(out.begin, out.begin + d.produced);
  r.stats.items += d.produced;
  r.stats.items_per_node[node] += d.produced;
  r.call->done_.fetch_add(d.produced);
  r.call->push(std::move(res));
  if (d.failure) {
    if (r.call->spec_.kind != CallKind::imap) {
      finish(r);
      return;
    }
    // imap: the items before the failure are still delivered in order first.
    r.limit = std::min(r.limit, d.failure->index);
  }
  check_complete(r);
  if (!r.finished) dispatch(r, Clock::now());
}

std::uint64_t Coordinator::delivered_below(const Run& r, std::uint64_t limit) const {
  std::uint64_t n = 0;
  for (const auto& [b, e] : r.delivered)
    if (b < limit) n += std::min(e, limit) - b;
  return n;
}

void Coordinator::check_complete(Run& r) {
  if (delivered_below(r, r.limit) == r.limit) finish(r);
}

void Coordinator::finish(Run& r) {
  if (r.finished) return;
  r.finished = true;
  const std::uint64_t pool = r.call->pool_->id_;
  for (const auto& nr : r.nodes)
    if (nr.started && nodes_[nr.node].alive)
      e_.send(nodes_[nr.node].rank, wire::message(wire::EndCall{pool, r.call->id_}));
  {
    std::lock_guard lk(r.call->pool_->stats_m_);
    r.call->pool_->last_ = r.stats;
  }
  r.call->end(r.stats);
}

void Coordinator::fail(Run& r, std::exception_ptr e) {
  if (r.finished) return;
  ChunkResult c;
  c.error = std::move(e);
  r.call->push(std::move(c));
  finish(r);
}

void Coordinator::lose(std::size_t i, Clock::time_point now, const std::string& why) {
  Node& n = nodes_[i];
  if (!n.alive || n.rank == e_.rank()) return;
  n.alive = false;
  e_.drop_sends_to(n.rank);
  const double silent = std::chrono::duration<double>(now - std::max(n.last_heard, n.busy_since)).count();
  std::fprintf(stderr, "sk::mpi: rank 0 gave up on rank %d (host %s): %s\n", n.rank, n.host.c_str(), why.c_str());
  for (auto& r : runs_) {
    if (r.finished) continue;
    for (auto& nr : r.nodes) {
      if (nr.node != i || nr.out.empty()) continue;
      std::vector<ItemRange> items;
      for (const auto& o : nr.out) items.push_back({o.begin, o.begin + o.count});
      nr.out.clear();
      fail(r, std::make_exception_ptr(RankLost(n.rank, n.host, std::move(items), silent)));
    }
  }
  for (auto it = openings_.begin(); it != openings_.end();) {
    auto next = std::next(it);
    if (it->second.pending.erase(i) && it->second.pending.empty()) finish_opening(it->second);
    it = next;
  }
}

void Coordinator::peer_failed(int rank, const std::string& why) {
  const std::size_t i = node_of(rank);
  if (i != kNone) lose(i, Clock::now(), why);
}

bool Coordinator::tick(Clock::time_point now) {
  bool any = false;
  for (auto& r : runs_)
    if (!r.finished && r.call->cancel_.load()) finish(r);
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->finished) {
      it = runs_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  // Liveness: a node that holds work must speak at least every lost_after.
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    if (!n.alive) continue;
    std::size_t held = 0;
    for (const auto& r : runs_)
      for (const auto& nr : r.nodes)
        if (nr.node == i) held += nr.out.size();
    for (const auto& [id, o] : openings_) held += o.pending.count(i);
    if (held == 0) {
      n.busy = false;
      continue;
    }
    if (!n.busy) {
      n.busy = true;
      n.busy_since = now;
    }
    if (n.rank != e_.rank() && now - std::max(n.last_heard, n.busy_since) > e_.lost_after()) {
      lose(i, now, "it held items and sent nothing for " + std::to_string(e_.lost_after().count()) + " ms");
      any = true;
    }
  }
  for (auto& r : runs_) {
    const std::uint64_t before = r.stats.chunks;
    dispatch(r, now);
    any |= r.stats.chunks != before;
  }
  return any;
}

void Coordinator::shutdown() {
  for (auto& r : runs_)
    fail(r, std::make_exception_ptr(SessionError("sk::mpi::Pool: the session ended while a call was running")));
  runs_.clear();
  for (auto& [id, o] : openings_)
    o.opened->set_exception(std::make_exception_ptr(SessionError("sk::mpi::Pool: the session ended")));
  openings_.clear();
}

}  // namespace sk::mpi::detail
