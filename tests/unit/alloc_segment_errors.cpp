// Every way a named segment can be wrong gets its own exception type and a
// message that says what is wrong and what to do.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/header.hpp>
#include <sk/alloc/segment.hpp>

using namespace sk::alloc;

namespace {

std::string unique_name(const char* what) { return "se-" + std::to_string(::getpid()) + "-" + what; }

struct NameGuard {
  std::string name;
  std::string path;
  explicit NameGuard(const char* what) : name(unique_name(what)), path(Arena::path_for(name)) { cleanup(); }
  ~NameGuard() { cleanup(); }
  void cleanup() const {
    ::unlink(path.c_str());
    ::rmdir(path.c_str());
  }
};

// Writes `bytes` to a new file at path with `mode` (exact, umask aside).
void write_file(const std::string& path, const std::vector<unsigned char>& bytes, mode_t mode = 0600) {
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(::fchmod(fd, mode), 0);
  if (!bytes.empty()) {
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  }
  ::close(fd);
}

void patch(const std::string& path, std::size_t offset, const void* data, std::size_t n) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, data, n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  ::close(fd);
}

// Runs f, expects exception E, returns its message.
template <class E, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception";
  return {};
}

bool has(const std::string& m, const std::string& part) { return m.find(part) != std::string::npos; }

}  // namespace

TEST(SegmentErrors, unit_wrong_magic) {
  NameGuard g("magic");
  write_file(g.path, std::vector<unsigned char>(8192, 0xAB));
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, "is not a suitkaise segment")) << m;
  EXPECT_TRUE(has(m, g.path)) << m;
  EXPECT_TRUE(has(m, "choose another name")) << m;
}

TEST(SegmentErrors, unit_wrong_version) {
  NameGuard g("version");
  { Arena::create(g.name, 1 << 16); }
  const std::uint32_t v = 99;
  patch(g.path, offsetof(SegmentHeader, version), &v, sizeof v);
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, "format version 99")) << m;
  EXPECT_TRUE(has(m, "reads version " + std::to_string(kFormatVersion))) << m;
}

TEST(SegmentErrors, unit_wrong_layout_hash_names_both) {
  NameGuard g("layout");
  Arena a = Arena::create(g.name, 1 << 16, {0x1111, "Counter{count:Atomic<int>}"});
  const auto m = message_of<LayoutMismatch>([&] { Arena::open(g.name, {0x2222, "Counter{count:Atomic<long>}"}); });
  EXPECT_TRUE(has(m, "Counter{count:Atomic<int>}")) << m;
  EXPECT_TRUE(has(m, "Counter{count:Atomic<long>}")) << m;
  EXPECT_TRUE(has(m, "0x0000000000001111")) << m;
  EXPECT_TRUE(has(m, "0x0000000000002222")) << m;
  EXPECT_NO_THROW(Arena::open(g.name, {0x1111, "Counter{count:Atomic<int>}"}));
  // LayoutMismatch is a BadSegment is a SegmentError is an ArenaError is an sk::Error.
  EXPECT_THROW(Arena::open(g.name, {0x3333, "x"}), sk::Error);
}

TEST(SegmentErrors, unit_truncated_below_capacity) {
  NameGuard g("trunc");
  { Arena::create(g.name, 1 << 16); }
  ASSERT_EQ(::truncate(g.path.c_str(), 8192), 0);
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, "is truncated")) << m;
  EXPECT_TRUE(has(m, "8192 bytes")) << m;
  EXPECT_TRUE(has(m, "capacity of 65536")) << m;
}

// Found by tests/fuzz/fuzz_segment_attach: a capacity patched to 13,632
// (16 KiB segment) was accepted, so the last small-block page ran past the
// heap's end and allocate() returned a block that contains() denied.
TEST(SegmentErrors, unit_capacity_not_whole_pages) {
  NameGuard g("cappage");
  { Arena::create(g.name, 1 << 16); }
  const std::uint64_t cap = (1 << 16) - 1000;
  patch(g.path, offsetof(SegmentHeader, capacity), &cap, sizeof cap);
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, "impossible capacity 64536")) << m;
  EXPECT_TRUE(has(m, "whole number of 4096-byte pages")) << m;
  EXPECT_TRUE(has(m, "unlink it")) << m;
}

TEST(SegmentErrors, unit_truncated_inside_header) {
  NameGuard g("trunchdr");
  { Arena::create(g.name, 1 << 16); }
  ASSERT_EQ(::truncate(g.path.c_str(), 100), 0);
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, "is truncated")) << m;
  EXPECT_TRUE(has(m, "has 100 bytes")) << m;
}

TEST(SegmentErrors, unit_empty_file_has_no_header) {
  NameGuard g("empty");
  write_file(g.path, {});
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name, {}, std::chrono::milliseconds(200)); });
  EXPECT_TRUE(has(m, "has no header")) << m;
  EXPECT_TRUE(has(m, "Arena::unlink")) << m;
}

TEST(SegmentErrors, unit_foreign_file_wrong_mode) {
  NameGuard g("mode");
  write_file(g.path, std::vector<unsigned char>(8192, 0), 0644);
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, "mode is 0644")) << m;
}

