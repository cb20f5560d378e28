// Arena allocator across processes: forked children of an anonymous arena,
// and a named arena created by the parent and opened by exec'd and forked
// children.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/block_allocator.hpp>
#include <sk/alloc/header.hpp>

#include "alloc_fork.hpp"

using namespace sk::alloc;

namespace {

constexpr const char* kChildEnv = "SK_ALLOC_PROCS_CHILD";
constexpr int kIncrements = 100'000;
const Layout kLayout{0xC0FFEE, "Counter{hits:atomic<u64>}"};

struct Counter {
  std::atomic<std::uint64_t> hits{0};
};

// What every process that opens the named arena does: bump the counter and
// churn some blocks. Returns 0 on success.
int work_on_named(const std::string& name) {
  Arena a = Arena::open(name, kLayout);
  bool registered = false;
  for (OwnerId o : a.attached()) registered |= o == self_owner();
  if (!registered) return 3;
  auto* c = a.ptr<Counter>(a.root());
  std::vector<Offset> mine;
  for (int i = 0; i < kIncrements; ++i) {
    c->hits.fetch_add(1, std::memory_order_relaxed);
    if (i % 16 == 0) mine.push_back(a.allocate(48));
    if (mine.size() > 8) {
      a.deallocate(mine.front(), 48);
      mine.erase(mine.begin());
    }
  }
  for (Offset o : mine) a.deallocate(o, 48);
  return 0;
}

// An exec'd copy of this binary runs as a child when kChildEnv is set
// (before gtest's main ever runs).
[[maybe_unused]] const int kChildHook = [] {
  if (const char* name = std::getenv(kChildEnv)) {
    int rc = 4;
    try {
      rc = work_on_named(name);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "exec'd child: %s\n", e.what());
    }
    std::fflush(nullptr);
    ::_exit(rc);
  }
  return 0;
}();

pid_t spawn_exec(const std::string& name) {
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv(kChildEnv, name.c_str(), 1);
    char self[] = "/proc/self/exe";
    char* argv[] = {self, nullptr};
    ::execv("/proc/self/exe", argv);
    ::_exit(5);
  }
  return pid;
}

// One bit per 16 B unit, living in the arena itself so all processes share it.
struct SharedOwnership {
  static constexpr std::size_t kWords = (1u << 20) / kMinBlock / 64;  // covers a 1 MiB arena
  std::atomic<std::uint64_t> bits[kWords];
  bool claim(Offset off, std::size_t bytes) {
    bool ok = true;
    for (std::size_t u = off / kMinBlock; u < (off + bytes) / kMinBlock; ++u) {
      const std::uint64_t bit = std::uint64_t{1} << (u % 64);
      if (bits[u / 64].fetch_or(bit, std::memory_order_relaxed) & bit) ok = false;
    }
    return ok;
  }
  void release(Offset off, std::size_t bytes) {
    for (std::size_t u = off / kMinBlock; u < (off + bytes) / kMinBlock; ++u)
      bits[u / 64].fetch_and(~(std::uint64_t{1} << (u % 64)), std::memory_order_relaxed);
  }
};

}  // namespace

TEST(Arena, procs_4_alloc_free) {
  Arena a = Arena::create_anonymous(1 << 20);
  const Offset own_off = a.create_object<SharedOwnership>();
  const std::size_t baseline = a.used();
  std::vector<pid_t> kids;
  for (int k = 0; k < 4; ++k) {
    kids.push_back(alloctest::spawn([&, k] {
      auto* own = a.ptr<SharedOwnership>(own_off);
      std::mt19937_64 rng(99 + k);
      struct H {
        Offset off;
        std::size_t bytes;
        std::uint32_t tag;
      };
      std::vector<H> held;
      for (int i = 0; i < 50'000; ++i) {
        if (!held.empty() && (held.size() > 32 || rng() % 2)) {
          const H h = held.back();
          held.pop_back();
          for (std::size_t j = 0; j < h.bytes / 4; ++j)
            if (a.ptr<std::uint32_t>(h.off)[j] != h.tag) return false;
          own->release(h.off, blocks::block_size(h.bytes, 16));
          a.deallocate(h.off, h.bytes);
          continue;
        }
        const std::size_t bytes = rng() % 10 == 0 ? 4096 * (1 + rng() % 3) : 4 * (1 + rng() % 128);
        try {
          const H h{a.allocate(bytes), bytes, static_cast<std::uint32_t>((k << 24) | i)};
          if (!own->claim(h.off, blocks::block_size(bytes, 16))) return false;
          for (std::size_t j = 0; j < bytes / 4; ++j) a.ptr<std::uint32_t>(h.off)[j] = h.tag;
          held.push_back(h);
        } catch (const ArenaFull&) {
        }
      }
      for (const H& h : held) {
        own->release(h.off, blocks::block_size(h.bytes, 16));
        a.deallocate(h.off, h.bytes);
      }
      return true;
    }));
  }
  for (pid_t p : kids) EXPECT_EQ(alloctest::reap(p), 0);
  EXPECT_EQ(a.used(), baseline);  // every child gave back what it took
}

TEST(Arena, procs_named_create_in_parent_open_in_exec_and_forked_children) {
  const std::string name = "pt-" + std::to_string(::getpid()) + "-named";
  Arena::unlink(name);
  Arena a = Arena::create(name, 1 << 20, kLayout,
                          [](Arena& ar) { ar.set_root(ar.create_object<Counter>()); });
  std::vector<pid_t> kids = {spawn_exec(name), spawn_exec(name),
                             alloctest::spawn([&] { return work_on_named(name) == 0; })};
  auto* c = a.ptr<Counter>(a.root());
  for (int i = 0; i < kIncrements; ++i) c->hits.fetch_add(1, std::memory_order_relaxed);
  for (pid_t p : kids) EXPECT_EQ(alloctest::reap(p), 0);
  EXPECT_EQ(c->hits.load(), 4u * kIncrements);
  EXPECT_EQ(a.used(), blocks::block_size(sizeof(Counter), 16));
  // Exec'd children that exited normally gave their attach slots back;
  // only the parent's remains.
  EXPECT_EQ(a.attached().size(), 1u);
  Arena::unlink(name);
}
