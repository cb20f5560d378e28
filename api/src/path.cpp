// sk::Path: root detection, rp/id, the wire form and the file-name helpers.
#include <sk/path.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace fs = std::filesystem;

namespace sk {

namespace {

// ---- URL-safe base64 without padding (RFC 4648 §5) ---------------------------

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    acc = (acc << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kB64[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kB64[(acc << (6 - bits)) & 63]);
  return out;
}

// nullopt names the first offending offset through `bad_at`.
std::optional<std::string> b64_decode(std::string_view in, std::size_t& bad_at) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto at = kB64.find(in[i]);
    if (at == std::string_view::npos) {
      bad_at = i;
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(at);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  // A single leftover character carries fewer than 8 bits: no encoder makes it.
  if (in.size() % 4 == 1) {
    bad_at = in.size() - 1;
    return std::nullopt;
  }
  return out;
}

// ---- root override and detection ------------------------------------------------

std::mutex g_mu;
std::vector<fs::path> g_custom;                     // CustomRoot stack, innermost last
std::unordered_map<std::string, std::string> g_cache;  // start dir -> detected root ("" none)

fs::path normal(const fs::path& p) {
  if (p.empty()) return {};
  std::error_code ec;
  fs::path abs = fs::absolute(p, ec);
  if (ec) abs = p;
  fs::path canon = fs::weakly_canonical(abs, ec);
  if (ec) canon = abs.lexically_normal();
  // weakly_canonical keeps a trailing separator of a directory; drop it so
  // "a/b/" and "a/b" are the same path.
  if (!canon.has_filename() && canon.has_parent_path() && canon != canon.root_path()) canon = canon.parent_path();
  return canon;
}

bool cmake_has_project(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::transform(line.begin(), line.end(), line.begin(), [](unsigned char c) { return std::tolower(c); });
    if (line.find("project(") != std::string::npos) return true;
  }
  return false;
}

bool is_indicator(const fs::path& dir) {
  std::error_code ec;
  static constexpr std::array<std::string_view, 7> exact = {
      ".git", "pyproject.toml", "setup.py", "Cargo.toml", "go.mod", "package.json", ""};
  for (const auto name : exact)
    if (!name.empty() && fs::exists(dir / name, ec)) return true;
  if (fs::is_regular_file(dir / "CMakeLists.txt", ec) && cmake_has_project(dir / "CMakeLists.txt")) return true;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.starts_with("LICENSE") || n.starts_with("LICENCE") || n.starts_with("README")) return true;
  }
  return false;
}

fs::path detect_uncached(const fs::path& start) {
  fs::path outermost;
  std::error_code ec;
  for (fs::path d = start;; d = d.parent_path()) {
    if (fs::exists(d / "setup.sk", ec)) return d;
    if (is_indicator(d)) outermost = d;
    if (d == d.root_path() || !d.has_parent_path()) break;
  }
  return outermost;
}

// The directory detection starts from: the path if it is a directory, else its parent.
fs::path start_dir(const fs::path& ap) {
  std::error_code ec;
  return fs::is_directory(ap, ec) ? ap : ap.parent_path();
}

fs::path root_for(const fs::path& ap) {
  {
    std::lock_guard lock(g_mu);
    if (!g_custom.empty()) return g_custom.back();
  }
  if (const char* env = std::getenv("SK_PROJECT_ROOT"); env != nullptr && *env != '\0') return normal(env);
  return detect_root(ap);
}

// `rel` relative to root, or "" if it climbs out; "." for the root itself.
std::string relative_in(const fs::path& ap, const fs::path& root) {
  if (root.empty() || ap.empty()) return {};
  const fs::path rel = ap.lexically_relative(root);
  if (rel.empty()) return {};
  const auto first = rel.begin();
  if (first != rel.end() && *first == "..") return {};
  return rel.generic_string();
}

[[noreturn]] void throw_hostile(std::string_view what, std::string_view input, std::string_view why) {
  throw PathIdError(std::string("sk::Path::") + std::string(what) + ": \"" + std::string(input) + "\" " +
                    std::string(why));
}

}  // namespace

fs::path detect_root(const fs::path& p) {
  const fs::path start = start_dir(normal(p));
  if (start.empty()) return {};
  const std::string key = start.string();
  {
    std::lock_guard lock(g_mu);
    if (auto it = g_cache.find(key); it != g_cache.end()) return it->second;
  }
  // The walk touches the file system: do it without the lock (another thread
  // may walk the same directory meanwhile; both find the same answer).
  const fs::path found = detect_uncached(start);
  std::lock_guard lock(g_mu);
  g_cache.emplace(key, found.string());
  return found;
}

fs::path project_root() {
  std::error_code ec;
  return root_for(normal(fs::current_path(ec)));
}

void clear_root_cache() {
  std::lock_guard lock(g_mu);
  g_cache.clear();
}

CustomRoot::CustomRoot(const fs::path& root) {
  const fs::path r = normal(root);
  if (r.empty()) throw PathError("sk::CustomRoot: the root is empty; pass the project's directory");
  std::lock_guard lock(g_mu);
  g_custom.push_back(r);
}

CustomRoot::~CustomRoot() {
  std::lock_guard lock(g_mu);
  if (!g_custom.empty()) g_custom.pop_back();
}

Path::Path(const fs::path& p) : ap_(normal(p)) {
  if (ap_.empty()) return;
  root_ = root_for(ap_);
  rel_ = relative_in(ap_, root_);
}

