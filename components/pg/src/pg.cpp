#include <fcntl.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <sk/pg.hpp>

namespace sk::pg {
namespace {

std::string pq_error(PGconn* c) {
  std::string s = c ? PQerrorMessage(c) : "out of memory";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Points fd at /dev/null so that whatever libpq writes on teardown goes
// nowhere; the parent's socket (same open file description) is untouched.
void neutralize_fd(int fd) noexcept {
  if (fd < 0) return;
  const int nul = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (nul < 0) return;
  ::dup2(nul, fd);
  ::close(nul);
}

}  // namespace

Connection Connection::connect(Params params, std::optional<std::string> password) {
  if (params.count("password")) {
    throw PgError("sk::pg::Connection::connect: pass the password as the second argument, not in params "
                  "(params are kept in the object and must not hold secrets)");
  }
  Connection c;
  c.params_ = std::move(params);
  c.open(password);
  return c;
}

void Connection::open(const std::optional<std::string>& password) {
  std::vector<const char*> keys, vals;
  for (auto& [k, v] : params_) {
    keys.push_back(k.c_str());
    vals.push_back(v.c_str());
  }
  if (password) {
    keys.push_back("password");
    vals.push_back(password->c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);
  PGconn* c = PQconnectdbParams(keys.data(), vals.data(), 0);
  if (!c || PQstatus(c) != CONNECTION_OK) {
    std::string msg = pq_error(c);
    if (c) PQfinish(c);
    std::string where;
    for (auto& [k, v] : params_) where += k + "=" + v + " ";
    throw PgError("PostgreSQL connection failed (" + where + "): " + msg);
  }
  conn_ = c;
  owner_pid_ = ::getpid();
}

Connection::Connection(Connection&& o) noexcept
    : params_(std::move(o.params_)), conn_(o.conn_), owner_pid_(o.owner_pid_) {
  o.conn_ = nullptr;
}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    close();
    params_ = std::move(o.params_);
    conn_ = o.conn_;
    owner_pid_ = o.owner_pid_;
    o.conn_ = nullptr;
  }
  return *this;
}

Connection::~Connection() { close(); }

void Connection::close() noexcept {
  if (conn_) {
    // An inherited connection (a forked child that never reconnected, exiting
    // normally) must not end the parent's session on the shared socket.
    if (owner_pid_ != ::getpid()) neutralize_fd(PQsocket(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
  }
}

bool Connection::ok() const noexcept { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

int Connection::backend_pid() const {
  if (!conn_) throw PgError("sk::pg::Connection::backend_pid: not connected");
  return PQbackendPID(conn_);
}

Result Connection::exec(const std::string& sql, const std::vector<std::optional<std::string>>& args) {
  if (!conn_) throw PgError("sk::pg::Connection::exec: not connected (moved from or closed)");
  std::vector<const char*> vals;
  for (auto& a : args) vals.push_back(a ? a->c_str() : nullptr);
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(vals.size()), nullptr, vals.data(), nullptr,
                             nullptr, 0);
  const auto st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string msg = r ? PQresultErrorMessage(r) : pq_error(conn_);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    PQclear(r);
    throw PgError("PostgreSQL query failed: " + msg + " [" + sql + "]");
  }
  Result out;
  const int nc = PQnfields(r), nr = PQntuples(r);
  for (int c = 0; c < nc; ++c) out.columns.emplace_back(PQfname(r, c));
  out.rows.reserve(static_cast<std::size_t>(nr));
  for (int i = 0; i < nr; ++i) {
    Row row;
    for (int c = 0; c < nc; ++c) {
      if (PQgetisnull(r, i, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(std::string(PQgetvalue(r, i, c), static_cast<std::size_t>(PQgetlength(r, i, c))));
      }
    }
    out.rows.push_back(std::move(row));
  }
  PQclear(r);
  return out;
}

void Connection::reconnect_in_child(const std::optional<std::string>& password) {
  if (conn_) {
    // The socket is shared with the parent (fork duplicated the descriptor).
    // PQfinish would send a Terminate message on it and end the PARENT's
    // session; aim the descriptor at /dev/null first, then free libpq's state.
    neutralize_fd(PQsocket(conn_));
    PQfinish(conn_);
    conn_ = nullptr;
  }
  open(password);
}

}  // namespace sk::pg
