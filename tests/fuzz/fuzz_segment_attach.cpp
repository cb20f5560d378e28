// libFuzzer target for segment attach: header validation in Arena::open and
// the stale-segment check (check_segment) against a hostile segment file.
//
// Each input becomes the contents of /dev/shm/sk-<uid>-fuzz-<pid> (mode
// 0600, owned by us, so it passes the owner/mode checks and reaches the
// header checks), with a size taken from the input too (truncated, sparse
// extension, the capacity the header claims...). Then
//   check_segment(path, false)                 must classify it, never crash
//   Arena::open(name, layout, 1 ms)            must succeed or throw an
//                                              sk::alloc::ArenaError subtype
// and a successful open must hold up: every page of the capacity the header
// claims is read (a mapping past the end of the file would SIGBUS here), the
// allocatable range never includes the header, and (flag) an allocation
// lands inside the arena and is writable. The file is removed every time.
//
// Input: flags:u8, then
//   flags & 1  template mode: patches on a real, valid 8-page segment made
//              at startup by Arena::create (small lists, a listed free run
//              and the page map in its header): repeated
//              {off:u16, n:u8, bytes[n % 64]} applied at off % 4096
//   else       raw mode: the rest of the input is the file's contents
//   (flags >> 1) & 3  size: 0 natural (template: its real size; raw: input
//              length), 1 from a u32 (% 1 MiB + 1) read right after flags,
//              2 the capacity the header claims (clamped to 1 MiB),
//              3 natural minus a u16 read right after flags
//   flags & 8  open with the template's layout hash (else 0: unchecked)
//   flags & 16 after a successful open, allocate and free a block
//   flags & 32 pipe mode: the template is a real named sk::Pipe segment
//              (patches at off % 12288 reach the arena header, the PipeBlock
//              and both ring headers) and the file is attached with
//              PipeEnd::attach as point and anchor, which then send a small
//              and a large message and receive them (zero timeouts). Allowed:
//              sk::alloc::ArenaError, sk::PipeError, sk::core::RingCorrupt.
//
// Dictionary: tests/fuzz/fuzz_segment_attach.dict (scripts/fuzz passes it):
// the header words' hostile values (root offset, capacity, bump/used,
// data_start, small-list heads, page-heap lock/bitmaps/list heads, page-map
// words), owner-registry ids (live-looking, dead, slot 0, slot out of range)
// for creator / heap lock / attach table, and template patch records that
// write each of them over its word.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/errors.hpp>
#include <sk/alloc/header.hpp>
#include <sk/alloc/sweep.hpp>
#include <sk/core/byte_ring.hpp>
#include <sk/ipc/pipe_channel.hpp>
#include <sk/ipc/pipe_errors.hpp>

#include <sanitizer/common_interface_defs.h>

#include "fuzz_stats.hpp"

namespace {

constexpr std::size_t kMaxFile = 1 << 20;
constexpr std::uint64_t kLayoutHash = 0x66757A7A'5365674DULL;

const sk::alloc::Layout& layout() {
  static const sk::alloc::Layout l{kLayoutHash, "fuzz_segment_attach{}"};
  return l;
}

const std::string& name() {
  static const std::string n = "fuzz-" + std::to_string(::getpid());
  return n;
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::vector<std::uint8_t> out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) sk_fuzz::fail("cannot read the template segment");
  std::uint8_t buf[4096];
  for (ssize_t r; (r = ::read(fd, buf, sizeof buf)) > 0;) out.insert(out.end(), buf, buf + r);
  ::close(fd);
  return out;
}

// A real segment's file, made once by the real Arena::create.
const std::vector<std::uint8_t>& valid_template() {
  static const std::vector<std::uint8_t> t = [] {
    const std::string tpl = name() + "-tpl";
    std::vector<std::uint8_t> bytes;
    {
      // Allocator state in every part of the header: a small-block page
      // taken from the top (small_top, a small free list), a free 2-page
      // run on a page-heap list with its tail in the page map, a used run
      // below the bump mark. The page map lies in the header (3072..).
      auto a = sk::alloc::Arena::create(tpl, 8 * sk::alloc::kPageBytes, layout());
      (void)a.allocate(100);
      const sk::alloc::Offset run = a.allocate(5000);
      (void)a.allocate(4096);
      a.deallocate(run, 5000);
      bytes = read_file(sk::alloc::Arena::path_for(tpl));
    }
    sk::alloc::Arena::unlink(tpl);
    return bytes;
  }();
  return t;
}

// A real named duplex pipe's segment file (small rings), made once.
const std::vector<std::uint8_t>& pipe_template() {
  static const std::vector<std::uint8_t> t = [] {
    const std::string tpl = name() + "-pipe";
    std::vector<std::uint8_t> bytes;
    {
      sk::ipc::PipeOptions o;
      o.ring_bytes = 1024;
      o.inline_max = 128;
      o.arena_bytes = 80 * 1024;
      auto ends = sk::ipc::PipeEnd::create(false, o, tpl);
      bytes = read_file(sk::alloc::Arena::path_for(tpl));
    }
    sk::ipc::PipeEnd::unlink(tpl);
    return bytes;
  }();
  return t;
}

