// Share and its core slots: every Atomic operator, Counter, Value, Shared<U>
// calls, describe(), reflection, named create/open (in a forked child),
// layout mismatch, full arena. Fork-based tests are skipped under TSan.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <string>

#include <sk/alloc/errors.hpp>
#include <sk/share.hpp>
#include <sk/share_errors.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/counter.hpp>
#include <sk/slots/shared.hpp>
#include <sk/slots/value.hpp>

#include "share_procs.hpp"

namespace ut {

enum class Mode : std::uint8_t { idle = 0, busy = 7 };

struct Config {
  int threads = 1;
  double ratio = 0.5;
  char tag[20] = "default";
};

class Account {
 public:
  void deposit(long v) {
    balance += v;
    last = v;
    ++ops;
  }
  long withdraw(long v) {
    if (v > balance) throw std::runtime_error("insufficient funds");
    balance -= v;
    ++ops;
    return balance;
  }
  long get() const { return balance; }
  const long& ref() const { return balance; }
  int count() const { return ops; }

 private:
  long balance = 0;
  long last = 0;
  int ops = 0;
  SK_SHARED_FIELDS(Account, balance, last, ops);
};
SK_SHARED_METHOD(Account, deposit, writes(balance, last, ops), reads(balance, ops));
SK_SHARED_METHOD(Account, withdraw, writes(balance, ops), reads(balance, ops));
SK_SHARED_METHOD(Account, get, reads(balance));
SK_SHARED_METHOD(Account, ref, reads(balance));
SK_SHARED_METHOD(Account, count, reads(ops));

struct Point {  // public fields
  int x = 0;
  int y = 0;
  void move(int dx, int dy) {
    x += dx;
    y += dy;
  }
  SK_SHARED_FIELDS(Point, x, y);
};
SK_SHARED_METHOD(Point, move, writes(x, y), reads(x, y));

struct State {
  sk::Atomic<long> counter;
  sk::Atomic<double> ratio{1.0};
  sk::Atomic<bool> flag;
  sk::Atomic<Mode> mode;
  sk::Counter<long> hits;
  sk::Value<Config> config;
  sk::Shared<Account> account;
};
SK_SHARE(State, counter, ratio, flag, mode, hits, config, account);

struct Small {
  sk::Atomic<int> a;
};
SK_SHARE(Small, a);

struct OtherSmall {  // same shape as Small, another member name
  sk::Atomic<int> b;
};
SK_SHARE(OtherSmall, b);

struct Big {
  sk::Value<std::array<char, 1 << 20>> blob;
};
SK_SHARE(Big, blob);

std::string unique_name(const char* what) { return "ut-share-" + std::to_string(::getpid()) + "-" + what; }

struct NameGuard {
  std::string name;
  explicit NameGuard(std::string n) : name(std::move(n)) { sk::alloc::Arena::unlink(name); }
  ~NameGuard() { sk::alloc::Arena::unlink(name); }
};

}  // namespace ut

using ut::Mode;

// ---- reflection ---------------------------------------------------------------

TEST(ShareReflect, unit_members_names_kinds_offsets) {
  constexpr auto& ms = sk::slots::members_of<ut::State>;
  static_assert(ms.size() == 7);
  static_assert(ms.members[0].name == "counter" && ms.members[0].kind == "Atomic");
  static_assert(ms.members[4].name == "hits" && ms.members[4].kind == "Counter");
  static_assert(ms.members[5].kind == "Value" && ms.members[6].kind == "Shared");
  static_assert(ms.members[6].offset == offsetof(ut::State, account));
  static_assert(ms.members[4].size == sizeof(sk::Counter<long>));
  EXPECT_EQ(ms.members[0].type, "sk::Atomic<long int>");
  EXPECT_EQ(ms.state_name, "State");
}

TEST(ShareReflect, unit_layout_hash_differs_by_member_name_and_type) {
  static_assert(sk::slots::layout_hash<ut::Small>() != 0);
  static_assert(sk::slots::layout_hash<ut::Small>() != sk::slots::layout_hash<ut::OtherSmall>());
  static_assert(sk::slots::layout_hash<ut::Small>() != sk::slots::layout_hash<ut::State>());
  const std::string d = sk::slots::layout_description<ut::Small>();
  EXPECT_NE(d.find("Small{a: Atomic sk::Atomic<int> @0+4/4}"), std::string::npos) << d;
}

TEST(ShareReflect, unit_method_access_masks) {
  constexpr auto dep = sk::slots::method_access_of<ut::Account, &ut::Account::deposit>;
  static_assert(dep.writes == 0b111 && dep.reads == 0b101);
  constexpr auto get = sk::slots::method_access_of<ut::Account, &ut::Account::get>;
  static_assert(get.writes == 0 && get.reads == 0b001);
  static_assert(!sk::slots::SharedMethod<ut::Account, &ut::Account::count> == false);
  SUCCEED();
}

