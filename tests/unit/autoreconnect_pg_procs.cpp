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
#include <sk/reconnectables.hpp>

#include "pg_env.hpp"

namespace {

// Runs fn in a forked child; returns its exit code (fn's return value), or
// 100 + signal if it died, or 99 if it threw.
int in_child(const std::function<int()>& fn) {
  const pid_t pid = fork();
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
