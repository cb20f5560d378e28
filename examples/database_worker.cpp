// The pitch's DatabaseWorker, with a stand-in query function instead of
// PostgreSQL: runs until stopped, 3 lives, a 30 s timeout per query, a query
// received in prerun, the answer told back in postrun, automatic timing.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <sk/process.hpp>

using namespace std::chrono_literals;

struct Query {
  std::string sql;
  std::vector<int> params;
  SK_FIELDS(sql, params)
};

struct Reply {
  std::string status;  // "ok", "error", "no query"
  std::vector<std::string> data;
  SK_FIELDS(status, data)
};

// Stand-in for cursor.execute + fetchall: one row per known id.
std::vector<std::string> run_query(const Query& q) {
  std::this_thread::sleep_for(200us);
  std::vector<std::string> rows;
  for (int id : q.params)
    if (id % 2 == 1) rows.push_back("user " + std::to_string(id));
  return rows;
}

class DatabaseWorker : public sk::Skprocess<> {
 public:
  DatabaseWorker() {
    config.runs = std::nullopt;  // run until stop() (the default, here for clarity)
    config.lives = 3;            // 2 extra attempts after the first failure
    config.timeouts.run = 30s;   // per query
  }
  void prerun() override { query_ = listen<Query>(100ms); }
  void run() override {
    if (!query_) return;
    results_ = run_query(*query_);
  }
  void postrun() override {
    if (query_)
      tell(Reply{results_.empty() ? "error" : "ok", results_});
    else
      tell(Reply{"no query", {}});
  }

 private:
  std::optional<Query> query_;
  std::vector<std::string> results_;
};

int main() {
  DatabaseWorker worker;
  worker.start();
  const std::vector<Query> queries = {
      {"SELECT * FROM users WHERE id = $1", {123}},
      {"SELECT * FROM users WHERE id = $1", {456}},
      {"SELECT * FROM users WHERE id = $1", {789}},
  };
  std::vector<Reply> results;
  for (const auto& q : queries) {
    worker.tell(q);
    // Skip the "no query" heartbeats sent while the worker waited for us.
    for (;;) {
      auto r = worker.listen<Reply>(30s);
      if (!r) return 1;
      if (r->status == "no query") continue;
      results.push_back(*r);
      break;
    }
  }
  worker.stop();
  worker.wait();
  worker.get();
  for (const auto& r : results) std::printf("%s: %zu rows\n", r.status.c_str(), r.data.size());
  std::printf("Avg query time: %.6fs\n", worker.timers().run.mean().value_or(0.0));
  return results.size() == 3 && results[0].status == "ok" && results[1].status == "error" ? 0 : 1;
}
