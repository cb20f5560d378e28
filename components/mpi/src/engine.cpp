// The session's engine: MPI start-up and topology, the progress loop, the
// transport (non-blocking sends, probed receives), heartbeats, the end.
#include "engine.hpp"

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <shared_mutex>
#include <string>
#include <thread>

namespace sk::mpi::detail {
namespace {

constexpr int kTag = 0x5c17;  // every message of the library, on its own communicator

std::string mpi_error_text(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(buf, static_cast<std::size_t>(len));
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS)
    throw SessionError(std::string("sk::mpi::Session: ") + what + " failed: " + mpi_error_text(rc));
}

// MPI_Finalize fences with every live rank. If it has not returned after
// this long something is wrong with the job: say so and leave.
void finalize_with_watchdog(int rank) noexcept {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread([done, rank] {
    for (int i = 0; i < 300 && !done->load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (done->load()) return;
    char msg[160];
    const int n = std::snprintf(msg, sizeof msg,
                                "sk::mpi: rank %d: MPI_Finalize has not returned after 30 s; exiting without it\n",
                                rank);
    if (n > 0) (void)!::write(2, msg, static_cast<std::size_t>(n));
    std::fflush(nullptr);
    ::_exit(4);
  }).detach();
  MPI_Finalize();
  done->store(true);
}

std::shared_mutex& fork_gate() {
  static auto* gate = new std::shared_mutex;  // never destroyed: forks may come during exit
  return *gate;
}

}  // namespace

// See job.hpp: fork() waits until no thread of the library is inside one.
NotDuringFork::NotDuringFork() {
  static const bool installed = [] {
    ::pthread_atfork([] { fork_gate().lock(); }, [] { fork_gate().unlock(); }, [] { fork_gate().unlock(); });
    return true;
  }();
  (void)installed;
  fork_gate().lock_shared();
}

NotDuringFork::~NotDuringFork() { fork_gate().unlock_shared(); }

Engine::Engine(int* argc, char*** argv, const SessionOptions& options) {
  int inited = 0;
  MPI_Initialized(&inited);
  int provided = MPI_THREAD_SINGLE;
  if (inited) {
    MPI_Query_thread(&provided);
  } else {
    check(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
    owns_mpi_ = true;
  }
  try {
    if (provided < MPI_THREAD_SERIALIZED)
      throw SessionError("sk::mpi::Session: this MPI library gives thread level " + std::to_string(provided) +
                         "; the session's progress thread needs MPI_THREAD_SERIALIZED or better (Open MPI "
                         "built with thread support gives MPI_THREAD_MULTIPLE)");
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    // Faults are ours to handle: a dead peer must not abort rank 0.
    check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);

    // Rank 0's options (and environment overrides) hold for every rank.
    long long opts[2] = {static_cast<long long>(options.lost_after.count()), options.every_rank_a_node ? 1 : 0};
    if (rank_ == 0) {
      if (const char* v = std::getenv("SK_MPI_LOST_AFTER_MS"); v && *v) {
        char* end = nullptr;
        const long long ms = std::strtoll(v, &end, 10);
        if (end == v || *end != '\0' || ms < 50)
          throw SessionError(std::string("sk::mpi::Session: SK_MPI_LOST_AFTER_MS='") + v +
                             "' is not a number of milliseconds >= 50");
        opts[0] = ms;
      }
      if (const char* v = std::getenv("SK_MPI_EVERY_RANK_A_NODE"); v && *v) opts[1] = std::strcmp(v, "0") != 0;
      if (opts[0] < 50) throw SessionError("sk::mpi::Session: lost_after must be at least 50 ms");
    }
    check(MPI_Bcast(opts, 2, MPI_LONG_LONG, 0, comm_), "MPI_Bcast(options)");
    lost_after_ = std::chrono::milliseconds(opts[0]);
    every_rank_ = opts[1] != 0;

    // Nodes: ranks that share memory (or each rank alone, for tests).
    MPI_Comm node = MPI_COMM_NULL, machine = MPI_COMM_NULL;
    check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &machine), "MPI_Comm_split_type");
    if (every_rank_) {
      check(MPI_Comm_split(comm_, rank_, 0, &node), "MPI_Comm_split");
    } else {
      check(MPI_Comm_dup(machine, &node), "MPI_Comm_dup(node)");
    }
    int node_rank = 0, machine_size = 1;
    MPI_Comm_rank(node, &node_rank);
    MPI_Comm_size(machine, &machine_size);
    leader_ = node_rank == 0;
    int my_leader = rank_;
    check(MPI_Bcast(&my_leader, 1, MPI_INT, 0, node), "MPI_Bcast(leader)");
    std::vector<int> leader_of(static_cast<std::size_t>(size_));
    check(MPI_Allgather(&my_leader, 1, MPI_INT, leader_of.data(), 1, MPI_INT, comm_), "MPI_Allgather(leaders)");
    MPI_Comm_free(&node);
    MPI_Comm_free(&machine);

    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int len = 0;
    MPI_Get_processor_name(name, &len);
    std::vector<char> all(static_cast<std::size_t>(size_) * MPI_MAX_PROCESSOR_NAME);
    check(MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm_),
          "MPI_Allgather(hosts)");
    for (int r = 0; r < size_; ++r) {
      const char* h = all.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME;
      hosts_.emplace_back(h, strnlen(h, MPI_MAX_PROCESSOR_NAME));
    }
    for (int r = 0; r < size_; ++r) {
      if (leader_of[static_cast<std::size_t>(r)] != r) continue;
      NodeInfo n;
      n.leader = r;
      n.host = hosts_[static_cast<std::size_t>(r)];
      n.ranks = static_cast<int>(std::count(leader_of.begin(), leader_of.end(), r));
      nodes_.push_back(std::move(n));
    }
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    default_workers_ = every_rank_ ? std::max(1u, hw / static_cast<unsigned>(machine_size)) : hw;

    // The same program on every rank: the same job table, in the same order.
    unsigned long long digest = registry_digest(), lo = 0, hi = 0;
    check(MPI_Allreduce(&digest, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, comm_), "MPI_Allreduce(digest)");
    check(MPI_Allreduce(&digest, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm_), "MPI_Allreduce(digest)");
    if (lo != hi)
      throw SessionError("sk::mpi::Session: the ranks do not run the same program (their tables of callables "
                         "registered for sk::mpi::Pool differ); start one executable on every rank");

    if (leader_) server_ = std::make_unique<NodeServer>(*this);
    if (rank_ == 0) coord_ = std::make_unique<Coordinator>(*this);
  } catch (...) {
    if (owns_mpi_) finalize_with_watchdog(rank_);
    finalized_ = true;
    throw;
  }
}

