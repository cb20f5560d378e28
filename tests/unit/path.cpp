// sk::Path in one process: root detection (markers, nesting, override),
// rp/id round trips, paths outside the root, '..' and symlinks in the input,
// hostile ids, the wire form, and the file-name helpers.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_set>

#include <fmt/format.h>

#include <sk/ipc/serialize.hpp>
#include <sk/path.hpp>

namespace fs = std::filesystem;

namespace {

// A fresh directory tree per test, removed afterwards.
class TempTree {
 public:
  TempTree() {
    std::string tmpl = (fs::temp_directory_path() / "sk_path_XXXXXX").string();
    base_ = fs::canonical(mkdtemp(tmpl.data()));
    sk::clear_root_cache();
  }
  ~TempTree() {
    std::error_code ec;
    fs::remove_all(base_, ec);
    sk::clear_root_cache();
  }
  const fs::path& base() const { return base_; }
  fs::path dir(const std::string& rel) const {
    fs::create_directories(base_ / rel);
    return base_ / rel;
  }
  void file(const std::string& rel, const std::string& text = "") const {
    fs::create_directories((base_ / rel).parent_path());
    std::ofstream(base_ / rel) << text;
  }

 private:
  fs::path base_;
};

}  // namespace

TEST(Path, setup_sk_marker_wins_over_outer_indicators) {
  TempTree t;
  t.file("outer/.git/HEAD");
  t.file("outer/README.md");
  t.file("outer/inner/setup.sk");
  t.file("outer/inner/src/a.cpp");
  const sk::Path p(t.base() / "outer/inner/src/a.cpp");
  EXPECT_EQ(p.root(), t.base() / "outer/inner");
  EXPECT_EQ(p.rp(), "src/a.cpp");
}

TEST(Path, outermost_indicator_is_the_root_of_nested_projects) {
  TempTree t;
  t.file("outer/LICENSE");
  t.file("outer/sub/CMakeLists.txt", "cmake_minimum_required(VERSION 3.20)\nPROJECT(sub CXX)\n");
  t.file("outer/sub/lib/x.hpp");
  const sk::Path p(t.base() / "outer/sub/lib/x.hpp");
  EXPECT_EQ(p.root(), t.base() / "outer");
  EXPECT_EQ(p.rp(), "sub/lib/x.hpp");
}

TEST(Path, cmakelists_without_project_is_not_an_indicator) {
  TempTree t;
  t.file("proj/README");
  t.file("proj/sub/CMakeLists.txt", "add_library(x x.cpp)\n");
  t.file("proj/other/CMakeLists.txt", "project(other)\n");
  // Without a README above, only the CMakeLists.txt with project( counts.
  EXPECT_EQ(sk::detect_root(t.base() / "proj/other"), t.base() / "proj");
  TempTree u;
  u.file("a/CMakeLists.txt", "add_library(x x.cpp)\n");
  u.file("a/b/CMakeLists.txt", "project(b)\n");
  EXPECT_EQ(sk::detect_root(u.base() / "a/b"), u.base() / "a/b");
}

TEST(Path, custom_root_overrides_detection_and_nests) {
  TempTree t;
  t.file("proj/setup.sk");
  t.file("proj/data/x.csv");
  const fs::path file = t.base() / "proj/data/x.csv";
  {
    sk::CustomRoot r(t.base() / "proj/data");
    EXPECT_EQ(sk::Path(file).rp(), "x.csv");
    {
      sk::CustomRoot inner(t.base());
      EXPECT_EQ(sk::Path(file).rp(), "proj/data/x.csv");
      EXPECT_EQ(sk::project_root(), t.base());
    }
    EXPECT_EQ(sk::Path(file).rp(), "x.csv");
  }
  EXPECT_EQ(sk::Path(file).rp(), "data/x.csv");
}

TEST(Path, environment_variable_overrides_detection) {
  TempTree t;
  t.file("proj/setup.sk");
  t.file("proj/data/x.csv");
  ::setenv("SK_PROJECT_ROOT", (t.base() / "proj/data").c_str(), 1);
  const sk::Path p(t.base() / "proj/data/x.csv");
  ::unsetenv("SK_PROJECT_ROOT");
  EXPECT_EQ(p.rp(), "x.csv");
  EXPECT_EQ(sk::Path(t.base() / "proj/data/x.csv").rp(), "data/x.csv");
}

