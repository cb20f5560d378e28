// autoreconnect against a real PostgreSQL (the Postgres CTest fixture starts a
// private cluster on loopback) and the built-in file / TCP resources.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

#include <sk/autoreconnect.hpp>
#include <sk/pg.hpp>
#include <sk/pool.hpp>
#include <sk/process.hpp>
#include <sk/reconnectables.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>

#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "pg_env.hpp"
#include "test_fork.hpp"

namespace {

// Runs fn in a forked child; returns its exit code (fn's return value), or
// 100 + signal if it died, or 99 if it threw.
int in_child(const std::function<int()>& fn) {
  const pid_t pid = sktest::fork();
  if (pid == 0) {
    int rc = 99;
    try {
      rc = fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child threw: %s\n", e.what());
    }
    std::fflush(stderr);
    _exit(rc);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

sktest::PgEnv require_pg() {
  auto env = sktest::pg_env();
  if (!env) {
    ADD_FAILURE() << "SK_PG_ENV does not name a readable cluster file; run through ctest (Postgres fixture)";
    return {};
  }
  return *env;
}

sk::Autoreconnect auth_for(const sktest::PgEnv& env) {
  return sk::Autoreconnect{{"sk::pg::Connection", {{"*", env.password()}}}};
}

int backend_of(sk::pg::Connection& c) { return std::stoi(*c.exec("select pg_backend_pid()").rows.at(0).at(0)); }

}  // namespace

TEST(AutoreconnectPg, child_gets_a_different_backend_and_parent_keeps_its_own) {
  auto env = require_pg();
  sk::Live<sk::pg::Connection> db{"db", sk::pg::Connection::connect(env.params(), env.password())};
  const int parent_backend = backend_of(*db);
  EXPECT_EQ(parent_backend, db->backend_pid());

  const int rc = in_child([&] {
    if (sk::reconnect_inherited(auth_for(env)) != 1) return 2;
    if (db.inherited()) return 3;
    const int child_backend = backend_of(*db);
    return child_backend != parent_backend && child_backend > 0 ? 0 : 4;
  });
  EXPECT_EQ(rc, 0);
  // The parent's session survived the child's reconnect and exit.
  EXPECT_EQ(backend_of(*db), parent_backend);
  EXPECT_EQ(*db->exec("select $1::int + 1", {"41"}).rows.at(0).at(0), "42");
}

TEST(AutoreconnectPg, lazy_reconnect_on_first_use_with_default_declaration) {
  auto env = require_pg();
  sk::set_default_autoreconnect(auth_for(env));
  sk::Live<sk::pg::Connection> db{"db", sk::pg::Connection::connect(env.params(), env.password())};
  const int parent_backend = backend_of(*db);
  const int rc = in_child([&] { return backend_of(*db) != parent_backend ? 0 : 1; });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(backend_of(*db), parent_backend);
  sk::set_default_autoreconnect({});
}

TEST(AutoreconnectPg, child_that_exits_without_reconnecting_does_not_end_the_parent_session) {
  auto env = require_pg();
  auto conn = sk::pg::Connection::connect(env.params(), env.password());
  const int parent_backend = backend_of(conn);
  // The child destroys its inherited copy the normal way (destructor).
  const int rc = in_child([&] {
    sk::pg::Connection moved = std::move(conn);
    moved.close();
    return 0;
  });
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(backend_of(conn), parent_backend);
}

TEST(AutoreconnectPg, per_member_override_beats_the_type_default) {
  auto env = require_pg();
  sk::Live<sk::pg::Connection> db{"reporting", sk::pg::Connection::connect(env.params(), env.password())};
  sk::Autoreconnect auth{{"sk::pg::Connection", {{"*", "wrong-default"}, {"reporting", env.password()}}}};
  EXPECT_EQ(in_child([&] { return sk::reconnect_inherited(auth) == 1 ? 0 : 1; }), 0);
}

TEST(AutoreconnectPg, wrong_password_is_a_clear_reconnect_error) {
  auto env = require_pg();
  sk::Live<sk::pg::Connection> db{"db", sk::pg::Connection::connect(env.params(), env.password())};
  sk::Autoreconnect bad{{"sk::pg::Connection", {{"*", "not-the-password"}}}};
  const int rc = in_child([&] {
    try {
      sk::reconnect_inherited(bad);
      return 1;
    } catch (const sk::ReconnectError& e) {
      const std::string what = e.what();
      return what.find("'db'") != std::string::npos && what.find("password") != std::string::npos ? 0 : 2;
    }
  });
  EXPECT_EQ(rc, 0);
}

TEST(AutoreconnectPg, password_from_an_unset_environment_variable_is_named) {
  auto env = require_pg();
  sk::Live<sk::pg::Connection> db{"db", sk::pg::Connection::connect(env.params(), env.password())};
  sk::Autoreconnect from_env{{"sk::pg::Connection", {{"*", sk::Secret::env("SK_TEST_UNSET_PASSWORD_VAR")}}}};
  const int rc = in_child([&] {
    try {
      sk::reconnect_inherited(from_env);
      return 1;
    } catch (const sk::ReconnectError& e) {
      return std::string(e.what()).find("SK_TEST_UNSET_PASSWORD_VAR") != std::string::npos ? 0 : 2;
    }
  });
  EXPECT_EQ(rc, 0);
  setenv("SK_TEST_PG_PASSWORD", env.password().c_str(), 1);
  sk::Autoreconnect ok{{"sk::pg::Connection", {{"*", sk::Secret::env("SK_TEST_PG_PASSWORD")}}}};
  EXPECT_EQ(in_child([&] { return sk::reconnect_inherited(ok) == 1 ? 0 : 1; }), 0);
}

TEST(AutoreconnectPg, password_is_not_kept_in_the_connection_state) {
  auto env = require_pg();
  auto conn = sk::pg::Connection::connect(env.params(), env.password());
  for (auto& [k, v] : conn.params()) {
    EXPECT_NE(k, "password");
    EXPECT_EQ(v.find(env.password()), std::string::npos);
  }
  EXPECT_THROW(sk::pg::Connection::connect({{"password", "x"}}), sk::pg::PgError);
}

TEST(AutoreconnectPg, server_restart_breaks_old_sessions_and_a_child_reconnects) {
  auto env = require_pg();
  sk::Live<sk::pg::Connection> db{"db", sk::pg::Connection::connect(env.params(), env.password())};
  const std::string cmd = env.get("SK_PG_SCRIPT") + " restart " + env.dir();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_THROW(db->exec("select 1"), sk::pg::PgError);  // the parent's session died with the server
  EXPECT_EQ(in_child([&] {
              sk::reconnect_inherited(auth_for(env));
              return db->exec("select 1").rows.size() == 1 ? 0 : 1;
            }),
            0);
}

TEST(AutoreconnectFile, child_reopens_by_path_at_the_parents_offset_and_stops_sharing_it) {
  const auto path = std::filesystem::temp_directory_path() / ("sk-reopen-" + std::to_string(getpid()));
  {
    sk::Live<sk::PathFile> f{"log", sk::PathFile(path.string(), O_RDWR | O_CREAT | O_TRUNC)};
    f->write("a", 1);
    EXPECT_EQ(in_child([&] {
                sk::reconnect_inherited({});
                f->write("b", 1);  // at the parent's offset (1), through the child's own description
                return 0;
              }),
              0);
    // Without the reopen the shared offset would now be 2.
    EXPECT_EQ(lseek(f->fd(), 0, SEEK_CUR), 1);
  }
  std::filesystem::remove(path);
}

TEST(AutoreconnectTcp, child_opens_its_own_stream) {
  const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(lfd, 4), 0);
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  sk::Live<sk::TcpClient> c{"peer", sk::TcpClient("127.0.0.1", ntohs(addr.sin_port))};
  const int parent_side = accept(lfd, nullptr, nullptr);
  ASSERT_GE(parent_side, 0);
  EXPECT_EQ(in_child([&] {
              sk::reconnect_inherited({});
              c->send("child", 5);
              return 0;
            }),
            0);
  const int child_side = accept(lfd, nullptr, nullptr);  // the child's fresh connection
  ASSERT_GE(child_side, 0);
  char buf[8] = {};
  EXPECT_EQ(recv(child_side, buf, 5, MSG_WAITALL), 5);
  EXPECT_STREQ(buf, "child");
  // Nothing arrived on the parent's stream.
  EXPECT_EQ(recv(parent_side, buf, sizeof buf, MSG_DONTWAIT), -1);
  c->send("p", 1);
  EXPECT_EQ(recv(parent_side, buf, 1, MSG_WAITALL), 1);
  close(child_side);
  close(parent_side);
  close(lfd);
}

// ---- through Skprocess and Pool ------------------------------------------

namespace {

using namespace std::chrono_literals;

class BackendWorker : public sk::Skprocess<int> {
 public:
  BackendWorker(sk::pg::Connection c, sk::Autoreconnect auth) : db_("db", std::move(c)) {
    config.runs = 1;
    config.autoreconnect = std::move(auth);
  }
  void prerun() override { reconnected_before_prerun_ = !db_.inherited(); }
  void run() override { backend_ = db_->backend_pid(); }
  int result() override { return reconnected_before_prerun_ ? backend_ : -1; }

