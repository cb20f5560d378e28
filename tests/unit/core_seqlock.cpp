#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include <sk/core/seqlock.hpp>

#include "core_seqlock_value.hpp"

using sk::core::Seqlock;
using namespace std::chrono_literals;

namespace {

template <std::size_t N>
struct Bytes {
  std::array<unsigned char, N> b{};
  static Bytes filled(unsigned char v) {
    Bytes x;
    x.b.fill(v);
    return x;
  }
  bool operator==(const Bytes&) const = default;
};

using coretest::Wide;

struct NoDefault {
  explicit NoDefault(int v) : a(v), b(-v) {}
  int a;
  int b;
};

bool always_dead(std::uint64_t) { return true; }

template <class T>
void roundtrip(const T& v) {
  Seqlock<T> s;
  s.store(v, 1);
  EXPECT_EQ(s.load(), v);
  T out{};
  EXPECT_TRUE(s.try_load(out));
  EXPECT_EQ(out, v);
}

// A writer that "dies" holding the lock: its guard is never destroyed.
template <class T>
struct DeadWriter {
  alignas(typename Seqlock<T>::Writer) unsigned char buf[sizeof(typename Seqlock<T>::Writer)];
  typename Seqlock<T>::Writer* w;
  DeadWriter(Seqlock<T>& s, std::uint32_t tag) : w(new (buf) typename Seqlock<T>::Writer(s.begin_write(tag))) {}
};

}  // namespace

TEST(Seqlock, layout_is_two_copies_of_words_after_the_sequence) {
  static_assert(std::is_standard_layout_v<Seqlock<Wide>>);
  static_assert(sizeof(Seqlock<Wide>) == 16 + 2 * 128);
  static_assert(sizeof(Seqlock<Bytes<1>>) == 16 + 2 * 8);
  static_assert(sizeof(Seqlock<Bytes<13>>) == 16 + 2 * 16);
  static_assert(Seqlock<Bytes<1024>>::kWords == 128);
  SUCCEED();
}

TEST(Seqlock, starts_value_initialized_and_free) {
  Seqlock<Wide> s;
  const Wide w = s.load();
  EXPECT_TRUE(w.uniform());
  EXPECT_EQ(w.w[0], 0u);
  EXPECT_EQ(s.version(), 0u);
  EXPECT_EQ(s.holder(), 0u);
  Seqlock<Wide> t(Wide::filled(9));
  EXPECT_EQ(t.load().w[15], 9u);
}

TEST(Seqlock, store_load_roundtrip_for_odd_sizes) {
  roundtrip(Bytes<1>::filled(0xab));
  roundtrip(Bytes<7>::filled(0x11));
  roundtrip(Bytes<8>::filled(0x22));
  roundtrip(Bytes<13>::filled(0x33));
  roundtrip(Bytes<64>::filled(0x44));
  roundtrip(Bytes<1024>::filled(0x55));
  roundtrip(std::uint32_t{0xdeadbeef});
  roundtrip(3.25);
}

TEST(Seqlock, works_for_types_without_default_constructor) {
  Seqlock<NoDefault> s{NoDefault(3)};
  EXPECT_EQ(s.load().b, -3);
  s.store(NoDefault(5), 1);
  EXPECT_EQ(s.load().a, 5);
  const NoDefault n = s.update([](NoDefault& v) { v.a += 1; }, 1);
  EXPECT_EQ(n.a, 6);
  EXPECT_EQ(s.load().b, -5);
}

TEST(Seqlock, each_commit_adds_two_to_the_version_and_alternates_copies) {
  Seqlock<Wide> s;
  for (std::uint64_t i = 1; i <= 5; ++i) {
    s.store(Wide::filled(i), 77);
    EXPECT_EQ(s.version(), 2 * i);
    EXPECT_EQ(s.holder(), 0u);
    EXPECT_EQ(s.load().w[3], i);
  }
}

TEST(Seqlock, update_returns_and_publishes_the_new_value) {
  Seqlock<Wide> s(Wide::filled(10));
  const Wide r = s.update([](Wide& w) { for (auto& e : w.w) e += 5; }, 3);
  EXPECT_EQ(r.w[0], 15u);
  EXPECT_TRUE(s.load().uniform());
  EXPECT_EQ(s.load().w[7], 15u);
}

TEST(Seqlock, held_lock_shows_holder_and_readers_keep_the_committed_value) {
  Seqlock<Wide> s(Wide::filled(1));
  {
    auto w = s.begin_write(42);
    EXPECT_EQ(s.holder(), 42u);
    EXPECT_EQ(s.version(), 1u);
    EXPECT_EQ(w.committed().w[0], 1u);
    w.write(Wide::filled(2));
    EXPECT_EQ(s.load().w[0], 1u);  // not published yet
    EXPECT_FALSE(s.try_begin_write(43).has_value());
    EXPECT_TRUE(w.commit());
  }
  EXPECT_EQ(s.load().w[0], 2u);
  EXPECT_EQ(s.version(), 2u);
  EXPECT_EQ(s.holder(), 0u);
}