// SK_FUZZ_VERBOSE=1: print the documented exceptions too (debugging seeds).
void verbose(const std::exception& e) {
  static const bool on = std::getenv("SK_FUZZ_VERBOSE") != nullptr;
  if (on) std::fprintf(stderr, "documented: %s\n", e.what());
}

// Attaches both ends of the pipe in the fuzz file and moves two messages.
void exercise_pipe() {
  using sk::ipc::PipeEnd;
  using sk::ipc::PipeRole;
  try {
    auto point = PipeEnd::attach(name(), PipeRole::point, false);
    auto anchor = PipeEnd::attach(name(), PipeRole::anchor, false);
    const std::vector<std::byte> small(16, std::byte{1}), large(600, std::byte{2});
    (void)anchor->send_bytes(small, 0, PipeEnd::Clock::now());
    (void)anchor->send_bytes(large, 0, PipeEnd::Clock::now());
    for (int i = 0; i < 3; ++i) {
      auto m = point->receive(PipeEnd::Clock::now());
      if (!m) break;
      const auto map = point->mapping();
      if (!m->bytes.empty() && (m->bytes.data() < map.data() ||
                                m->bytes.data() + m->bytes.size() > map.data() + map.size()))
        sk_fuzz::fail("a received pipe message points outside the mapping");
      point->consume(*m);
    }
  } catch (const sk::alloc::ArenaError& e) {
    verbose(e);
  } catch (const sk::PipeError& e) {
    verbose(e);
  } catch (const sk::core::RingCorrupt& e) {
    verbose(e);
  }
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& content, std::size_t size) {
  ::unlink(path.c_str());
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) sk_fuzz::fail("cannot create the fuzz segment file");
  if (::fchmod(fd, 0600) != 0) sk_fuzz::fail("fchmod");
  const std::size_t n = std::min(size, content.size());
  if (n != 0 && ::write(fd, content.data(), n) != static_cast<ssize_t>(n)) sk_fuzz::fail("write");
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) sk_fuzz::fail("ftruncate");
  ::close(fd);
}

void exercise(const sk::alloc::Arena& a, std::size_t file_size, bool allocate, std::uint32_t alloc_bytes) {
  const std::size_t cap = a.capacity();
  if (cap > file_size) sk_fuzz::fail("Arena::open mapped a capacity larger than the file");
  if (cap < sk::alloc::kMinCapacity) sk_fuzz::fail("Arena::open accepted a capacity below the minimum");
  // Touch every page the header claims: past the end of the file this SIGBUSes.
  unsigned sum = 0;
  for (std::size_t off = 0; off < cap; off += sk::alloc::kPageBytes)
    sum += static_cast<unsigned>(*reinterpret_cast<volatile const std::uint8_t*>(a.base() + off));
  sum += static_cast<unsigned>(*reinterpret_cast<volatile const std::uint8_t*>(a.base() + cap - 1));
  (void)sum;
  const sk::alloc::ArenaView v = a.view();
  if (v.contains(0, 1) || v.contains(sk::alloc::kHeaderBytes - 16, 16))
    sk_fuzz::fail("the arena's allocatable range includes its header");
  if (v.contains(cap, 1)) sk_fuzz::fail("the arena's allocatable range goes past its capacity");
  if (!allocate) return;
  const std::size_t n = 1 + alloc_bytes % (2 * sk::alloc::kPageBytes);
  try {
    const sk::alloc::Offset off = a.view().allocate(n, 16);
    if (!v.contains(off, n)) sk_fuzz::fail("allocate returned a block outside the arena's allocatable range");
    std::memset(a.base() + off, 0xA5, n);
    a.view().deallocate(off, n, 16);
  } catch (const sk::alloc::ArenaFull&) {
  }
}

}  // namespace

