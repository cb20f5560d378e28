#pragma once
// The session's engine: one progress thread per rank does every MPI call of
// the library (rank 0: a thread of its own; other ranks: the thread that made
// the Session). It moves messages, and hosts the two roles:
//   NodeServer   on every node leader (rank 0 included): runs chunks on the
//                node's local sk::Pool in one executor thread per pool;
//   Coordinator  on rank 0: splits calls into chunks, sends them, steals
//                ranges for idle nodes, gives up on silent nodes.
// Messages from rank 0 to itself skip MPI (a local inbox), so rank 0's node
// runs exactly the code every other node runs.
#include <mpi.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sk/mpi/call.hpp>
#include <sk/mpi/session.hpp>

#include "wire.hpp"

namespace sk::mpi::detail {

using Clock = std::chrono::steady_clock;

class Engine;

// ---- caller-side objects (rank 0) -------------------------------------------

class PoolCore {
 public:
  PoolCore(std::shared_ptr<Engine> engine, std::uint64_t id, PoolOptions options)
      : engine_(std::move(engine)), id_(id), options_(options) {}
  ~PoolCore();  // closes the nodes' local pools

  std::shared_ptr<Engine> engine_;
  std::uint64_t id_;
  PoolOptions options_;
  // Set once by the coordinator before open_pool returns; read-only after.
  std::vector<std::size_t> nodes_;       // node indices
  std::vector<unsigned> workers_;        // local workers on each
  mutable std::mutex stats_m_;
  CallStats last_;
};

class Call {
 public:
  Call(std::shared_ptr<PoolCore> pool, CallSpec&& spec) : pool_(std::move(pool)), spec_(std::move(spec)) {}

  // engine side (progress thread)
  void push(ChunkResult&& r);
  void end(CallStats stats);

  std::shared_ptr<PoolCore> pool_;
  CallSpec spec_;  // read by the progress thread only, after start_call
  std::uint64_t id_ = 0;

  std::mutex m_;
  std::condition_variable cv_;
  std::deque<ChunkResult> ready_;
  bool ended_ = false;
  std::atomic<bool> cancel_{false};
  std::atomic<std::uint64_t> done_{0};
  CallStats stats_;
};

// ---- node leader: runs chunks ------------------------------------------------

class NodeServer {
 public:
  explicit NodeServer(Engine& e) : e_(e) {}
  ~NodeServer();
  void on_message(const wire::Header& h, std::vector<std::byte>&& msg, std::size_t payload_at);
  // Sends what the executors finished and, while busy, heartbeats.
  bool poll(Clock::time_point now);
  // Stops every executor; waits up to `grace` for running chunks. False if one is still running.
  bool shutdown(std::chrono::milliseconds grace);

 private:
  struct CallInfo {
    wire::Start start;
    std::vector<std::byte> callable;
    std::atomic<bool> ended{false};
  };
  struct Task {
    std::shared_ptr<CallInfo> call;
    wire::Chunk chunk;
    std::vector<std::byte> msg;
    std::size_t payload_at = 0;
  };
  struct Exec {
    std::uint64_t pool = 0;
    unsigned workers = 0;
    std::thread thread;
    std::mutex m;
    std::condition_variable cv;
    std::deque<Task> queue;
    bool stop = false;
    bool running = false;
    std::atomic<bool> finished{false};
  };
  void exec_main(Exec& x);
  void run_task(Task& t, LocalPools& pools, std::vector<std::byte>& out);
  void emit(std::vector<std::byte>&& msg);
  bool busy();

  Engine& e_;
  std::map<std::uint64_t, std::unique_ptr<Exec>> execs_;
  std::list<std::unique_ptr<Exec>> closing_;  // stopped, not yet joined
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::shared_ptr<CallInfo>> calls_;
  std::mutex out_m_;
  std::deque<std::vector<std::byte>> out_;
  Clock::time_point last_beat_{};
};

// ---- rank 0: schedules calls -------------------------------------------------

class Coordinator {
 public:
  explicit Coordinator(Engine& e);
  void on_message(int src, const wire::Header& h, std::vector<std::byte>&& msg, std::size_t payload_at);
  bool tick(Clock::time_point now);
  // A send to this rank failed: it is gone.
  void peer_failed(int rank, const std::string& why);

  // commands (progress thread, posted by callers)
  void open_pool(std::shared_ptr<PoolCore> pool, std::shared_ptr<std::promise<void>> opened);
  void close_pool(std::uint64_t pool);
  void start(std::shared_ptr<Call> call);
  void shutdown();  // the session ends: every call fails
  bool rank_lost(int rank) const;

 private:
  struct Node {
    int rank = 0;
    std::string host;
    bool alive = true;
    Clock::time_point last_heard{};
    bool busy = false;
    Clock::time_point busy_since{};
  };
  struct Out {
    std::uint64_t chunk, begin, count;
  };
  struct NodeRun {
    std::size_t node = 0;  // index into nodes_
    unsigned workers = 1;
    std::uint64_t next = 0, end = 0;  // own range still to send
    std::deque<Out> out;
    bool started = false;
    // The node's last chunks (items, seconds on the node; a ring), to
    // fit time = overhead + items * cost (Coordinator::chunk_size).
    std::array<std::pair<double, double>, 8> samples{};
    std::size_t nsamples = 0;
    std::uint64_t last = 0;  // size of the newest measured chunk
  };
  struct Run {
    std::shared_ptr<Call> call;
    std::vector<NodeRun> nodes;
    std::uint64_t limit = 0;  // imap after a failure: only items below it are still wanted
    std::vector<std::pair<std::uint64_t, std::uint64_t>> delivered;
    std::uint64_t next_chunk = 1;
    CallStats stats;
    bool finished = false;
  };
  struct Opening {
    std::shared_ptr<PoolCore> pool;
    std::shared_ptr<std::promise<void>> opened;
    std::set<std::size_t> pending;
    std::map<std::size_t, unsigned> workers;
    std::string errors;
  };

