#pragma once
// sk::Path: a path that knows its project root (the original's Skpath).
//
//   sk::Path p("data/in.csv");        // relative input: against the current directory
//   p.ap();   // absolute, normalized, symlinks resolved: /home/me/proj/data/in.csv
//   p.rp();   // relative to the project root, '/' separators: "data/in.csv"
//   p.id();   // URL-safe base64 of rp (of ap outside the root); Path::from_id(id) reverses it
//   sk::ser::encode(p);               // sends rp: the receiver resolves it against its own root
//
// Project root, first match wins: an sk::CustomRoot in scope, the environment
// variable SK_PROJECT_ROOT, then detection walking up from the path: the nearest
// directory holding `setup.sk`, else the outermost one holding a project
// indicator (.git, CMakeLists.txt with project(, LICENSE*, LICENCE*, README*,
// pyproject.toml, setup.py, Cargo.toml, go.mod, package.json). Detection results
// are cached per directory (thread-safe); clear_root_cache() forgets them.
// See docs/paths.md.
#include <compare>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include <sk/path_errors.hpp>

namespace sk {

class Path {
 public:
  Path() = default;  // empty: ap() and rp() are empty
  Path(const std::filesystem::path& p);  // NOLINT: implicit, like std::filesystem::path
  Path(const std::string& p) : Path(std::filesystem::path(p)) {}
  Path(std::string_view p) : Path(std::filesystem::path(p)) {}
  Path(const char* p) : Path(std::filesystem::path(p)) {}

  // Reverses id(). Throws PathIdError on an id that is not URL-safe base64,
  // decodes to NUL bytes, or to a relative path that climbs out of the root.
  static Path from_id(std::string_view id);
  // Resolves a root-relative path (an rp()) against this process's root;
  // the same checks as from_id.
  static Path from_rp(std::string_view rp);

  const std::filesystem::path& ap() const noexcept { return ap_; }
  std::string rp() const;  // "" outside the root (or without one); "." for the root itself
  std::string id() const;
  const std::filesystem::path& root() const noexcept { return root_; }
  bool in_root() const noexcept { return !rel_.empty(); }
  bool empty() const noexcept { return ap_.empty(); }
  std::string str() const { return ap_.string(); }

  Path operator/(const std::filesystem::path& rhs) const;
  Path parent() const;
  std::string name() const { return ap_.filename().string(); }
  bool exists() const;

  operator const std::filesystem::path&() const noexcept { return ap_; }  // NOLINT

  // Equal when rp() is equal (ap() for paths outside their root).
  bool operator==(const Path& o) const { return key() == o.key(); }
  std::strong_ordering operator<=>(const Path& o) const { return key() <=> o.key(); }
  std::string key() const;  // what comparison and std::hash use

  // cereal member save/load (used by sk::ser): u8 kind (0 empty, 1 relative,
  // 2 absolute) + string; relative is rp(), resolved on load against the
  // receiver's root.
  template <class Archive>
  void save(Archive& ar) const {
    const std::uint8_t kind = empty() ? 0 : (in_root() ? 1 : 2);
    ar(kind, kind == 1 ? rel_ : ap_.string());
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint8_t kind = 0;
    std::string s;
    ar(kind, s);
    *this = from_wire(kind, s);
  }

 private:
  static Path from_wire(std::uint8_t kind, const std::string& s);

  std::filesystem::path ap_;
  std::filesystem::path root_;
  std::string rel_;  // rp(), "" outside the root
};

// The root a root-relative path resolves against in this process: CustomRoot,
// SK_PROJECT_ROOT, else detection from the current directory. Empty if none.
std::filesystem::path project_root();
// The root detection finds for `p` (no override, no environment). Empty if none.
std::filesystem::path detect_root(const std::filesystem::path& p);
void clear_root_cache();

// Overrides the project root for this process while in scope (nests; the
// innermost wins). Meant for tests and for programs that know their root.
class CustomRoot {
 public:
  explicit CustomRoot(const std::filesystem::path& root);
  ~CustomRoot();
  CustomRoot(const CustomRoot&) = delete;
  CustomRoot& operator=(const CustomRoot&) = delete;
};

// True if `name` is a single file name that is safe on Linux, macOS and
// Windows: not empty, no control characters, none of <>:"/\|?*, no trailing
// dot or space, not a reserved device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9,
// with or without extension), at most 255 bytes.
bool is_valid_filename(std::string_view name);
// `path` with every unsafe character (control characters, <>:"|?*) replaced by
// `replacement`, '\' turned into '/', trailing dots and spaces of each component
// removed, and, if max_len > 0, cut to at most max_len bytes (the extension kept
// when it fits).
std::string streamline_path(std::string_view path, std::size_t max_len = 0, char replacement = '_');

std::ostream& operator<<(std::ostream& os, const Path& p);

}  // namespace sk

template <>
struct std::hash<sk::Path> {
  std::size_t operator()(const sk::Path& p) const { return std::hash<std::string>{}(p.key()); }
};

template <>
struct fmt::formatter<sk::Path> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const sk::Path& p, FormatContext& ctx) const {
    const std::string s = p.str();
    return fmt::formatter<std::string_view>::format(std::string_view(s), ctx);
  }
};
