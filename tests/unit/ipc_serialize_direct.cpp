// sk::ser encoding straight into caller memory (frame_bytes + encode_to, what
// a Pipe uses to write a message once into its ring) and the one-copy decode
// paths: the bytes must be exactly those of encode(), and decode must read
// them back, for every type with a known size.
#include <gtest/gtest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <sk/ipc/serialize.hpp>

namespace {

struct Plain {
  std::uint32_t a;
  double b;
  char c[5];
  bool operator==(const Plain&) const = default;
};
enum class Color : std::uint16_t { red = 1, blue = 0x1234 };

struct WithFields {
  int x = 0;
  std::string s;
  SK_FIELDS(x, s)
};

template <class T>
void expect_same_bytes_and_round_trip(const T& v) {
  static_assert(sk::ser::has_known_size_v<T>);
  const std::vector<std::byte> want = sk::ser::encode(v);
  ASSERT_EQ(sk::ser::frame_bytes(v), want.size()) << sk::ser::type_name<T>();
  std::vector<std::byte> got(want.size() + 7, std::byte{0xEE});
  ASSERT_EQ(sk::ser::encode_to(v, got), want.size());
  got.resize(want.size());
  EXPECT_EQ(got, want) << sk::ser::type_name<T>();
  EXPECT_EQ(sk::ser::decode<T>(got), v) << sk::ser::type_name<T>();
}

}  // namespace

TEST(SerDirect, encode_to_writes_the_same_bytes_as_encode_for_every_known_size_type) {
  expect_same_bytes_and_round_trip(42);
  expect_same_bytes_and_round_trip(true);
  expect_same_bytes_and_round_trip(-2.5);
  expect_same_bytes_and_round_trip(Color::blue);
  expect_same_bytes_and_round_trip(Plain{7, 1.5, {'a', 'b', 'c', 'd', 'e'}});
  expect_same_bytes_and_round_trip(std::string());
  expect_same_bytes_and_round_trip(std::string("hello, pipe"));
  expect_same_bytes_and_round_trip(std::vector<std::uint8_t>(1000, 9));
  expect_same_bytes_and_round_trip(std::vector<std::byte>{std::byte{1}, std::byte{0xFF}});
  expect_same_bytes_and_round_trip(std::vector<Color>{Color::red, Color::blue});
  expect_same_bytes_and_round_trip(std::vector<Plain>(3, Plain{1, 2, {}}));
  expect_same_bytes_and_round_trip(std::vector<double>{});
  expect_same_bytes_and_round_trip(std::array<std::uint8_t, 64>{1, 2, 3});
  expect_same_bytes_and_round_trip(std::pair<std::uint64_t, std::vector<std::uint8_t>>{5, {1, 2}});
  expect_same_bytes_and_round_trip(std::tuple<int, std::string, std::vector<float>>{1, "x", {2.f}});
}

TEST(SerDirect, types_without_a_known_size_are_not_claimed) {
  static_assert(!sk::ser::has_known_size_v<std::vector<bool>>);
  static_assert(!sk::ser::has_known_size_v<std::vector<std::string>>);
  static_assert(!sk::ser::has_known_size_v<WithFields>);
  static_assert(!sk::ser::has_known_size_v<std::pair<int, std::vector<std::string>>>);
  SUCCEED();
}

TEST(SerDirect, encode_to_a_too_small_buffer_throws_serialization_error) {
  const std::vector<std::uint32_t> v(100, 1);
  std::vector<std::byte> small(sk::ser::frame_bytes(v) - 1);
  EXPECT_THROW((void)sk::ser::encode_to(v, small), sk::SerializationError);
  std::vector<std::byte> tiny(10);
  EXPECT_THROW((void)sk::ser::encode_to(1, tiny), sk::SerializationError);
  // Types without a known size can still be encoded into a big enough span.
  const WithFields w{3, "abc"};
  std::vector<std::byte> room(256);
  const std::size_t n = sk::ser::encode_to(w, room);
  room.resize(n);
  EXPECT_EQ(room, sk::ser::encode(w));
}

// The one-copy decode of a bulk vector reads a frame at any alignment (an
// odd offset takes the resize + copy path) and still refuses a size tag
// larger than the bytes left.
TEST(SerDirect, bulk_vector_decodes_at_any_alignment_and_checks_its_size_tag) {
  const std::vector<std::uint64_t> v{1, 2, 3, 0xFFFFFFFFFFFFFFFFull};
  const std::vector<std::byte> frame = sk::ser::encode(v);
  for (std::size_t shift = 0; shift < 8; ++shift) {
    std::vector<std::byte> buf(frame.size() + shift);
    std::copy(frame.begin(), frame.end(), buf.begin() + static_cast<std::ptrdiff_t>(shift));
    EXPECT_EQ(sk::ser::decode<std::vector<std::uint64_t>>(std::span(buf).subspan(shift)), v) << shift;
  }
  std::vector<std::byte> bad = frame;
  const std::uint64_t huge = 1000;
  std::memcpy(bad.data() + sk::ser::kFrameHeaderBytes, &huge, sizeof huge);
  EXPECT_THROW((void)sk::ser::decode<std::vector<std::uint64_t>>(bad), sk::DecodeError);
  std::vector<std::byte> bad_string = sk::ser::encode(std::string("abc"));
  std::memcpy(bad_string.data() + sk::ser::kFrameHeaderBytes, &huge, sizeof huge);
  EXPECT_THROW((void)sk::ser::decode<std::string>(bad_string), sk::DecodeError);
}
