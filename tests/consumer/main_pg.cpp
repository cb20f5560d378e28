// Uses the optional PostgreSQL component: no server is needed, a refused
// connection proves libpq is linked and its error reaches us as sk::pg::PgError.
#include <cstdio>
#include <string>

#include <sk/pg.hpp>

int main() {
  try {
    (void)sk::pg::Connection::connect({{"host", "127.0.0.1"}, {"port", "1"}, {"dbname", "none"},
                                       {"connect_timeout", "2"}});
  } catch (const sk::pg::PgError& e) {
    std::printf("consumer_pg: refused as expected (%.60s...)\n", e.what());
    return 0;
  }
  return 1;
}