// ---- Atomic -------------------------------------------------------------------

TEST(ShareAtomic, unit_integer_every_operator) {
  sk::Atomic<long> a;
  EXPECT_EQ(a.load(), 0);
  EXPECT_EQ(a = 10, 10);
  EXPECT_EQ(a += 5, 15);
  EXPECT_EQ(a -= 3, 12);
  EXPECT_EQ(a *= 2, 24);
  EXPECT_EQ(a /= 4, 6);
  EXPECT_EQ(a |= 0b1001, 0b1111);
  EXPECT_EQ(a &= 0b0110, 0b0110);
  EXPECT_EQ(a ^= 0b0011, 0b0101);
  EXPECT_EQ(++a, 6);
  EXPECT_EQ(a++, 6);
  EXPECT_EQ(a.load(), 7);
  EXPECT_EQ(--a, 6);
  EXPECT_EQ(a--, 6);
  EXPECT_EQ(a.load(), 5);
  a.store(40);
  EXPECT_EQ(a.exchange(41), 40);
  EXPECT_EQ(a.fetch_add(2), 41);
  EXPECT_EQ(a.fetch_sub(3), 43);
  long expected = 1;
  EXPECT_FALSE(a.compare_exchange(expected, 100));
  EXPECT_EQ(expected, 40);
  EXPECT_TRUE(a.compare_exchange(expected, 100));
  const long v = a;  // implicit conversion
  EXPECT_EQ(v, 100);
  EXPECT_EQ(a.apply([](long x) { return x * 3 + 1; }), 301);
  EXPECT_EQ(a.describe_value(), "301");
}

TEST(ShareAtomic, unit_integer_wraps_like_hardware) {
  sk::Atomic<std::int8_t> a{127};
  EXPECT_EQ(a += 1, -128);
  sk::Atomic<unsigned short> u{65535};
  EXPECT_EQ(u *= 65535, 1);
  EXPECT_EQ(u -= 2, 65535);
}

TEST(ShareAtomic, unit_floating_every_operator) {
  sk::Atomic<double> d{1.5};
  EXPECT_EQ(d += 1.0, 2.5);
  EXPECT_EQ(d -= 0.5, 2.0);
  EXPECT_EQ(d *= 4.0, 8.0);
  EXPECT_EQ(d /= 2.0, 4.0);
  EXPECT_EQ(++d, 5.0);
  EXPECT_EQ(d++, 5.0);
  EXPECT_EQ(--d, 5.0);
  EXPECT_EQ(d--, 5.0);
  EXPECT_EQ(d.load(), 4.0);
  EXPECT_EQ(d.fetch_add(0.25), 4.0);
  EXPECT_EQ(d.fetch_sub(0.25), 4.25);
  EXPECT_EQ(d.exchange(0.1), 4.0);
  EXPECT_EQ(d.describe_value(), "0.1");
  sk::Atomic<float> f;
  f = 2.5f;
  EXPECT_EQ(static_cast<float>(f), 2.5f);
}

TEST(ShareAtomic, unit_bool_and_enum) {
  sk::Atomic<bool> b;
  EXPECT_FALSE(b.load());
  EXPECT_TRUE(b |= true);
  EXPECT_TRUE(b |= false);
  EXPECT_TRUE(b &= true);
  EXPECT_FALSE(b ^= true);
  EXPECT_TRUE(b ^= true);
  EXPECT_TRUE(b ^= false);
  EXPECT_FALSE(b &= false);
  EXPECT_EQ(b.describe_value(), "false");
  b = true;
  EXPECT_TRUE(static_cast<bool>(b));

  sk::Atomic<Mode> m;
  EXPECT_EQ(m.load(), Mode::idle);
  m = Mode::busy;
  EXPECT_EQ(m.exchange(Mode::idle), Mode::busy);
  Mode e = Mode::busy;
  EXPECT_FALSE(m.compare_exchange(e, Mode::busy));
  EXPECT_EQ(e, Mode::idle);
  EXPECT_TRUE(m.compare_exchange(e, Mode::busy));
  EXPECT_EQ(m.describe_value(), "7");
}

// ---- Counter ----------------------------------------------------------------

TEST(ShareCounter, unit_add_load_reset) {
  sk::Counter<long> c;
  c += 5;
  ++c;
  c++;
  c -= 2;
  --c;
  EXPECT_EQ(c.load(), 4);
  EXPECT_EQ(static_cast<long>(c), 4);
  EXPECT_EQ(c.describe_value(), "4");
  EXPECT_EQ(c.reset(), 4);
  EXPECT_EQ(c.load(), 0);
  EXPECT_EQ(sizeof(c), sk::Counter<long>::kStripes * sk::core::kFalseSharingRange);
}