TEST(Seqlock, abandoned_write_keeps_the_committed_value_and_moves_version_forward) {
  Seqlock<Wide> s(Wide::filled(1));
  s.store(Wide::filled(2), 1);  // version 2
  {
    auto w = s.begin_write(5);
    w.write_partial(Wide::filled(99), 64);
  }  // destroyed without commit: abort
  EXPECT_EQ(s.version(), 6u);  // 3 + 3: never back to 2 (see header)
  EXPECT_EQ(s.holder(), 0u);
  EXPECT_EQ(s.load().w[0], 2u);
  EXPECT_TRUE(s.load().uniform());
  s.store(Wide::filled(3), 1);  // writes the copy the aborted writer dirtied
  EXPECT_TRUE(s.load().uniform());
  EXPECT_EQ(s.load().w[15], 3u);
}

TEST(Seqlock, update_whose_fn_throws_publishes_nothing) {
  Seqlock<Wide> s(Wide::filled(4));
  EXPECT_THROW(s.update([](Wide& w) { w.w[0] = 100; throw std::runtime_error("no"); }, 9), std::runtime_error);
  EXPECT_EQ(s.holder(), 0u);
  EXPECT_EQ(s.load().w[0], 4u);
  EXPECT_EQ(s.update([](Wide& w) { w.w[0] += 1; }, 9).w[0], 5u);
}

// The ABA the forward-moving abort prevents: a reader starts at version e
// (copy c), a commit e+2 happens, then a writer at e+3 dirties copy c and is
// abandoned. Rolling back to e+2 would make the reader accept a torn copy.
TEST(Seqlock, reader_overtaken_by_commit_and_abandoned_writer_rejects_its_copy) {
  Seqlock<Wide> s(Wide::filled(1));
  const std::uint64_t ticket = s.read_begin();
  s.store(Wide::filled(2), 1);
  {
    auto w = s.begin_write(2);
    w.write_partial(Wide::filled(3), 64);
  }
  Wide out{};
  s.read_copy(ticket, out);
  EXPECT_FALSE(out.uniform());  // really torn ...
  EXPECT_FALSE(s.read_valid(ticket));  // ... and rejected
  EXPECT_EQ(s.load().w[0], 2u);
}

TEST(Seqlock, reader_overtaken_by_one_commit_still_reads_a_whole_value) {
  Seqlock<Wide> s(Wide::filled(1));
  const std::uint64_t ticket = s.read_begin();
  s.store(Wide::filled(2), 1);
  Wide out{};
  s.read_copy(ticket, out);
  EXPECT_TRUE(s.read_valid(ticket));
  EXPECT_EQ(out.w[0], 1u);
  EXPECT_TRUE(out.uniform());
}

TEST(Seqlock, zero_tag_and_commit_without_write_throw) {
  Seqlock<Wide> s;
  EXPECT_THROW(s.store(Wide{}, 0), sk::core::SeqlockError);
  EXPECT_THROW((void)s.begin_write(0), sk::Error);
  {
    auto w = s.begin_write(1);
    EXPECT_THROW(w.commit(), sk::core::SeqlockError);
  }
  {
    auto w = s.begin_write(1);
    w.write_partial(Wide::filled(1), 8);
    EXPECT_THROW(w.commit(), sk::core::SeqlockError);
  }
  EXPECT_EQ(s.holder(), 0u);
  EXPECT_EQ(s.load().w[0], 0u);
}

TEST(Seqlock, dead_holder_is_stolen_by_the_next_writer) {
  Seqlock<Wide> s(Wide::filled(1));
  DeadWriter<Wide> dead(s, 7);
  dead.w->write_partial(Wide::filled(66), 64);
  EXPECT_EQ(s.holder(), 7u);
  EXPECT_EQ(s.load().w[0], 1u);
  const auto t0 = std::chrono::steady_clock::now();
  s.store(Wide::filled(2), 8, &always_dead);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_EQ(s.load().w[0], 2u);
  EXPECT_TRUE(s.load().uniform());
  EXPECT_EQ(s.version(), 6u);  // 1 (held) -> 4 (abort) -> 5 -> 6
}

TEST(Seqlock, writer_judged_dead_cannot_commit) {
  Seqlock<Wide> s(Wide::filled(1));
  auto victim = s.begin_write(7);
  victim.write(Wide::filled(3));
  s.store(Wide::filled(2), 8, &always_dead);  // wrongly judges the live tag 7 dead
  EXPECT_FALSE(victim.commit());
  EXPECT_THROW(victim.commit(), sk::core::SeqlockError);  // a guard commits once
  EXPECT_EQ(s.load().w[0], 2u);
  EXPECT_EQ(s.holder(), 0u);
}

TEST(Seqlock, abort_if_held_by_only_aborts_that_tag) {
  Seqlock<Wide> s;
  DeadWriter<Wide> dead(s, 7);
  EXPECT_FALSE(s.abort_if_held_by(8));
  EXPECT_EQ(s.holder(), 7u);
  EXPECT_TRUE(s.abort_if_held_by(7));
  EXPECT_EQ(s.holder(), 0u);
  EXPECT_FALSE(s.abort_if_held_by(7));
}

TEST(Seqlock, parked_writer_wakes_when_the_holder_commits) {
  Seqlock<Wide> s;
  auto held = s.begin_write(1);
  std::atomic<bool> done{false};
  std::thread t([&] {
    s.store(Wide::filled(5), 2);  // no owner_dead: waits for the commit
    done.store(true);
  });
  std::this_thread::sleep_for(20ms);  // let it park
  EXPECT_FALSE(done.load());
  held.write(Wide::filled(4));
  EXPECT_TRUE(held.commit());
  t.join();
  EXPECT_EQ(s.load().w[0], 5u);
  EXPECT_EQ(s.version(), 4u);
}
