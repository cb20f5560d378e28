// A node leader's side: one executor thread per open pool owns the node's
// local sk::Pool (persistent workers forked by that thread, so they live as
// long as it does: PR_SET_PDEATHSIG follows the forking thread) and runs the
// chunks rank 0 sends, one after the other, through the registered job.
#include <algorithm>
#include <cstring>
#include <exception>
#include <optional>
#include <string>

#include <sk/ipc/remote_error.hpp>

#include "engine.hpp"

namespace sk::mpi::detail {

NodeServer::~NodeServer() { shutdown(std::chrono::seconds(2)); }

void NodeServer::emit(std::vector<std::byte>&& msg) {
  {
    std::lock_guard lk(out_m_);
    out_.push_back(std::move(msg));
  }
  e_.wake();
}

bool NodeServer::busy() {
  for (auto& [id, x] : execs_) {
    std::lock_guard lk(x->m);
    if (x->running || !x->queue.empty()) return true;
  }
  return false;
}

void NodeServer::on_message(const wire::Header& h, std::vector<std::byte>&& msg, std::size_t payload_at) {
  if (const auto* o = std::get_if<wire::Open>(&h)) {
    if (execs_.count(o->pool)) return;
    auto x = std::make_unique<Exec>();
    x->pool = o->pool;
    x->workers = o->workers != 0 ? o->workers : e_.default_workers();
    Exec& ref = *x;
    execs_.emplace(o->pool, std::move(x));
    ref.thread = std::thread([this, &ref] { exec_main(ref); });
  } else if (const auto* c = std::get_if<wire::Close>(&h)) {
    auto it = execs_.find(c->pool);
    if (it == execs_.end()) return;
    {
      std::lock_guard lk(it->second->m);
      it->second->stop = true;
      it->second->queue.clear();
    }
    it->second->cv.notify_all();
    // Joined by poll() once its current chunk is over: this thread keeps
    // answering meanwhile.
    closing_.push_back(std::move(it->second));
    execs_.erase(it);
    for (auto ci = calls_.begin(); ci != calls_.end();)
      ci = ci->first.first == c->pool ? calls_.erase(ci) : std::next(ci);
  } else if (const auto* s = std::get_if<wire::Start>(&h)) {
    auto info = std::make_shared<CallInfo>();
    info->start = *s;
    info->callable.assign(msg.begin() + static_cast<std::ptrdiff_t>(payload_at), msg.end());
    calls_[{s->pool, s->call}] = std::move(info);
  } else if (const auto* k = std::get_if<wire::Chunk>(&h)) {
    auto ci = calls_.find({k->pool, k->call});
    auto xi = execs_.find(k->pool);
    if (ci == calls_.end() || xi == execs_.end()) return;  // the call already ended
    Task t;
    t.call = ci->second;
    t.chunk = *k;
    t.msg = std::move(msg);
    t.payload_at = payload_at;
    {
      std::lock_guard lk(xi->second->m);
      xi->second->queue.push_back(std::move(t));
    }
    xi->second->cv.notify_all();
  } else if (const auto* end = std::get_if<wire::EndCall>(&h)) {
    auto ci = calls_.find({end->pool, end->call});
    if (ci == calls_.end()) return;
    ci->second->ended.store(true);
    auto xi = execs_.find(end->pool);
    if (xi != execs_.end()) {
      std::lock_guard lk(xi->second->m);
      auto& q = xi->second->queue;
      q.erase(std::remove_if(q.begin(), q.end(), [&](const Task& t) { return t.call == ci->second; }), q.end());
    }
    calls_.erase(ci);
  }
}

void NodeServer::exec_main(Exec& x) {
  std::optional<LocalPools> pools;
  std::string error;
  try {
    pools.emplace(x.workers);  // forks the persistent workers: outside any NotDuringFork
  } catch (const std::exception& e) {
    error = e.what();
  }
  {
    NotDuringFork quiet;
    emit(wire::message(wire::Opened{x.pool, pools ? pools->workers() : 0, error}));
  }
  std::vector<std::byte> out;
  for (;;) {
    {
      std::unique_lock lk(x.m);
      x.cv.wait(lk, [&] { return x.stop || !x.queue.empty(); });
      if (x.stop) break;
    }
    std::optional<NotDuringFork> quiet(std::in_place);
    Task t;
    {
      std::lock_guard lk(x.m);
      if (x.queue.empty()) continue;  // dropped meanwhile (EndCall)
      t = std::move(x.queue.front());
      x.queue.pop_front();
      x.running = true;
    }
    quiet.reset();
    if (pools) run_task(t, *pools, out);
    quiet.emplace();
    t = Task{};
    std::lock_guard lk(x.m);
    x.running = false;
  }
  pools.reset();  // the persistent workers are reaped by the thread that forked them
  x.finished.store(true);
}

void NodeServer::run_task(Task& t, LocalPools& pools, std::vector<std::byte>& out) {
  // Allocations here are outside any fork (job.hpp); the job releases the
  // gate around its local Pool call itself.
  std::optional<NotDuringFork> quiet(std::in_place);
  const wire::Start& s = t.call->start;
  const wire::Chunk& k = t.chunk;
  wire::Done done;
  done.pool = k.pool;
  done.call = k.call;
  done.chunk = k.chunk;
  JobOutput jo;
  const auto t0 = Clock::now();
  try {
    const JobFn fn = find_job(s.job);
    if (!fn)
      throw SessionError("job id " + std::to_string(s.job) +
                         " is not registered in this rank's program: the ranks do not run the same executable");
    JobInput in;
    in.pools = &pools;
    in.job = s.job;
    in.callable = t.call->callable;
    in.stride = s.stride;
    in.begin = k.begin;
    in.count = k.count;
    in.timeout_ns = s.timeout_ns;
    in.retries = s.retries;
    std::span<const std::byte> payload(t.msg.data() + t.payload_at, t.msg.size() - t.payload_at);
    std::vector<std::uint64_t> offsets;
    if (s.stride != 0) {
      if (payload.size() != k.count * s.stride)
        throw DecodeError("a chunk of " + std::to_string(k.count) + " items of " + std::to_string(s.stride) +
                          " bytes came with " + std::to_string(payload.size()) + " bytes");
      in.items = payload;
    } else {
      const std::size_t table = (k.count + 1) * sizeof(std::uint64_t);
      if (payload.size() < table) throw DecodeError("a chunk's offset table is truncated");
      offsets.resize(k.count + 1);
      std::memcpy(offsets.data(), payload.data(), table);
      in.items = payload.subspan(table);
      for (std::size_t i = 0; i < k.count; ++i)
        if (offsets[i] > offsets[i + 1] || offsets[i + 1] > in.items.size())
          throw DecodeError("a chunk's offset table points outside its items");
      in.offsets = offsets;
    }
    quiet.reset();
    fn(in, jo);
    quiet.emplace();
    done.produced = jo.produced;
    done.failure = std::move(jo.failure);
  } catch (...) {
    if (!quiet) quiet.emplace();
    const ser::RemoteError re = ser::capture_current_exception();
    done.error_type = re.type_name;
    done.error_what = re.what;
    jo.results.clear();
    done.produced = 0;
  }
  done.exec_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  if (t.call->ended.load()) return;  // nobody wants it any more
  out = wire::message(done, jo.results);
  emit(std::move(out));
  out = {};
}

bool NodeServer::poll(Clock::time_point now) {
  std::deque<std::vector<std::byte>> out;
  {
    std::lock_guard lk(out_m_);
    out.swap(out_);
  }
  bool any = !out.empty();
  for (auto it = closing_.begin(); it != closing_.end();) {
    if ((*it)->finished.load()) {
      (*it)->thread.join();
      it = closing_.erase(it);
      any = true;
    } else {
      ++it;
    }
  }
  for (auto& m : out) {
    e_.send(0, std::move(m));
    last_beat_ = now;
  }
  if (now - last_beat_ >= e_.beat() && busy()) {
    last_beat_ = now;
    e_.send(0, wire::message(wire::Beat{}));
  }
  return any;
}

bool NodeServer::shutdown(std::chrono::milliseconds grace) {
  for (auto& [id, x] : execs_) closing_.push_back(std::move(x));
  execs_.clear();
  for (auto& x : closing_) {
    {
      std::lock_guard lk(x->m);
      x->stop = true;
      x->queue.clear();
    }
    x->cv.notify_all();
  }
  const auto until = Clock::now() + grace;
  bool clean = true;
  for (auto& x : closing_) {
    while (!x->finished.load() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (x->finished.load()) {
      x->thread.join();
    } else {
      // Inside a chunk that does not end: the process exits around it. The
      // thread still uses *x, so it is never freed.
      x->thread.detach();
      (void)x.release();
      clean = false;
    }
  }
  closing_.clear();
  calls_.clear();
  return clean;
}

}  // namespace sk::mpi::detail
