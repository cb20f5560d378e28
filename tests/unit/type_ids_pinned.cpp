// Type ids (sk::ser::type_id, carried by every frame between processes) and
// Share layout hashes (stored in named segments) must not change when their
// implementation moves: a program built before and one built after must still
// agree. These values were printed by the implementation before it moved to
// sk/core/type_name.hpp (g++; clang spells some types differently).
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <sk/ipc/serialize.hpp>
#include <sk/sk.hpp>

namespace pin {

struct Point3 {
  double x = 0, y = 0, z = 0;
  std::string label;
  SK_FIELDS(x, y, z, label)
};

struct Pair {
  Point3 a;
  std::vector<int> ids;
  SK_FIELDS(a, ids)
};

struct Config {
  int level = 0;
  double ratio = 0;
};

class Account {
 public:
  void deposit(long v) {
    balance += v;
    ++ops;
  }

 private:
  long balance = 0;
  int ops = 0;
  SK_SHARED_FIELDS(Account, balance, ops);
};
SK_SHARED_METHOD(Account, deposit, writes(balance, ops), reads(balance, ops));

struct State {
  sk::Atomic<long> counter;
  sk::Value<Config> config;
  sk::Shared<Account> account;
  sk::List<int> items;
  sk::SharedTimer timer;
};
SK_SHARE(State, counter, config, account, items, timer);

}  // namespace pin

#if !defined(__clang__)
TEST(TypeIds, unit_ser_type_ids_are_unchanged) {
  EXPECT_EQ(sk::ser::type_id<int>(), 0x2b9fff192bd4c83eull);
  EXPECT_EQ(sk::ser::type_id<std::string>(), 0x5fe0d2ac503758fbull);
  EXPECT_EQ(sk::ser::type_id<std::vector<int>>(), 0xf3bceda316ad7696ull);
  EXPECT_EQ((sk::ser::type_id<std::map<std::string, double>>()), 0xb2e6bd1e88b7e4bfull);
  EXPECT_EQ(sk::ser::type_id<pin::Point3>(), 0x6a2210e1220c039dull);
  EXPECT_EQ(sk::ser::type_id<pin::Pair>(), 0xafeb8ba686e9158cull);
  EXPECT_EQ(sk::ser::type_name<std::vector<int>>(), "std::vector<int>");
  EXPECT_EQ(sk::ser::type_name<pin::Point3>(), "pin::Point3");
}

TEST(TypeIds, unit_share_layout_hashes_are_unchanged) {
  // Re-pinned once on purpose: the List slot's shared layout changed (append by
  // fetch_add with per-chunk install and reader-floor records), so a program
  // built before that change must refuse a segment made after it, and vice versa.
  EXPECT_EQ(sk::slots::layout_hash<pin::State>(), 0x738eacd065c2d46cull);
  EXPECT_EQ(sk::Shared<pin::Account>::layout_hash(), 0xfbaad4a649e006e5ull);
  EXPECT_EQ(sk::slots::type_name<sk::Atomic<long>>(), "sk::Atomic<long int>");
}
#endif
