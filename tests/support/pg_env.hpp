#pragma once
// Reads the connection facts of the test cluster (scripts/pg start-env) from
// the file named by $SK_PG_ENV.
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include <sk/pg.hpp>

namespace sktest {

struct PgEnv {
  std::map<std::string, std::string> vars;
  std::string get(const std::string& k) const {
    auto it = vars.find(k);
    return it == vars.end() ? std::string() : it->second;
  }
  sk::pg::Connection::Params params() const {
    return {{"host", get("SK_PG_HOST")}, {"port", get("SK_PG_PORT")}, {"user", get("SK_PG_USER")},
            {"dbname", get("SK_PG_DB")}, {"connect_timeout", "5"}, {"sslmode", "disable"}};
  }
  std::string password() const { return get("SK_PG_PASSWORD"); }
  std::string dir() const { return get("SK_PG_DIR"); }
};

inline std::optional<PgEnv> pg_env() {
  const char* path = std::getenv("SK_PG_ENV");
  if (!path) return std::nullopt;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  PgEnv env;
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) env.vars[line.substr(0, eq)] = line.substr(eq + 1);
  }
  if (env.get("SK_PG_PORT").empty()) return std::nullopt;
  return env;
}

}  // namespace sktest
