// sk::Log bounded retention and default level, from the public API in one
// process: a million records fit a default Share, the newest N stay in order,
// the rest are counted as dropped; DEBUG is filtered by default.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <sk/alloc/errors.hpp>
#include <sk/share.hpp>
#include <sk/slots/log.hpp>

#include "stderr_capture.hpp"

namespace {

struct State {
  sk::Log log;
};
SK_SHARE(State, log);

struct Small {
  sk::Log log{"small", sk::LogLevel::info, sk::LogRetention{.records = 5}};
  sk::Log by_bytes{"bytes", sk::LogLevel::info, sk::LogRetention{.records = 100, .bytes = 3 * sk::Log::kSlotBytes}};
  sk::Log none{"none", sk::LogLevel::info, sk::LogRetention{.records = 0}};
};
SK_SHARE(Small, log, by_bytes, none);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::uint64_t kMillion = 100'000;  // sanitizers: 10x slower per record
#else
constexpr std::uint64_t kMillion = 1'000'000;
#endif

TEST(LogBounded, million_infos_fit_a_default_share_newest_kept_in_order_rest_dropped) {
  sk::Share<State> s;
  s->log.no_sinks();
  const std::size_t n = sk::Log::kDefaultRecords;
  ASSERT_EQ(s->log.capacity(), n);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < kMillion; ++i) s->log.info("record {}", i);  // no ArenaFull
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%llu info() calls: %.3f s (%.0f ns each); arena used %zu of %zu bytes\n",
              static_cast<unsigned long long>(kMillion), secs, secs * 1e9 / static_cast<double>(kMillion),
              s.arena().used(), s.arena().capacity());

  EXPECT_EQ(s->log.written(), kMillion);
  EXPECT_EQ(s->log.dropped(), kMillion - n);
  EXPECT_EQ(s->log.size(), n);
  const auto msgs = s->log.messages();
  ASSERT_EQ(msgs.size(), n);
  for (std::size_t j = 0; j < n; ++j) ASSERT_EQ(msgs[j], "record " + std::to_string(kMillion - n + j)) << j;
  const auto rs = s->log.records();
  ASSERT_EQ(rs.size(), n);
  for (std::size_t j = 0; j < n; ++j) ASSERT_EQ(rs[j].seq, kMillion - n + j);
  EXPECT_NE(s.describe().find(std::to_string(kMillion - n) + " dropped"), std::string::npos) << s.describe();
  // The log's whole footprint: the ring, taken once, never grows.
  EXPECT_LT(s.arena().used(), n * sk::Log::kSlotBytes + (std::size_t{1} << 20));
}