TEST(Path, outside_the_root_rp_is_empty_and_id_carries_ap) {
  TempTree t;
  t.dir("proj");
  t.file("elsewhere/f.txt");
  sk::CustomRoot r(t.base() / "proj");
  const sk::Path p(t.base() / "elsewhere/f.txt");
  EXPECT_FALSE(p.in_root());
  EXPECT_EQ(p.rp(), "");
  EXPECT_EQ(p.ap(), t.base() / "elsewhere/f.txt");
  EXPECT_EQ(sk::Path::from_id(p.id()), p);
  EXPECT_EQ(sk::Path::from_id(p.id()).ap(), p.ap());
}

TEST(Path, dotdot_and_symlinks_are_resolved) {
  TempTree t;
  t.file("proj/a/real.txt");
  t.dir("proj/b");
  fs::create_symlink(t.base() / "proj/a", t.base() / "proj/b/link");
  sk::CustomRoot r(t.base() / "proj");
  const sk::Path dots(t.base() / "proj/b/../a/./real.txt");
  EXPECT_EQ(dots.rp(), "a/real.txt");
  const sk::Path via_link(t.base() / "proj/b/link/real.txt");
  EXPECT_EQ(via_link.rp(), "a/real.txt");
  EXPECT_EQ(via_link, dots);
  const sk::Path escape(t.base() / "proj/../outside.txt");
  EXPECT_EQ(escape.rp(), "");
  EXPECT_EQ(sk::Path(t.base() / "proj").rp(), ".");
}

TEST(Path, rp_and_id_round_trip) {
  TempTree t;
  t.file("proj/dir with space/ü-ß.txt");
  sk::CustomRoot r(t.base() / "proj");
  const sk::Path p(t.base() / "proj/dir with space/ü-ß.txt");
  EXPECT_EQ(p.rp(), "dir with space/ü-ß.txt");
  EXPECT_EQ(sk::Path::from_rp(p.rp()), p);
  EXPECT_EQ(sk::Path::from_id(p.id()).ap(), p.ap());
  for (const char c : p.id()) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << c;
  EXPECT_EQ(sk::Path::from_id(""), sk::Path());
}

TEST(Path, join_compare_hash_format_and_conversions) {
  TempTree t;
  t.dir("proj/a");
  sk::CustomRoot r(t.base() / "proj");
  const sk::Path a(t.base() / "proj/a");
  const sk::Path ab = a / "b.txt";
  EXPECT_EQ(ab.rp(), "a/b.txt");
  EXPECT_EQ(ab.parent(), a);
  EXPECT_LT(a, ab);
  std::unordered_set<sk::Path> set{a, ab, sk::Path::from_rp("a/b.txt")};
  EXPECT_EQ(set.size(), 2u);
  const fs::path as_fs = ab;
  EXPECT_EQ(as_fs, t.base() / "proj/a/b.txt");
  EXPECT_EQ(fmt::format("{}", ab), (t.base() / "proj/a/b.txt").string());
  std::ostringstream os;
  os << ab;
  EXPECT_EQ(os.str(), ab.str());
  EXPECT_EQ(sk::Path(std::string(ab.str())), ab);
}