  void dispatch(Run& r, Clock::time_point now);
  bool steal(Run& r, NodeRun& thief);
  std::uint64_t chunk_size(const Run& r, const NodeRun& nr) const;
  std::uint64_t remaining(const Run& r, const NodeRun& nr) const;
  void send_chunk(Run& r, NodeRun& nr, std::uint64_t begin, std::uint64_t end);
  void on_done(std::size_t node, const wire::Done& d, std::vector<std::byte>&& msg, std::size_t payload_at);
  void finish(Run& r);
  void fail(Run& r, std::exception_ptr e);
  void lose(std::size_t node, Clock::time_point now, const std::string& why);
  std::uint64_t delivered_below(const Run& r, std::uint64_t limit) const;
  void check_complete(Run& r);
  std::size_t node_of(int rank) const;
  void finish_opening(Opening& o);

  Engine& e_;
  std::vector<Node> nodes_;
  std::uint64_t next_pool_ = 1;
  std::uint64_t next_call_ = 1;
  std::list<Run> runs_;
  std::map<std::uint64_t, Opening> openings_;
  std::map<std::uint64_t, std::vector<std::size_t>> pools_;  // open pools -> their nodes
};

// ---- the engine ----------------------------------------------------------------

class Engine : public std::enable_shared_from_this<Engine> {
 public:
  Engine(int* argc, char*** argv, const SessionOptions& options);
  ~Engine();

  // Rank 0: starts the progress thread. Other ranks: serve() runs it here.
  void start_root();
  [[noreturn]] void serve();
  // Rank 0 (~Session): ends every rank's service, then MPI_Finalize.
  void end_session();

  // Runs fn on the progress thread (rank 0). Throws SessionError once ended.
  void post(std::function<void()> fn);
  void wake();
  // Progress thread only.
  void send(int dest, std::vector<std::byte>&& msg);
  void drop_sends_to(int rank);

  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  bool leader() const noexcept { return leader_; }
  const std::vector<NodeInfo>& nodes() const noexcept { return nodes_; }
  bool every_rank_a_node() const noexcept { return every_rank_; }
  std::chrono::milliseconds lost_after() const noexcept { return lost_after_; }
  std::chrono::milliseconds beat() const noexcept { return std::max(lost_after_ / 5, std::chrono::milliseconds(10)); }
  unsigned default_workers() const noexcept { return default_workers_; }
  const std::string& host_of(int rank) const { return hosts_.at(static_cast<std::size_t>(rank)); }
  bool ended() const noexcept { return ended_.load(); }
  Coordinator& coordinator() { return *coord_; }

 private:
  enum class Round { busy, idle, stop };
  Round round();  // one pass over everything the progress thread does
  void loop();
  bool poll_mpi();
  bool progress_sends(Clock::time_point now);
  void handle(int src, std::vector<std::byte>&& msg);
  void finalize() noexcept;

  int rank_ = 0, size_ = 1;
  bool owns_mpi_ = false;
  bool finalized_ = false;
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool leader_ = true;
  bool every_rank_ = false;
  std::chrono::milliseconds lost_after_{5000};
  unsigned default_workers_ = 1;
  std::vector<NodeInfo> nodes_;
  std::vector<std::string> hosts_;

  std::unique_ptr<NodeServer> server_;
  std::unique_ptr<Coordinator> coord_;

  std::thread thread_;
  std::mutex m_;
  std::condition_variable cv_;
  bool woken_ = false;
  std::deque<std::function<void()>> posted_;
  std::atomic<bool> ended_{false};
  bool stop_ = false;       // the loop returns
  bool ending_ = false;     // rank 0: End sent, waiting for the Acks
  Clock::time_point ending_since_{};
  std::set<int> awaiting_ack_;  // rank 0: ranks sent End that have not answered
  bool final_sent_ = false;
  Clock::time_point final_since_{};
  bool finalize_mpi_ = true;  // false: a rank was lost; MPI_Finalize could wait for it forever
  bool clean_ = true;         // false: an executor was still inside a chunk at the end

  struct Pending {
    MPI_Request req = MPI_REQUEST_NULL;
    std::vector<std::byte> buf;
    int dest = 0;
    Clock::time_point since{};
  };
  std::list<Pending> sends_;
  std::deque<std::vector<std::byte>> self_;  // rank 0 to itself
  std::set<int> gone_;                       // ranks we stopped talking to
  Clock::time_point last_root_{};            // other ranks: last message from rank 0
  Clock::time_point last_ping_{};            // rank 0: last ping round
  Clock::time_point last_busy_{};            // the loop's last round with work
};

}  // namespace sk::mpi::detail