TEST(LogBounded, retention_by_records_and_by_bytes) {
  sk::Share<Small> s;
  s->log.no_sinks();
  s->by_bytes.no_sinks();
  for (int i = 0; i < 12; ++i) s->log.info("{}", i);
  EXPECT_EQ(s->log.messages(), (std::vector<std::string>{"7", "8", "9", "10", "11"}));
  EXPECT_EQ(s->log.dropped(), 7u);
  EXPECT_EQ(s->log.written(), 12u);

  EXPECT_EQ(s->by_bytes.capacity(), 3u);
  for (int i = 0; i < 4; ++i) s->by_bytes.info("{}", i);
  EXPECT_EQ(s->by_bytes.messages(), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(s->by_bytes.dropped(), 1u);
}

TEST(LogBounded, zero_records_keeps_none_but_sinks_see_every_record) {
  sk::Share<Small> s;
  std::vector<std::string> seen;
  s->none.set_sink([&](const sk::LogRecord& r) { seen.push_back(r.message); });
  s->none.info("a");
  s->none.warning("b");
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(s->none.messages().empty());
  EXPECT_EQ(s->none.dropped(), 2u);
}

TEST(LogBounded, sinks_see_every_record_beyond_the_bound) {
  sk::Share<Small> s;
  std::vector<std::uint64_t> seqs;
  s->log.set_sink([&](const sk::LogRecord& r) { seqs.push_back(r.seq); });
  for (int i = 0; i < 50; ++i) s->log.info("{}", i);
  ASSERT_EQ(seqs.size(), 50u);
  for (std::uint64_t i = 0; i < 50; ++i) EXPECT_EQ(seqs[i], i);
  EXPECT_EQ(s->log.size(), 5u);
}

TEST(LogBounded, long_message_truncated_in_the_share_whole_in_sinks) {
  sk::Share<Small> s;
  std::string sunk;
  s->log.set_sink([&](const sk::LogRecord& r) { sunk = r.message; });
  const std::string big(300, 'x');
  s->log.info("{}", big);
  EXPECT_EQ(sunk, big);
  auto rs = s->log.records();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_TRUE(rs[0].truncated);
  EXPECT_LE(rs[0].message.size(), sk::Log::kMaxMessageBytes);
  EXPECT_EQ(rs[0].message, std::string(sk::Log::kMaxMessageBytes - 3, 'x') + "\xE2\x80\xA6");

  // Cut at a character boundary: 2-byte characters never split.
  std::string accents;
  for (int i = 0; i < 100; ++i) accents += "\xC3\xA9";  // "é"
  s->log.info("{}", accents);
  rs = s->log.records();
  ASSERT_EQ(rs.size(), 2u);
  const std::string& m = rs[1].message;
  ASSERT_GE(m.size(), 3u);
  const std::string body = m.substr(0, m.size() - 3);
  EXPECT_EQ(body.size() % 2, 0u);
  EXPECT_EQ(body, accents.substr(0, body.size()));
  EXPECT_EQ(m.substr(m.size() - 3), "\xE2\x80\xA6");

  // Exactly kMaxMessageBytes fits whole.
  const std::string fits(sk::Log::kMaxMessageBytes, 'y');
  s->log.info("{}", fits);
  rs = s->log.records();
  EXPECT_EQ(rs.back().message, fits);
  EXPECT_FALSE(rs.back().truncated);
}

TEST(LogBounded, clear_hides_records_without_counting_them_dropped) {
  sk::Share<Small> s;
  s->log.no_sinks();
  for (int i = 0; i < 3; ++i) s->log.info("{}", i);
  s->log.clear();
  EXPECT_EQ(s->log.size(), 0u);
  EXPECT_TRUE(s->log.messages().empty());
  for (int i = 3; i < 10; ++i) s->log.info("{}", i);  // overwrites the cleared slots
  EXPECT_EQ(s->log.messages(), (std::vector<std::string>{"5", "6", "7", "8", "9"}));
  EXPECT_EQ(s->log.dropped(), 2u);  // 3 and 4; 0..2 were cleared, not dropped
}

TEST(LogBounded, ring_that_does_not_fit_is_arena_full_at_the_first_record_with_advice) {
  sk::Share<State> s(1 << 20);  // the default bound needs 3.2 MB
  s->log.no_sinks();
  try {
    s->log.info("x");
    FAIL() << "no ArenaFull";
  } catch (const sk::alloc::ArenaFull& e) {
    EXPECT_NE(std::string(e.what()).find("LogRetention"), std::string::npos) << e.what();
  }
  EXPECT_EQ(s->log.written(), 0u);  // no ticket taken: no hole in the order
  sk::Share<Small> small(1 << 20);
  small->log.no_sinks();
  small->log.info("fits");
  EXPECT_EQ(small->log.messages(), std::vector<std::string>{"fits"});
}

using sktest::CaptureStderr;

TEST(LogBounded, default_level_is_info_debug_reaches_neither_stderr_nor_records) {
  sk::Share<State> s;
  EXPECT_EQ(s->log.level(), sk::LogLevel::info);
  std::string err;
  {
    CaptureStderr cap;
    s->log.debug("hidden {}", 1);  // default sink: stderr
    s->log.info("shown {}", 2);
    err = cap.text();
  }
  EXPECT_EQ(err.find("hidden"), std::string::npos) << err;
  EXPECT_NE(err.find("INFO log["), std::string::npos) << err;
  EXPECT_NE(err.find("shown 2"), std::string::npos) << err;
  EXPECT_EQ(s->log.messages(), std::vector<std::string>{"shown 2"});
  EXPECT_FALSE(s->log.write(sk::LogLevel::debug, "also hidden"));
  s->log.set_level(sk::LogLevel::debug);
  s->log.no_sinks();
  s->log.debug("now kept");
  EXPECT_EQ(s->log.messages(), (std::vector<std::string>{"shown 2", "now kept"}));
}

}  // namespace
