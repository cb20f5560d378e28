#pragma once
// sk::pg::Connection: a thin PostgreSQL connection over libpq that knows how
// to follow a worker into a forked child (see sk/autoreconnect.hpp).
//
// Kept state: the connection parameters WITHOUT the password (host, port,
// dbname, user, options). The password is used once to connect and never
// stored by us; in a child it comes from the autoreconnect declaration.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <sk/autoreconnect.hpp>
#include <sk/core/error.hpp>

struct pg_conn;  // libpq's PGconn

namespace sk::pg {

// A connection or query failed; the message carries libpq's error text.
class PgError : public Error {
 public:
  using Error::Error;
};

using Row = std::vector<std::optional<std::string>>;  // nullopt = SQL NULL

struct Result {
  std::vector<std::string> columns;
  std::vector<Row> rows;
  bool empty() const noexcept { return rows.empty(); }
};

class Connection {
 public:
  using Params = std::map<std::string, std::string>;  // libpq keywords: host, port, dbname, user, ...

  Connection() = default;
  // Connects; `params` must not contain "password" (pass it separately).
  static Connection connect(Params params, std::optional<std::string> password = std::nullopt);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs a statement with text parameters ($1, $2, ...); throws PgError.
  Result exec(const std::string& sql, const std::vector<std::optional<std::string>>& args = {});
  int backend_pid() const;
  bool ok() const noexcept;
  // Ends the session (sends libpq's goodbye). Only the owning process should.
  void close() noexcept;
  const Params& params() const noexcept { return params_; }
  pg_conn* native() const noexcept { return conn_; }

  // For reconnect_traits: drop an inherited connection WITHOUT talking to the
  // server over the socket the parent still uses, then connect afresh.
  void reconnect_in_child(const std::optional<std::string>& password);

 private:
  void open(const std::optional<std::string>& password);
  Params params_;
  pg_conn* conn_ = nullptr;
  int owner_pid_ = 0;  // process that opened conn_; others must not say goodbye on its socket
};

}  // namespace sk::pg

template <>
struct sk::reconnect_traits<sk::pg::Connection> {
  static constexpr std::string_view type_name = "sk::pg::Connection";
  static void reconnect(sk::pg::Connection& c, const std::optional<std::string>& password) {
    c.reconnect_in_child(password);
  }
  static bool healthy(const sk::pg::Connection& c) { return c.ok(); }
};