TEST(Path, hostile_ids_throw_path_id_error_with_a_clear_message) {
  TempTree t;
  t.dir("proj");
  sk::CustomRoot r(t.base() / "proj");
  auto message_of = [](std::string_view id) -> std::string {
    try {
      (void)sk::Path::from_id(id);
    } catch (const sk::PathIdError& e) {
      return e.what();
    }
    return "no exception";
  };
  const std::string not_b64 = message_of("a/b+c");
  EXPECT_NE(not_b64.find("not URL-safe base64"), std::string::npos) << not_b64;
  EXPECT_NE(not_b64.find("offset 1"), std::string::npos) << not_b64;
  EXPECT_NE(not_b64.find("Path::id()"), std::string::npos) << not_b64;
  // "../../etc" in URL-safe base64.
  const std::string esc = message_of("Li4vLi4vZXRj");
  EXPECT_NE(esc.find("\"../../etc\""), std::string::npos) << esc;
  EXPECT_NE(esc.find("climbs out of the project root"), std::string::npos) << esc;
  EXPECT_NE(esc.find("from_id"), std::string::npos) << esc;
  // "a/../../x" normalizes to "../x": still an escape.
  EXPECT_NE(message_of("YS8uLi8uLi94").find("climbs out"), std::string::npos);
  EXPECT_NE(message_of("A").find("not URL-safe base64"), std::string::npos);  // impossible length
  EXPECT_THROW((void)sk::Path::from_rp("../x"), sk::PathIdError);
  EXPECT_THROW((void)sk::Path::from_rp("/etc/passwd"), sk::PathIdError);
  static_assert(std::is_base_of_v<sk::Error, sk::PathIdError>);
}

TEST(Path, serializes_rp_and_resolves_against_the_decoding_root) {
  TempTree t;
  t.dir("one");
  t.dir("two");
  std::vector<std::byte> bytes;
  sk::Path outside;
  {
    sk::CustomRoot r(t.base() / "one");
    bytes = sk::ser::encode(sk::Path(t.base() / "one/data/x.csv"));
    outside = sk::Path("/usr/share");
  }
  sk::CustomRoot r(t.base() / "two");
  const auto got = sk::ser::decode<sk::Path>(bytes);
  EXPECT_EQ(got.ap(), t.base() / "two/data/x.csv");
  EXPECT_EQ(got.rp(), "data/x.csv");
  EXPECT_EQ(sk::ser::decode<sk::Path>(sk::ser::encode(outside)).ap(), outside.ap());
  EXPECT_EQ(sk::ser::decode<sk::Path>(sk::ser::encode(sk::Path())), sk::Path());
}

TEST(Path, hostile_wire_form_throws_path_id_error) {
  TempTree t;
  t.dir("proj");
  sk::CustomRoot r(t.base() / "proj");
  // A payload claiming to hold a root-relative "../../etc" (the wire form is u8 kind + string).
  std::vector<std::byte> payload;
  sk::ser::encode_payload(std::tuple<std::uint8_t, std::string>{1, "../../etc"}, payload);
  try {
    (void)sk::ser::decode_payload<sk::Path>(payload);
    FAIL() << "no exception";
  } catch (const sk::PathIdError& e) {
    EXPECT_NE(std::string(e.what()).find("sk::ser decoding sk::Path"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("climbs out"), std::string::npos) << e.what();
  }
  payload.clear();
  sk::ser::encode_payload(std::tuple<std::uint8_t, std::string>{7, "x"}, payload);
  EXPECT_THROW((void)sk::ser::decode_payload<sk::Path>(payload), sk::PathIdError);
}

TEST(Path, is_valid_filename_rejects_unsafe_names) {
  EXPECT_TRUE(sk::is_valid_filename("report-2024.csv"));
  EXPECT_TRUE(sk::is_valid_filename(".hidden"));
  for (const std::string bad : {"", ".", "..", "a/b", "a\\b", "a<b", "a>b", "a:b", "a\"b", "a|b", "a?b", "a*b",
                                "tab\there", "dot.", "space ", "CON", "con.txt", "NUL", "COM1", "lpt9.log"})
    EXPECT_FALSE(sk::is_valid_filename(bad)) << bad;
  EXPECT_TRUE(sk::is_valid_filename("COM10"));
  EXPECT_FALSE(sk::is_valid_filename(std::string(256, 'a')));
}

TEST(Path, streamline_path_replaces_unsafe_characters_and_limits_length) {
  EXPECT_EQ(sk::streamline_path("data\\in:put?.csv"), "data/in_put_.csv");
  EXPECT_EQ(sk::streamline_path("dir. /file ."), "dir/file");
  EXPECT_EQ(sk::streamline_path("a\x01" "b", 0, '-'), "a-b");
  EXPECT_EQ(sk::streamline_path("verylongname.txt", 10), "verylo.txt");
  EXPECT_EQ(sk::streamline_path("verylongname", 4), "very");
  EXPECT_EQ(sk::streamline_path("../x"), "../x");
}