static void remove_fuzz_file() { ::unlink(sk::alloc::Arena::path_for(name()).c_str()); }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)valid_template();
  (void)pipe_template();
  sk_fuzz::on_fail = remove_fuzz_file;
  __sanitizer_set_death_callback(remove_fuzz_file);  // ASan / UBSan reports
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sk_fuzz::count("fuzz_segment_attach", size);
  sk_fuzz::Reader in(data, size);
  const std::uint8_t flags = in.u8();
  const unsigned size_mode = (flags >> 1) & 3;
  const std::uint32_t size_arg = size_mode == 1 ? in.u32() : size_mode == 3 ? in.u16() : 0;
  const std::uint32_t alloc_bytes = (flags & 16) ? in.u16() : 0;

  std::vector<std::uint8_t> content;
  const bool pipe = (flags & 32) != 0;
  if (flags & 1) {
    content = pipe ? pipe_template() : valid_template();
    while (!in.empty()) {
      const std::size_t off = in.u16() % (pipe ? 3 * sk::alloc::kHeaderBytes : sk::alloc::kHeaderBytes);
      std::size_t n = in.u8() % 64;
      const std::uint8_t* b = in.bytes(n);
      n = std::min(n, content.size() - off);
      std::memcpy(content.data() + off, b, n);
    }
  } else {
    std::size_t n = in.left();
    const std::uint8_t* b = in.bytes(n);
    content.assign(b, b + n);
  }

  std::size_t file_size = content.size();
  if (size_mode == 1) {
    file_size = size_arg % (kMaxFile + 1);
  } else if (size_mode == 2) {
    std::uint64_t claimed = 0;
    if (content.size() >= 24) std::memcpy(&claimed, content.data() + 16, sizeof claimed);
    file_size = static_cast<std::size_t>(std::min<std::uint64_t>(claimed, kMaxFile));
  } else if (size_mode == 3) {
    file_size -= std::min<std::size_t>(file_size, size_arg);
  }

  const std::string path = sk::alloc::Arena::path_for(name());
  write_file(path, content, file_size);
  try {
    (void)sk::alloc::check_segment(path, false);
    if (pipe) {
      exercise_pipe();
    } else {
      try {
        const sk::alloc::Layout want = (flags & 8) ? layout() : sk::alloc::Layout{};
        const sk::alloc::Arena a = sk::alloc::Arena::open(name(), want, std::chrono::milliseconds(1));
        exercise(a, file_size, (flags & 16) != 0, alloc_bytes);
      } catch (const sk::alloc::ArenaError& e) {
        verbose(e);  // the documented outcome for a bad segment
      }
    }
  } catch (const std::exception& e) {
    ::unlink(path.c_str());
    std::fprintf(stderr, "undocumented exception: %s\n", e.what());
    sk_fuzz::fail("segment attach threw an exception it does not document (see the top of this file)");
  }
  ::unlink(path.c_str());
  return 0;
}

#ifdef SK_FUZZ_WRITE_SEEDS
// Seed corpus writer: build with -DSK_FUZZ_WRITE_SEEDS and without
// -fsanitize=fuzzer; run with the output directory as argument.
#include <fstream>
int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const std::string dir = argv[1];
  const auto& tpl = valid_template();
  int n = 0;
  auto put = [&](std::vector<std::uint8_t> bytes) {
    std::ofstream f(dir + "/seed-" + std::to_string(n++), std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  };
  const std::vector<std::uint8_t> header(tpl.begin(), tpl.begin() + sk::alloc::kHeaderBytes);
  auto raw = [&](std::uint8_t flags, std::vector<std::uint8_t> prefix, std::size_t keep) {
    prefix.insert(prefix.begin(), flags);
    prefix.insert(prefix.end(), header.begin(), header.begin() + static_cast<std::ptrdiff_t>(keep));
    return prefix;
  };
  put({0x01 | 0x08});                                  // valid template, checked layout
  put({0x01 | 0x10, 0x40, 0x00});                      // valid template, allocate 64 bytes
  put({0x01 | 0x08, 0x10, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x40});  // capacity patched huge
  put({0x01, 0xC0, 0x02, 0x04, 2, 0, 0, 0});           // init_state patched to failed
  put({0x01 | 0x06, 0x00, 0x30});                      // template truncated by 0x3000 bytes
  put(raw(0x04 | 0x08 | 0x10, {0x20, 0x00}, header.size()));  // raw header, file = claimed capacity
  put(raw(0x00, {}, header.size()));                   // raw header only: truncated segment
  put(raw(0x00, {}, 700));                             // header cut inside the layout text
  put(raw(0x02, {0x00, 0x00, 0x10, 0x00}, 64));        // 64 header bytes, sparse 1 MiB file
  // Page heap words (the template's page 1 is a free 2-page run on a list).
  const auto u16le = [](std::size_t v) { return std::vector<std::uint8_t>{std::uint8_t(v), std::uint8_t(v >> 8)}; };
  auto patch = [&](std::uint8_t flags, std::uint16_t alloc, std::size_t off, std::vector<std::uint8_t> bytes) {
    std::vector<std::uint8_t> in{flags, std::uint8_t(alloc), std::uint8_t(alloc >> 8)};
    const auto o = u16le(off);
    in.insert(in.end(), o.begin(), o.end());
    in.push_back(static_cast<std::uint8_t>(bytes.size()));
    in.insert(in.end(), bytes.begin(), bytes.end());
    return in;
  };
  const std::size_t heap = offsetof(sk::alloc::SegmentHeader, heap);
  put({0x01 | 0x10, 0x00, 0x20});                      // allocate 8 KiB + 1: reuses the free run
  put(patch(0x11, 0x2000, 3072 + 8, {0x09, 0, 0, 0}));                    // page 1's map word: length 9
  put(patch(0x11, 0x2000, heap + offsetof(sk::alloc::PageHeap, small_top), {0x02, 0, 0, 0}));  // small_top low
  put(patch(0x11, 0x0040, heap + offsetof(sk::alloc::PageHeap, heads) + 4, {0x07, 0, 0, 0}));  // a head at the small page
  put({0x01 | 0x20});                                  // valid pipe segment: attach, send, receive
  put({0x01 | 0x20, 0x28, 0x10, 0x08, 0xff, 0xff, 0, 0, 0, 0, 0, 0});  // pipe: PipeBlock inline_max patched
  return 0;
}
#endif
