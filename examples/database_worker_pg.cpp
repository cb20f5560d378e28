// The pitch's DatabaseWorker against a real PostgreSQL, with autoreconnect:
// the connection is opened in the parent, and the worker process gets a fresh
// one of its own before prerun (never the parent's socket). Runs until
// stopped, 3 lives, a 30 s timeout per query, the query received in prerun,
// the answer told back in postrun, the connection closed in onfinish, and the
// average query time from the automatic timers.
//
// Connection facts come from SK_PG_HOST/PORT/USER/DB/PASSWORD, or from the
// file named by SK_PG_ENV (what `scripts/pg start-env FILE` writes; CTest's
// Postgres fixture provides it).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <sk/autoreconnect.hpp>
#include <sk/pg.hpp>
#include <sk/process.hpp>

using namespace std::chrono_literals;

struct Query {
  std::string sql;
  std::vector<std::optional<std::string>> params;
  SK_FIELDS(sql, params)
};

struct Reply {
  std::string status;  // "ok", "error", "no query"
  std::vector<sk::pg::Row> data;
  int backend = 0;     // which server process answered (to show it is the worker's own)
  SK_FIELDS(status, data, backend)
};

class DatabaseWorker : public sk::Skprocess<> {
 public:
  explicit DatabaseWorker(sk::pg::Connection conn) : db_("db", std::move(conn)) {
    config.runs = std::nullopt;  // run until stop() (the default, here for clarity)
    config.lives = 3;            // 2 extra attempts after the first failure (reconnects included)
    config.timeouts.run = 30s;   // per query
    // @autoreconnect(**{"psycopg2.Connection": {"*": "password"}}): the password is
    // read from the environment in the worker, never stored in the object.
    config.autoreconnect = sk::Autoreconnect{{"sk::pg::Connection", {{"*", sk::Secret::env("SK_PG_PASSWORD")}}}};
  }
  void prerun() override { query_ = listen<Query>(100ms); }
  void run() override {
    if (!query_) return;
    results_ = db_->exec(query_->sql, query_->params).rows;
  }
  void postrun() override {
    if (query_)
      tell(Reply{results_.empty() ? "error" : "ok", results_, db_->backend_pid()});
    else
      tell(Reply{"no query", {}, 0});
  }
  void onfinish() override { db_->close(); }

 private:
  sk::Live<sk::pg::Connection> db_;
  std::optional<Query> query_;
  std::vector<sk::pg::Row> results_;
};

namespace {

// Loads KEY=VALUE lines of $SK_PG_ENV into the environment (if set).
void load_env_file() {
  const char* path = std::getenv("SK_PG_ENV");
  if (!path) return;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) setenv(line.substr(0, eq).c_str(), line.substr(eq + 1).c_str(), 1);
  }
}

std::string env(const char* k) {
  const char* v = std::getenv(k);
  return v ? v : "";
}

}  // namespace

int main() {
  load_env_file();
  if (env("SK_PG_PORT").empty()) {
    std::fprintf(stderr, "database_worker_pg: set SK_PG_HOST/PORT/USER/DB/PASSWORD or SK_PG_ENV "
                         "(eval \"$(scripts/pg start)\" starts a private server)\n");
    return 2;
  }
  // connect to the database (credentials stored separately)
  auto db = sk::pg::Connection::connect({{"host", env("SK_PG_HOST")}, {"port", env("SK_PG_PORT")},
                                         {"user", env("SK_PG_USER")}, {"dbname", env("SK_PG_DB")}},
                                        env("SK_PG_PASSWORD"));
  db.exec("CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text)");
  db.exec("INSERT INTO users VALUES (123, 'ada'), (789, 'grace') ON CONFLICT DO NOTHING");
  const int parent_backend = db.backend_pid();

  // init and start the worker process
  DatabaseWorker worker(std::move(db));
  worker.start();

  const std::vector<Query> queries = {
      {"SELECT * FROM users WHERE id = $1", {"123"}},
      {"SELECT * FROM users WHERE id = $1", {"456"}},
      {"SELECT * FROM users WHERE id = $1", {"789"}},
  };
  std::vector<Reply> results;
  for (const auto& q : queries) {
    worker.tell(q);
    for (;;) {  // skip the "no query" heartbeats sent while the worker waited for us
      auto r = worker.listen<Reply>(30s);
      if (!r) return 1;
      if (r->status == "no query") continue;
      results.push_back(*r);
      break;
    }
  }
  // request stop (join) and wait for it to finish
  worker.stop();
  worker.wait();
  worker.get();

  bool own_backend = true;
  for (const auto& r : results) {
    std::printf("%s: %zu rows (answered by backend %d; the parent's was %d)\n", r.status.c_str(), r.data.size(),
                r.backend, parent_backend);
    own_backend = own_backend && r.backend != parent_backend;
  }
  // automatically timed
  std::printf("Avg query time: %.6fs\n", worker.timers().run.mean().value_or(0.0));
  return results.size() == 3 && results[0].status == "ok" && results[1].status == "error" &&
                 results[2].status == "ok" && own_backend
             ? 0
             : 1;
}