Path Path::from_rp(std::string_view rp) {
  if (rp.find('\0') != std::string_view::npos)
    throw_hostile("from_rp", "<holds NUL>", "holds a NUL byte; pass a path written by Path::rp()");
  const fs::path rel = fs::path(rp).lexically_normal();
  if (rel.is_absolute())
    throw_hostile("from_rp", rp, "is absolute; pass a root-relative path (Path::rp()) or construct sk::Path from it");
  if (rel.begin() != rel.end() && *rel.begin() == "..")
    throw_hostile("from_rp", rp,
                  "climbs out of the project root; a root-relative path must stay inside the root "
                  "(send paths outside it as absolute, which Path does by itself)");
  const fs::path root = project_root();
  if (root.empty())
    throw PathError("sk::Path::from_rp: \"" + std::string(rp) +
                    "\" is root-relative but this process has no project root; add a setup.sk marker, set "
                    "SK_PROJECT_ROOT or hold an sk::CustomRoot");
  return Path(root / rel);
}

Path Path::from_id(std::string_view id) {
  if (id.empty()) return Path();
  std::size_t bad_at = 0;
  const auto decoded = b64_decode(id, bad_at);
  if (!decoded)
    throw_hostile("from_id", id,
                  "is not URL-safe base64 (bad character or length at offset " + std::to_string(bad_at) +
                      "); pass a string made by Path::id()");
  if (decoded->find('\0') != std::string::npos)
    throw_hostile("from_id", id, "decodes to a path with a NUL byte; pass a string made by Path::id()");
  if (fs::path(*decoded).is_absolute()) return Path(fs::path(*decoded));
  try {
    return from_rp(*decoded);
  } catch (const PathIdError&) {
    throw_hostile("from_id", id,
                  "decodes to \"" + *decoded +
                      "\", which climbs out of the project root; pass a string made by Path::id()");
  }
}

Path Path::from_wire(std::uint8_t kind, const std::string& s) {
  switch (kind) {
    case 0:
      if (!s.empty()) break;
      return Path();
    case 1:
      try {
        return from_rp(s);
      } catch (const PathIdError& e) {
        throw PathIdError(std::string("sk::ser decoding sk::Path: ") + e.what());
      }
    case 2:
      if (s.find('\0') != std::string::npos || !fs::path(s).is_absolute()) break;
      return Path(fs::path(s));
    default:
      break;
  }
  throw PathIdError("sk::ser decoding sk::Path: bad wire form (kind " + std::to_string(kind) + ", " +
                    std::to_string(s.size()) + " bytes); the sender is not an sk::Path of this library version");
}

std::string Path::rp() const { return rel_; }

std::string Path::id() const {
  if (empty()) return {};
  return b64_encode(in_root() ? rel_ : ap_.string());
}

std::string Path::key() const { return in_root() ? "r:" + rel_ : "a:" + ap_.string(); }

Path Path::operator/(const fs::path& rhs) const { return Path(ap_ / rhs); }

Path Path::parent() const { return Path(ap_.parent_path()); }

bool Path::exists() const {
  std::error_code ec;
  return fs::exists(ap_, ec);
}

std::ostream& operator<<(std::ostream& os, const Path& p) { return os << p.str(); }

// ---- file-name helpers -------------------------------------------------------------

namespace {

constexpr std::string_view kUnsafe = "<>:\"|?*";

bool reserved_device(std::string_view name) {
  const auto dot = name.find('.');
  std::string stem(name.substr(0, dot));
  std::transform(stem.begin(), stem.end(), stem.begin(), [](unsigned char c) { return std::toupper(c); });
  static constexpr std::array<std::string_view, 4> fixed = {"CON", "PRN", "AUX", "NUL"};
  if (std::find(fixed.begin(), fixed.end(), stem) != fixed.end()) return true;
  return stem.size() == 4 && (stem.starts_with("COM") || stem.starts_with("LPT")) && stem[3] >= '1' &&
         stem[3] <= '9';
}

}  // namespace

bool is_valid_filename(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '/' || c == '\\' || kUnsafe.find(c) != std::string_view::npos) return false;
  }
  if (name.back() == '.' || name.back() == ' ') return false;
  return !reserved_device(name);
}

std::string streamline_path(std::string_view path, std::size_t max_len, char replacement) {
  std::string out;
  out.reserve(path.size());
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\\')
      out.push_back('/');
    else if (u < 0x20 || u == 0x7F || kUnsafe.find(c) != std::string_view::npos)
      out.push_back(replacement);
    else
      out.push_back(c);
  }
  // Trailing dots and spaces of each component (Windows drops them silently).
  std::string cleaned;
  std::size_t from = 0;
  while (from <= out.size()) {
    const auto slash = out.find('/', from);
    std::string part = out.substr(from, slash == std::string::npos ? std::string::npos : slash - from);
    if (part != "." && part != "..")
      while (!part.empty() && (part.back() == '.' || part.back() == ' ')) part.pop_back();
    cleaned += part;
    if (slash == std::string::npos) break;
    cleaned.push_back('/');
    from = slash + 1;
  }
  if (max_len > 0 && cleaned.size() > max_len) {
    const auto slash = cleaned.rfind('/');
    const auto dot = cleaned.rfind('.');
    const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash) &&
                         cleaned.size() - dot < max_len;
    if (has_ext) {
      const std::string ext = cleaned.substr(dot);
      cleaned = cleaned.substr(0, max_len - ext.size()) + ext;
    } else {
      cleaned.resize(max_len);
    }
  }
  return cleaned;
}

}  // namespace sk