Engine::~Engine() {
  if (thread_.joinable()) {
    {
      std::lock_guard lk(m_);
      stop_ = true;
      woken_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  finalize();
}

void Engine::finalize() noexcept {
  if (finalized_) return;
  finalized_ = true;
  server_.reset();
  // Requests to ranks that died never complete: cancel them so that
  // MPI_Finalize does not wait for them.
  for (auto& p : sends_) {
    if (p.req != MPI_REQUEST_NULL) {
      MPI_Cancel(&p.req);
      MPI_Request_free(&p.req);
    }
  }
  sends_.clear();
  if (owns_mpi_ && finalize_mpi_) finalize_with_watchdog(rank_);
}

void Engine::start_root() {
  last_ping_ = Clock::now() - std::chrono::hours(1);
  thread_ = std::thread([this] { loop(); });
}

void Engine::serve() {
  if (rank_ == 0) throw SessionError("sk::mpi::Session::serve: rank 0 runs main's logic; only other ranks serve");
  last_root_ = Clock::now();
  loop();
  if (server_) clean_ = server_->shutdown(std::chrono::seconds(2)) && clean_;
  finalize();
  std::fflush(nullptr);
  // An executor still inside a chunk cannot be joined: leave without
  // running destructors that would wait for it.
  if (!clean_) ::_exit(0);
  std::exit(0);
}

void Engine::end_session() {
  if (ended_.exchange(true)) return;
  if (thread_.joinable()) {
    {
      std::lock_guard lk(m_);
      posted_.push_back([this] {
        coord_->shutdown();
        for (int r = 1; r < size_; ++r) {
          if (gone_.count(r)) continue;
          send(r, wire::message(wire::End{}));
          awaiting_ack_.insert(r);
        }
        ending_ = true;
        ending_since_ = Clock::now();
      });
      woken_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  if (server_) server_->shutdown(std::chrono::seconds(2));
  finalize();
}

void Engine::post(std::function<void()> fn) {
  {
    std::lock_guard lk(m_);
    if (ended_.load()) throw SessionError("sk::mpi: the session has ended (its Session was destroyed)");
    posted_.push_back(std::move(fn));
    woken_ = true;
  }
  cv_.notify_all();
}

void Engine::wake() {
  {
    std::lock_guard lk(m_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Engine::send(int dest, std::vector<std::byte>&& msg) {
  if (dest == rank_) {
    self_.push_back(std::move(msg));
    return;
  }
  if (gone_.count(dest)) return;
  if (msg.size() > static_cast<std::size_t>(INT32_MAX)) {
    std::fprintf(stderr, "sk::mpi: rank %d: a message of %zu bytes exceeds MPI's 2 GiB limit; not sent\n", rank_,
                 msg.size());
    return;
  }
  Pending p;
  p.buf = std::move(msg);
  p.dest = dest;
  p.since = Clock::now();
  const int rc = MPI_Isend(p.buf.data(), static_cast<int>(p.buf.size()), MPI_BYTE, dest, kTag, comm_, &p.req);
  if (rc != MPI_SUCCESS) {
    if (coord_) coord_->peer_failed(dest, "MPI_Isend failed: " + mpi_error_text(rc));
    gone_.insert(dest);
    return;
  }
  sends_.push_back(std::move(p));
}

void Engine::drop_sends_to(int rank) {
  gone_.insert(rank);
  for (auto it = sends_.begin(); it != sends_.end();) {
    if (it->dest == rank) {
      if (it->req != MPI_REQUEST_NULL) {
        MPI_Cancel(&it->req);
        MPI_Request_free(&it->req);
      }
      it = sends_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Engine::progress_sends(Clock::time_point now) {
  bool any = false;
  for (auto it = sends_.begin(); it != sends_.end();) {
    int flag = 0;
    const int rc = MPI_Test(&it->req, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) {
      const int dest = it->dest;
      if (coord_) coord_->peer_failed(dest, "a send to it failed: " + mpi_error_text(rc));
      it = sends_.erase(it);
      drop_sends_to(dest);
      any = true;
      it = sends_.begin();
      continue;
    }
    if (flag) {
      it = sends_.erase(it);
      any = true;
    } else {
      // A send that has not completed for lost_after goes to a rank that is
      // not receiving (dead, or rank 0 gone for a non-root rank): stop.
      if (now - it->since > lost_after_ * 2 && rank_ == 0) {
        const int dest = it->dest;
        coord_->peer_failed(dest, "it has not taken a message for " +
                                      std::to_string((lost_after_ * 2).count()) + " ms");
        drop_sends_to(dest);
        it = sends_.begin();
        any = true;
        continue;
      }
      ++it;
    }
  }
  return any;
}

bool Engine::poll_mpi() {
  bool any = false;
  for (int i = 0; i < 64; ++i) {
    int flag = 0;
    MPI_Message m;
    MPI_Status st;
    if (MPI_Improbe(MPI_ANY_SOURCE, kTag, comm_, &flag, &m, &st) != MPI_SUCCESS || !flag) break;
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    std::vector<std::byte> buf(static_cast<std::size_t>(count));
    if (MPI_Mrecv(buf.data(), count, MPI_BYTE, &m, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
    handle(st.MPI_SOURCE, std::move(buf));
    any = true;
  }
  return any;
}

void Engine::handle(int src, std::vector<std::byte>&& msg) {
  std::size_t at = 0;
  wire::Header h;
  try {
    h = wire::parse(msg, at);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sk::mpi: rank %d: dropped a message from rank %d that does not decode: %s\n", rank_, src,
                 e.what());
    if (coord_ && src != rank_) coord_->peer_failed(src, std::string("it sent bytes that do not decode: ") + e.what());
    return;
  }
  if (src == 0) last_root_ = Clock::now();
  if (std::holds_alternative<wire::Ping>(h)) return;
  if (std::holds_alternative<wire::End>(h)) {
    if (server_) clean_ = server_->shutdown(std::chrono::seconds(2)) && clean_;
    send(0, wire::message(wire::Ack{}));
    return;
  }
  if (const auto* f = std::get_if<wire::Final>(&h)) {
    finalize_mpi_ = f->finalize;
    stop_ = true;
    return;
  }
  if (std::holds_alternative<wire::Ack>(h)) {
    awaiting_ack_.erase(src);
    return;
  }
  const bool to_leader = std::holds_alternative<wire::Open>(h) || std::holds_alternative<wire::Close>(h) ||
                         std::holds_alternative<wire::Start>(h) || std::holds_alternative<wire::Chunk>(h) ||
                         std::holds_alternative<wire::EndCall>(h);
  if (to_leader) {
    if (server_) server_->on_message(h, std::move(msg), at);
    return;
  }
  if (coord_) coord_->on_message(src, h, std::move(msg), at);
}

Engine::Round Engine::round() {
  // Every allocation of this thread happens in here, never during a fork.
  NotDuringFork quiet;
  bool any = false;
  std::deque<std::function<void()>> posted;
  {
    std::lock_guard lk(m_);
    posted.swap(posted_);
    woken_ = false;
    if (stop_ && rank_ == 0 && !ending_) return Round::stop;  // ~Engine without end_session
  }
  for (auto& fn : posted) {
    fn();
    any = true;
  }
  any |= poll_mpi();
  while (!self_.empty()) {
    auto msg = std::move(self_.front());
    self_.pop_front();
    handle(rank_, std::move(msg));
    any = true;
  }
  const auto now = Clock::now();
  if (server_) any |= server_->poll(now);
  if (coord_) any |= coord_->tick(now);
  any |= progress_sends(now);

  if (rank_ == 0) {
    if (ending_) {
      // Every rank answers End once its pools are closed; one that does not
      // within lost_after is gone, and then no rank calls MPI_Finalize.
      if (!final_sent_ && (awaiting_ack_.empty() || now - ending_since_ > lost_after_)) {
        finalize_mpi_ = awaiting_ack_.empty() && gone_.empty();
        for (int r = 1; r < size_; ++r)
          if (!gone_.count(r) && !awaiting_ack_.count(r)) send(r, wire::message(wire::Final{finalize_mpi_}));
        final_sent_ = true;
        final_since_ = now;
        any = true;
      }
      if (final_sent_ && (sends_.empty() || now - final_since_ > std::chrono::seconds(2))) return Round::stop;
    }
    if (now - last_ping_ >= beat()) {
      last_ping_ = now;
      for (int r = 1; r < size_; ++r)
        if (!gone_.count(r)) send(r, wire::message(wire::Ping{}));
    }
  } else {
    if (stop_) return Round::stop;
    if (now - last_root_ > lost_after_) {
      char msg[200];
      const int n = std::snprintf(msg, sizeof msg,
                                  "sk::mpi: rank %d: nothing from rank 0 for %lld ms: it is gone (killed, or its "
                                  "host is down); this rank exits\n",
                                  rank_, static_cast<long long>(lost_after_.count()));
      if (n > 0) (void)!::write(2, msg, static_cast<std::size_t>(n));
      std::fflush(nullptr);
      ::_exit(3);  // its local pool's workers die with it (PR_SET_PDEATHSIG)
    }
  }
  if (any) last_busy_ = now;
  return any ? Round::busy : Round::idle;
}

void Engine::loop() {
  auto idle = std::chrono::microseconds(20);
  for (;;) {
    const Round r = round();
    if (r == Round::stop) return;
    if (r == Round::busy) {
      idle = std::chrono::microseconds(20);
      continue;
    }
    // Nothing to do: sleep, longer each idle round, woken at once by a
    // caller or an executor; MPI traffic waits for the next round. Up to
    // 100 us within 50 ms of the last activity (calls come in bursts), up to
    // 1 ms after that (an idle rank costs ~1,000 wake-ups a second).
    const auto cap = Clock::now() - last_busy_ < std::chrono::milliseconds(50) ? std::chrono::microseconds(100)
                                                                                 : std::chrono::microseconds(1000);
    std::unique_lock lk(m_);
    cv_.wait_for(lk, idle, [this] { return woken_; });
    idle = std::min<std::chrono::microseconds>(idle * 2, cap);
  }
}

}  // namespace sk::mpi::detail