 private:
  sk::Live<sk::pg::Connection> db_;
  bool reconnected_before_prerun_ = false;
  int backend_ = 0;
};

// Answers each "query" message with its backend pid; runs until stopped.
class EchoBackend : public sk::Skprocess<> {
 public:
  EchoBackend(sk::pg::Connection c, sk::Autoreconnect auth) : db_("db", std::move(c)) {
    config.lives = 3;
    config.autoreconnect = std::move(auth);
  }
  void prerun() override { q_ = listen<int>(50ms); }
  void run() override {
    if (q_) tell(std::stoi(*db_->exec("select pg_backend_pid()").rows.at(0).at(0)));
  }

 private:
  sk::Live<sk::pg::Connection> db_;
  std::optional<int> q_;
};

}  // namespace

TEST(AutoreconnectPg, skprocess_worker_has_its_own_backend_before_prerun) {
  auto env = require_pg();
  auto conn = sk::pg::Connection::connect(env.params(), env.password());
  const int parent_backend = backend_of(conn);
  BackendWorker w(sk::pg::Connection::connect(env.params(), env.password()), auth_for(env));
  const int child_backend = w.execute();
  EXPECT_GT(child_backend, 0) << "the Live was still inherited in prerun";
  EXPECT_NE(child_backend, parent_backend);
  EXPECT_EQ(backend_of(conn), parent_backend);
}

TEST(AutoreconnectPg, server_restart_mid_run_reconnects_through_lives) {
  auto env = require_pg();
  EchoBackend w(sk::pg::Connection::connect(env.params(), env.password()), auth_for(env));
  w.start();
  auto ask = [&]() -> int {
    for (int attempt = 0; attempt < 20; ++attempt) {  // a query consumed by a failed life is re-sent
      w.tell(1);
      if (auto r = w.listen<int>(2s)) return *r;
    }
    return -1;
  };
  const int before = ask();
  ASSERT_GT(before, 0);
  ASSERT_EQ(std::system((env.get("SK_PG_SCRIPT") + " restart " + env.dir()).c_str()), 0);
  const int after = ask();
  EXPECT_GT(after, 0) << "the worker did not recover after the server restart";
  EXPECT_NE(after, before);
  w.stop();
  EXPECT_NO_THROW(w.get());
}

TEST(AutoreconnectPg, wrong_password_is_a_prerun_error_after_lives_are_used_up) {
  auto env = require_pg();
  BackendWorker w(sk::pg::Connection::connect(env.params(), env.password()),
                  sk::Autoreconnect{{"sk::pg::Connection", {{"*", "wrong"}}}});
  w.config.lives = 3;
  try {
    w.execute();
    FAIL() << "expected a PreRunError";
  } catch (const sk::PreRunError& e) {
    EXPECT_NE(e.original_type().find("ReconnectError"), std::string::npos) << e.original_type();
    EXPECT_NE(e.original_what().find("password"), std::string::npos) << e.original_what();
  }
}

TEST(AutoreconnectPg, pool_workers_each_get_their_own_connection) {
  auto env = require_pg();
  sk::set_default_autoreconnect(auth_for(env));
  sk::Live<sk::pg::Connection> db{"db", sk::pg::Connection::connect(env.params(), env.password())};
  const int parent_backend = backend_of(*db);
  sk::Pool pool(8);
  std::vector<int> items{0, 1, 2, 3, 4, 5, 6, 7};
  const auto out = pool.map(
      [&](int) {
        std::this_thread::sleep_for(100ms);  // spread the items over the workers
        return std::pair<int, int>(static_cast<int>(getpid()), db->backend_pid());
      },
      items);
  ASSERT_EQ(out.size(), 8u);
  std::map<int, int> backend_of_worker;
  std::set<int> backends;
  for (auto [pid, backend] : out) {
    EXPECT_NE(backend, parent_backend);
    auto [it, fresh] = backend_of_worker.emplace(pid, backend);
    EXPECT_EQ(it->second, backend) << "one worker used two connections";
    backends.insert(backend);
  }
  EXPECT_EQ(backends.size(), backend_of_worker.size()) << "two workers shared a connection";
  EXPECT_EQ(backend_of(*db), parent_backend);
  sk::set_default_autoreconnect({});
}

// Lives retry a failing reconnect: a resource that fails twice then succeeds.
namespace {
struct FlakyState {
  sk::Atomic<int> attempts;
};
SK_SHARE(FlakyState, attempts);
struct Flaky {
  sk::Share<FlakyState> share;  // counts attempts across the worker processes
};
}  // namespace

template <>
struct sk::reconnect_traits<Flaky> {
  static constexpr std::string_view type_name = "Flaky";
  static void reconnect(Flaky& f, const std::optional<std::string>&) {
    if ((f.share->attempts += 1) < 3) throw std::runtime_error("not yet");
  }
};

namespace {
class FlakyWorker : public sk::Skprocess<int> {
 public:
  explicit FlakyWorker(sk::Share<FlakyState> s) : res_("res", Flaky{std::move(s)}) {
    config.runs = 1;
    config.lives = 3;
    config.autoreconnect = sk::Autoreconnect{};
  }
  void run() override {}
  int result() override { return 7; }

 private:
  sk::Live<Flaky> res_;
};
}  // namespace

TEST(AutoreconnectLives, a_failing_reconnect_costs_a_life_and_is_retried) {
  sk::Share<FlakyState> share;
  FlakyWorker w(share);
  EXPECT_EQ(w.execute(), 7);
  EXPECT_EQ(share->attempts.load(), 3);
  sk::Share<FlakyState> again;
  FlakyWorker w2(again);
  w2.config.lives = 2;
  EXPECT_THROW(w2.execute(), sk::PreRunError);
  EXPECT_EQ(again->attempts.load(), 2);
}
