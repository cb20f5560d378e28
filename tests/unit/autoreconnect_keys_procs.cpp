// An autoreconnect declaration whose key is no connection type of the program
// (the original's spelling "psycopg2.Connection", a typo) is refused with the
// known keys listed, instead of connecting without the password.
#include <gtest/gtest.h>
#include <fcntl.h>

#include <string>

#include <sk/autoreconnect.hpp>
#include <sk/process.hpp>
#include <sk/reconnectables.hpp>

namespace {

// Compiled, never called: a program that has Live<TcpClient> somewhere knows its key.
[[maybe_unused]] void uses_a_tcp_client() { sk::Live<sk::TcpClient> c{"api", sk::TcpClient{}}; }

const sk::Autoreconnect kPythonSpelling{{"psycopg2.Connection", {{"*", "secret"}}}};

std::string message_of(const auto& fn) {
  try {
    fn();
  } catch (const sk::AutoreconnectKeyError& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

void expect_lists_known_keys(const std::string& m) {
  EXPECT_NE(m.find("\"psycopg2.Connection\""), std::string::npos) << m;
  EXPECT_NE(m.find("\"sk::PathFile\""), std::string::npos) << m;
  EXPECT_NE(m.find("\"sk::TcpClient\""), std::string::npos) << m;
  EXPECT_NE(m.find("sk::pg::Connection"), std::string::npos) << m;
}

class Reconnecting : public sk::Skprocess<int> {
 public:
  Reconnecting() { config.runs = 1; }
  void run() override {}
  int result() override { return 3; }
};

}  // namespace

TEST(AutoreconnectKeys, unknown_key_refused_by_reconnect_inherited_listing_known_keys) {
  sk::Live<sk::PathFile> log{"log", sk::PathFile("/dev/null", O_WRONLY)};
  const std::string m = message_of([] { sk::reconnect_inherited(kPythonSpelling); });
  expect_lists_known_keys(m);
  EXPECT_THROW(sk::reconnect_inherited(kPythonSpelling), sk::ReconnectError);  // still a ReconnectError
}

TEST(AutoreconnectKeys, unknown_key_refused_as_default_declaration) {
  expect_lists_known_keys(message_of([] { sk::set_default_autoreconnect(kPythonSpelling); }));
  // A typo among good keys is refused too; good keys alone are accepted.
  const sk::Autoreconnect typo{{"sk::PathFile", {{"*", "a"}}}, {"sk::TcpClinet", {{"*", "b"}}}};
  EXPECT_NE(message_of([&] { sk::set_default_autoreconnect(typo); }).find("\"sk::TcpClinet\""), std::string::npos);
  EXPECT_NO_THROW(sk::set_default_autoreconnect(sk::Autoreconnect{{"sk::PathFile", {{"*", "a"}}}}));
  EXPECT_NO_THROW(sk::set_default_autoreconnect(sk::Autoreconnect{}));
}

TEST(AutoreconnectKeys, procs_skprocess_start_refuses_before_forking) {
  Reconnecting w;
  w.config.autoreconnect = kPythonSpelling;
  expect_lists_known_keys(message_of([&] { w.start(); }));
  Reconnecting ok;
  ok.config.autoreconnect = sk::Autoreconnect{{"sk::TcpClient", {{"*", "x"}}}};
  EXPECT_EQ(ok.execute(), 3);
}