TEST(SegmentErrors, unit_foreign_file_other_owner) {
  NameGuard g("owner");
  write_file(g.path, std::vector<unsigned char>(8192, 0));
  if (::chown(g.path.c_str(), 65534, 65534) != 0) GTEST_SKIP() << "cannot chown (not root)";
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, "owned by uid 65534")) << m;
}

TEST(SegmentErrors, unit_foreign_not_a_regular_file) {
  NameGuard g("dir");
  ASSERT_EQ(::mkdir(g.path.c_str(), 0700), 0);
  const auto m = message_of<SegmentError>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, g.path)) << m;
  // Creating over it refuses too, and leaves it alone.
  const auto c = message_of<SegmentError>([&] { Arena::create(g.name, 1 << 16); });
  EXPECT_TRUE(has(c, "already exists")) << c;
  struct stat st {};
  EXPECT_EQ(::stat(g.path.c_str(), &st), 0);
}

TEST(SegmentErrors, unit_symlink_refused) {
  NameGuard g("link");
  NameGuard target("linktarget");
  { Arena::create(target.name, 1 << 16); }
  ASSERT_EQ(::symlink(target.path.c_str(), g.path.c_str()), 0);
  const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
  EXPECT_TRUE(has(m, "symbolic link")) << m;
  const auto c = message_of<SegmentError>([&] { Arena::create(g.name, 1 << 16); });
  EXPECT_TRUE(has(c, "symbolic link")) << c;
  struct stat st {};
  EXPECT_EQ(::lstat(g.path.c_str(), &st), 0);  // not removed
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(SegmentErrors, unit_precreated_file_refused) {
  NameGuard g("precreated");
  write_file(g.path, std::vector<unsigned char>(8192, 0x5A));
  const auto m = message_of<SegmentError>([&] { Arena::create(g.name, 1 << 16); });
  EXPECT_TRUE(has(m, "already exists")) << m;
  EXPECT_TRUE(has(m, "not a suitkaise segment")) << m;
  // Still there, untouched.
  struct stat st {};
  ASSERT_EQ(::stat(g.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8192);
}

TEST(SegmentErrors, unit_precreated_empty_file_refused) {
  NameGuard g("precreatedempty");
  write_file(g.path, {});
  const auto m = message_of<SegmentError>([&] { Arena::create(g.name, 1 << 16); });
  EXPECT_TRUE(has(m, g.path)) << m;
  EXPECT_TRUE(Arena::exists(g.name));
}

TEST(SegmentErrors, unit_not_found) {
  const std::string name = unique_name("absent");
  const auto m = message_of<SegmentError>([&] { Arena::open(name); });
  EXPECT_TRUE(has(m, "no shared segment")) << m;
  EXPECT_TRUE(has(m, "Arena::create")) << m;
}

TEST(SegmentErrors, unit_bad_names) {
  EXPECT_TRUE(has(message_of<SegmentError>([] { Arena::create("", 1 << 16); }), "it is empty"));
  EXPECT_TRUE(has(message_of<SegmentError>([] { Arena::create("a/b", 1 << 16); }), "contains '/'"));
  EXPECT_TRUE(has(message_of<SegmentError>([] { Arena::open("../etc"); }), "contains '/'"));
  EXPECT_TRUE(has(message_of<SegmentError>([] { Arena::create("..", 1 << 16); }), "'.' and '..'"));
  EXPECT_TRUE(has(message_of<SegmentError>([] { Arena::create(std::string(101, 'x'), 1 << 16); }),
                  "101 bytes long, the limit is 100"));
  EXPECT_TRUE(has(message_of<SegmentError>([] { Arena::create("a\nb", 1 << 16); }), "control character"));
  EXPECT_TRUE(has(message_of<SegmentError>([] { Arena::unlink("x/y"); }), "contains '/'"));
  EXPECT_NO_THROW(validate_segment_name(std::string(100, 'x')));
  EXPECT_EQ(segment_path("jobs"), "/dev/shm/sk-" + std::to_string(::getuid()) + "-jobs");
}

TEST(SegmentErrors, unit_created_file_is_0600_and_fully_reserved) {
  NameGuard g("perm");
  const mode_t old = ::umask(0);
  Arena a = Arena::create(g.name, 1 << 20);
  ::umask(old);
  struct stat st {};
  ASSERT_EQ(::stat(g.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::getuid());
  EXPECT_EQ(static_cast<std::size_t>(st.st_size), a.capacity());
  // posix_fallocate reserved real blocks (not a sparse file).
  EXPECT_GE(static_cast<std::size_t>(st.st_blocks) * 512, a.capacity());
}

// Regression (found by tests/fuzz/fuzz_segment_attach): a header whose data
// start is not the header size let offsets inside the header (or none at all)
// count as allocatable; open now refuses it.
TEST(SegmentErrors, unit_corrupt_data_start) {
  NameGuard g("datastart");
  { Arena::create(g.name, 1 << 16); }
  for (const std::uint64_t bad : {std::uint64_t{0}, std::uint64_t{65280}}) {
    patch(g.path, offsetof(SegmentHeader, data_start), &bad, sizeof bad);
    const auto m = message_of<BadSegment>([&] { Arena::open(g.name); });
    EXPECT_TRUE(has(m, "corrupt header")) << m;
    EXPECT_TRUE(has(m, "data start " + std::to_string(bad))) << m;
  }
}
