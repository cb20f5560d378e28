// sk::core::type_name and FNV-1a: the one parser and the one hash behind
// sk::ser::type_id and the Share layout hash. Their output crosses programs
// (frames, segment headers), so it is pinned here.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include <sk/core/type_name.hpp>

namespace {
struct Local {};
}  // namespace

namespace tn {
template <class A, class B>
struct Two {};
}  // namespace tn

using sk::core::detail::parse_pretty_type;

TEST(CoreTypeName, unit_fnv1a_matches_the_published_test_vectors) {
  // Vectors of the FNV reference (64-bit FNV-1a); the u64 values below were
  // computed by an independent implementation (Python).
  static_assert(sk::core::fnv1a("") == 0xcbf29ce484222325ull);
  static_assert(sk::core::fnv1a("a") == 0xaf63dc4c8601ec8cull);
  static_assert(sk::core::fnv1a("foobar") == 0x85944171f73967e8ull);
  // Continuing a hash equals hashing the concatenation.
  static_assert(sk::core::fnv1a("bar", sk::core::fnv1a("foo")) == sk::core::fnv1a("foobar"));
  EXPECT_EQ(sk::core::fnv1a(std::string(1, '\xff')), sk::core::fnv1a("\xff"));
}

TEST(CoreTypeName, unit_fnv1a_u64_hashes_the_bytes_least_significant_first) {
  // The same as hashing the 8 little-endian bytes as text, on any host.
  constexpr std::uint64_t v = 0x0807060504030201ull;
  constexpr char bytes[] = {1, 2, 3, 4, 5, 6, 7, 8};
  static_assert(sk::core::fnv1a_u64(v, sk::core::kFnv1aOffset) == sk::core::fnv1a(std::string_view(bytes, 8)));
  static_assert(sk::core::fnv1a_u64(0, 42) == 0x1524a77bcb42296aull);
  EXPECT_EQ(sk::core::fnv1a_u64(0xdeadbeefull, sk::core::fnv1a("sk")), 0x0e44ab3edc11a13dull);
}

TEST(CoreTypeName, unit_parses_both_compilers_spellings) {
  static_assert(parse_pretty_type("constexpr const char* f() [with T = std::vector<int>]") == "std::vector<int>");
  static_assert(parse_pretty_type("const char *f() [T = std::vector<int>]") == "std::vector<int>");
  static_assert(parse_pretty_type("f() [with T = int [4]]") == "int [4]");  // brackets inside the type
  static_assert(parse_pretty_type("no template here") == "no template here");
  static_assert(parse_pretty_type("f() [with T = cut") == "cut");
}

TEST(CoreTypeName, unit_names_as_the_compiler_spells_them) {
  static_assert(sk::core::type_name<int>() == "int");
  static_assert(sk::core::type_name<std::vector<int>>() == "std::vector<int>");
  static_assert(sk::core::type_name<tn::Two<int, double>>() == "tn::Two<int, double>");
  static_assert(sk::core::type_name<const long*>() == "const long int*" ||
                sk::core::type_name<const long*>() == "const long *");
  EXPECT_EQ(sk::core::type_name<Local>(), "{anonymous}::Local");
  EXPECT_EQ(sk::core::type_name<int[4]>(), "int [4]");
#if !defined(__clang__)
  EXPECT_EQ((sk::core::type_name<std::map<std::string, int>>()),
            "std::map<std::__cxx11::basic_string<char>, int>");
#endif
}
