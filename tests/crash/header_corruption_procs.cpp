// A named Share whose segment header was damaged (issue #14: 6 of 2,000
// randomly corrupted headers crashed the opener with SIGSEGV). Every header
// word patched to each hostile value: Share::open either refuses it with an
// sk::Error, or opens it and then every operation either works or throws an
// sk::Error. Never a signal. Each attempt runs in its own child.
//
// Contention: 1 opener at a time (the creator only creates and patches).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <sk/alloc/header.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/list.hpp>
#include <sk/slots/object.hpp>
#include <sk/slots/value.hpp>

#include "test_fork.hpp"

namespace {

struct State {
  sk::Atomic<long> n;
  sk::Value<long> v;
  sk::Object<std::string> text;
  sk::List<int> items;
};
SK_SHARE(State, n, v, text, items);

struct Word {
  const char* name;
  std::size_t offset;
  std::size_t width;  // 4 or 8
};

// Child: open and use the damaged Share. 0 = refused with an sk::Error or
// worked, 1 = an exception that is not an sk::Error; a signal shows as such.
int open_and_use(const std::string& name) {
  try {
    auto s = sk::Share<State>::open(name, std::chrono::milliseconds(200));
    try {
      s->n += 1;
      s->v.store(2);
      s->text.store(std::string(3000, 'x'));
      for (int i = 0; i < 300; ++i) s->items.append(i);
      (void)s->items.snapshot();
      (void)s->text.load();
    } catch (const sk::Error&) {
    }
    return 0;
  } catch (const sk::Error&) {
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "not an sk::Error: %s\n", e.what());
    return 1;
  }
}

}  // namespace

TEST(HeaderCorruption, procs_every_header_word_hostile_gives_an_exception_never_a_signal) {
  using sk::alloc::SegmentHeader;
  const std::string name = "hdr-corrupt-" + std::to_string(::getpid());
  const std::vector<Word> words = {
      {"magic", offsetof(SegmentHeader, magic), 8},
      {"version", offsetof(SegmentHeader, version), 4},
      {"header_bytes", offsetof(SegmentHeader, header_bytes), 4},
      {"capacity", offsetof(SegmentHeader, capacity), 8},
      {"data_start", offsetof(SegmentHeader, data_start), 8},
      {"init_state", offsetof(SegmentHeader, init_state), 4},
      {"bump", offsetof(SegmentHeader, bump), 8},
      {"used", offsetof(SegmentHeader, used), 8},
      {"root", offsetof(SegmentHeader, root), 8},
      {"small_free[0]", offsetof(SegmentHeader, small_free), 8},
      {"small_free[7]", offsetof(SegmentHeader, small_free) + 7 * 64, 8},
      {"heap.lock", offsetof(SegmentHeader, heap), 8},
      {"heap.level_map", offsetof(SegmentHeader, heap) + offsetof(sk::alloc::PageHeap, level_map), 4},
      {"heap.sub_map[0]", offsetof(SegmentHeader, heap) + offsetof(sk::alloc::PageHeap, sub_map), 8},
      {"heap.heads[0]", offsetof(SegmentHeader, heap) + offsetof(sk::alloc::PageHeap, heads), 8},
      {"heap.heads[3][2]", offsetof(SegmentHeader, heap) + offsetof(sk::alloc::PageHeap, heads) + 26 * 4, 4},
      {"attach[0]", offsetof(SegmentHeader, attach), 8},
      {"creator", offsetof(SegmentHeader, creator), 8},
  };
  int attempts = 0;
  for (const Word& w : words) {
    // Fresh segment per word, so that its allocator words are real ones.
    auto share = sk::Share<State>::create(name, 1 << 20);
    share->text.store(std::string(5000, 'a'));  // a page block, later freed
    share->text.store("b");
    for (int i = 0; i < 100; ++i) share->items.append(i);
    const std::string path = sk::alloc::Arena::path_for(name);
    const int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    std::uint64_t real = 0;
    ASSERT_EQ(::pread(fd, &real, w.width, static_cast<off_t>(w.offset)), static_cast<ssize_t>(w.width));
    const std::uint64_t cap = share.arena().capacity();
    // Zero, past the end, below what is allocated, unaligned; for free-list
    // heads (offsets in 16-byte units, tag above) also the last unit and one
    // past it.
    std::uint64_t bump = 0;
    ASSERT_EQ(::pread(fd, &bump, 8, static_cast<off_t>(offsetof(SegmentHeader, bump))), 8);
    const std::vector<std::uint64_t> hostile = {0,        cap * 2,           cap + 16,
                                                4096,     bump - 16,         real + 1,
                                                ~std::uint64_t{0}, 0x8000'0000'0000'0000ULL, cap / 16 - 1,
                                                (cap / 16) | (std::uint64_t{5} << 32)};
    for (const std::uint64_t bad : hostile) {
      ASSERT_EQ(::pwrite(fd, &bad, w.width, static_cast<off_t>(w.offset)), static_cast<ssize_t>(w.width));
      std::fflush(nullptr);
      const pid_t pid = sktest::fork();
      if (pid == 0) _exit(open_and_use(name));
      int st = 0;
      ASSERT_EQ(::waitpid(pid, &st, 0), pid);
      EXPECT_TRUE(WIFEXITED(st)) << w.name << " = " << bad << ": the opener died of signal "
                                 << (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
      if (WIFEXITED(st)) {
        EXPECT_EQ(WEXITSTATUS(st), 0) << w.name << " = " << bad;
      }
      ASSERT_EQ(::pwrite(fd, &real, w.width, static_cast<off_t>(w.offset)), static_cast<ssize_t>(w.width));
      ++attempts;
    }
    ::close(fd);
    sk::Share<State>::unlink(name);
  }
  EXPECT_EQ(attempts, static_cast<int>(words.size()) * 10);
}