// ---- Value --------------------------------------------------------------------

TEST(ShareValue, unit_load_store_update) {
  sk::Value<ut::Config> v;
  EXPECT_EQ(v.load().threads, 1);
  ut::Config c;
  c.threads = 8;
  v.store(c);
  EXPECT_EQ(v.load().threads, 8);
  const ut::Config after = v.update([](ut::Config& x) { x.threads += 1; });
  EXPECT_EQ(after.threads, 9);
  v.update([](const ut::Config& x) {
    ut::Config y = x;
    y.ratio = 2.0;
    return y;
  });
  EXPECT_EQ(v.load().ratio, 2.0);
  EXPECT_EQ(v.load().threads, 9);
  EXPECT_EQ(v.writer(), 0u);
  sk::Value<long> n{41};
  n = 42;
  EXPECT_EQ(static_cast<long>(n), 42);
  EXPECT_EQ(n.describe_value(), "42");
}

TEST(ShareValue, unit_update_that_throws_publishes_nothing) {
  sk::Value<long> n{5};
  EXPECT_THROW(n.update([](long& x) {
    x = 99;
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_EQ(n.load(), 5);
  n.store(6);  // the lock was released
  EXPECT_EQ(n.load(), 6);
}

// ---- Shared<U> ----------------------------------------------------------------

TEST(ShareShared, unit_call_write_and_read_methods) {
  sk::Shared<ut::Account> acc;
  acc.call<&ut::Account::deposit>(5);
  acc.call<&ut::Account::deposit>(7);
  EXPECT_EQ(acc.call<&ut::Account::get>(), 12);
  EXPECT_EQ(acc.call<&ut::Account::ref>(), 12);  // a returned reference is copied
  EXPECT_EQ(acc.call<&ut::Account::count>(), 2);
  EXPECT_EQ(acc.call<&ut::Account::withdraw>(2), 10);
  EXPECT_EQ(acc.describe_value(), "{balance=10, last=7, ops=3}");
  EXPECT_EQ(acc.version(0), 3u);  // balance published 3 times
  EXPECT_EQ(acc.version(1), 2u);  // last only by deposit
  EXPECT_EQ(acc.holder(0), 0u);
}

TEST(ShareShared, unit_method_that_throws_publishes_nothing) {
  sk::Shared<ut::Account> acc;
  acc.call<&ut::Account::deposit>(3);
  EXPECT_THROW(acc.call<&ut::Account::withdraw>(10), std::runtime_error);
  EXPECT_EQ(acc.call<&ut::Account::get>(), 3);
  EXPECT_EQ(acc.call<&ut::Account::count>(), 1);
  acc.call<&ut::Account::deposit>(1);  // locks were released
  EXPECT_EQ(acc.call<&ut::Account::get>(), 4);
}

TEST(ShareShared, unit_get_one_field) {
  sk::Shared<ut::Point> p(ut::Point{3, 4});
  EXPECT_EQ(p.get<&ut::Point::x>(), 3);
  p.call<&ut::Point::move>(1, 2);
  EXPECT_EQ(p.get<&ut::Point::x>(), 4);
  EXPECT_EQ(p.get<&ut::Point::y>(), 6);
}

TEST(ShareShared, unit_snapshot_and_store) {
  sk::Shared<ut::Account> acc;
  acc.call<&ut::Account::deposit>(9);
  ut::Account copy = acc.snapshot();
  EXPECT_EQ(copy.get(), 9);
  copy.deposit(1);
  acc.store(copy);
  EXPECT_EQ(acc.call<&ut::Account::get>(), 10);
  EXPECT_EQ(acc.call<&ut::Account::count>(), 2);
}

// ---- Share ----------------------------------------------------------------------

TEST(Share, unit_anonymous_members_and_describe) {
  sk::Share<ut::State> share;
  share->counter += 20;
  share->ratio *= 2.0;
  share->flag = true;
  share->mode = Mode::busy;
  share->hits += 3;
  share->config.update([](ut::Config& c) { c.threads = 4; });
  share->account.call<&ut::Account::deposit>(5);
  EXPECT_EQ(share->counter.load(), 20);
  EXPECT_EQ((*share).hits.load(), 3);
  EXPECT_GT(share.arena().used(), sizeof(ut::State) - 1);
  EXPECT_EQ(share.name(), "");
  const std::string d = share.describe();
  EXPECT_NE(d.find("Share<State> (anonymous"), std::string::npos) << d;
  EXPECT_NE(d.find("  counter: Atomic sk::Atomic<long int> = 20\n"), std::string::npos) << d;
  EXPECT_NE(d.find("  ratio: Atomic sk::Atomic<double> = 2\n"), std::string::npos) << d;
  EXPECT_NE(d.find("  flag: Atomic sk::Atomic<bool> = true\n"), std::string::npos) << d;
  EXPECT_NE(d.find("  hits: Counter sk::Counter<long int> = 3\n"), std::string::npos) << d;
  const std::string config_line =
      "  config: Value sk::Value<ut::Config> = <" + std::to_string(sizeof(ut::Config)) + " bytes of ut::Config>\n";
  EXPECT_NE(d.find(config_line), std::string::npos) << d;
  EXPECT_NE(d.find("  account: Shared sk::Shared<ut::Account> = {balance=5, last=5, ops=1}\n"), std::string::npos)
      << d;
}

TEST(Share, unit_copies_share_state) {
  sk::Share<ut::State> a(1 << 20);
  sk::Share<ut::State> b = a;
  b->counter += 2;
  EXPECT_EQ(a->counter.load(), 2);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(a.arena().capacity(), std::size_t{1} << 20);
}

TEST(Share, unit_forked_child_sees_and_updates) {
  if (sktest::kTsan) GTEST_SKIP() << "forks (covered in the default and ASan builds)";
  sk::Share<ut::State> share;
  share->counter = 7;
  const pid_t pid = sktest::spawn([share]() {
    if (share->counter.load() != 7) return false;
    share->counter += 1;
    share->account.call<&ut::Account::deposit>(11);
    return true;
  });
  ASSERT_EQ(sktest::reap(pid), 0);
  EXPECT_EQ(share->counter.load(), 8);
  EXPECT_EQ(share->account.call<&ut::Account::get>(), 11);
}

TEST(Share, unit_named_create_open_in_forked_child) {
  if (sktest::kTsan) GTEST_SKIP() << "forks (covered in the default and ASan builds)";
  ut::NameGuard guard(ut::unique_name("named"));
  auto created = sk::Share<ut::State>::create(guard.name, 1 << 20);
  EXPECT_EQ(created.name(), guard.name);
  created->counter = 3;
  const pid_t pid = sktest::spawn([&guard]() {
    auto opened = sk::Share<ut::State>::open(guard.name);
    if (opened->counter.load() != 3) return false;
    opened->counter += 10;
    opened->config.update([](ut::Config& c) { c.threads = 16; });
    return true;
  });
  ASSERT_EQ(sktest::reap(pid), 0);
  EXPECT_EQ(created->counter.load(), 13);
  EXPECT_EQ(created->config.load().threads, 16);
  // Opened again in this process: another mapping of the same state.
  auto again = sk::Share<ut::State>::open(guard.name);
  EXPECT_EQ(again->counter.load(), 13);
}

TEST(Share, unit_layout_mismatch_names_both_layouts) {
  ut::NameGuard guard(ut::unique_name("mismatch"));
  auto created = sk::Share<ut::Small>::create(guard.name, 1 << 16);
  try {
    auto wrong = sk::Share<ut::OtherSmall>::open(guard.name);
    FAIL() << "opened a Share<Small> as Share<OtherSmall>";
  } catch (const sk::alloc::LayoutMismatch& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("Small{a: Atomic"), std::string::npos) << what;
    EXPECT_NE(what.find("OtherSmall{b: Atomic"), std::string::npos) << what;
  }
  auto right = sk::Share<ut::Small>::open(guard.name);
  right->a += 1;
  EXPECT_EQ(created->a.load(), 1);
}

TEST(Share, unit_open_missing_name_is_segment_error) {
  EXPECT_THROW(sk::Share<ut::Small>::open(ut::unique_name("absent"), std::chrono::milliseconds(50)),
               sk::alloc::SegmentError);
}

TEST(Share, unit_full_arena) {
  // The state itself does not fit.
  EXPECT_THROW(sk::Share<ut::Big>(256 << 10), sk::alloc::ArenaFull);
  // Filling the arena leaves committed values intact and usable.
  sk::Share<ut::State> share(256 << 10);
  share->counter = 5;
  share->config.update([](ut::Config& c) { c.threads = 3; });
  bool full = false;
  try {
    for (int i = 0; i < 100000; ++i) (void)share.arena().allocate(4096);
  } catch (const sk::alloc::ArenaFull& e) {
    full = true;
    EXPECT_NE(std::string(e.what()).find("4096"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(full);
  share->counter += 1;
  EXPECT_EQ(share->counter.load(), 6);
  EXPECT_EQ(share->config.load().threads, 3);
}
