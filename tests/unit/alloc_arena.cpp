// Arena: allocation, reuse, alignment, ArenaFull, root, views, construction
// scope, named create/open in one process. No fork here (runs under TSan).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <sk/alloc/arena.hpp>
#include <sk/alloc/block_allocator.hpp>
#include <sk/alloc/header.hpp>

using namespace sk::alloc;

namespace {

std::string unique_name(const char* what) { return "ut-" + std::to_string(::getpid()) + "-" + what; }

struct NameGuard {
  std::string name;
  explicit NameGuard(std::string n) : name(std::move(n)) { Arena::unlink(name); }
  ~NameGuard() { Arena::unlink(name); }
};

}  // namespace

TEST(Arena, unit_allocate_free_reuse) {
  Arena a = Arena::create_anonymous(1 << 20);
  ASSERT_TRUE(a);
  EXPECT_EQ(a.used(), 0u);
  EXPECT_EQ(a.name(), "");
  const Offset x = a.allocate(64);
  EXPECT_NE(x, 0u);
  EXPECT_GE(x, kHeaderBytes);
  EXPECT_EQ(a.used(), 64u);
  a.deallocate(x, 64);
  EXPECT_EQ(a.used(), 0u);
  EXPECT_EQ(a.allocate(64), x);  // LIFO reuse of the freed block
  EXPECT_EQ(a.used(), 64u);
  // Same size class (33..64 B) reuses too.
  a.deallocate(x, 64);
  EXPECT_EQ(a.allocate(40), x);
}

TEST(Arena, unit_blocks_are_distinct_and_writable) {
  Arena a = Arena::create_anonymous(8 << 20);
  std::mt19937 rng(42);
  std::map<Offset, std::size_t> live;  // offset -> bytes
  for (int i = 0; i < 4000; ++i) {
    if (!live.empty() && rng() % 3 == 0) {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      // The block still holds the pattern we wrote (nobody else got it).
      const auto* p = a.ptr<unsigned char>(it->first);
      for (std::size_t k = 0; k < it->second; ++k) ASSERT_EQ(p[k], static_cast<unsigned char>(it->first >> 4));
      a.deallocate(it->first, it->second);
      live.erase(it);
      continue;
    }
    const std::size_t bytes = 1 + rng() % (rng() % 8 == 0 ? 20000 : 300);
    const Offset off = a.allocate(bytes);
    ASSERT_TRUE(a.view().contains(off, bytes));
    std::memset(a.ptr<void>(off), static_cast<int>(static_cast<unsigned char>(off >> 4)), bytes);
    live[off] = bytes;
  }
  // No two live blocks overlap.
  Offset end = 0;
  for (auto [off, bytes] : live) {
    EXPECT_GE(off, end);
    end = off + bytes;
  }
  std::size_t expect_used = 0;
  for (auto [off, bytes] : live) expect_used += blocks::block_size(bytes, 16);
  EXPECT_EQ(a.used(), expect_used);
}

TEST(Arena, unit_alignment) {
  Arena a = Arena::create_anonymous(4 << 20);
  for (std::size_t align = 1; align <= 4096; align <<= 1) {
    for (std::size_t bytes : {1u, 7u, 16u, 100u, 3000u, 5000u}) {
      const Offset off = a.allocate(bytes, align);
      EXPECT_EQ(off % align, 0u) << "bytes " << bytes << " align " << align;
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(a.ptr<void>(off)) % align, 0u);
      EXPECT_EQ(off % 16, 0u);
    }
  }
  EXPECT_THROW(a.allocate(8, 3), ArenaError);
  EXPECT_THROW(a.allocate(8, 8192), ArenaError);
  try {
    a.allocate(8, 8192);
  } catch (const ArenaError& e) {
    EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
  }
}

TEST(Arena, unit_large_blocks_split_and_reuse) {
  Arena a = Arena::create_anonymous(1 << 20);
  const Offset big = a.allocate(3 * kPageBytes);
  EXPECT_EQ(big % kPageBytes, 0u);
  EXPECT_EQ(a.used(), 3 * kPageBytes);
  a.deallocate(big, 3 * kPageBytes);
  EXPECT_EQ(a.used(), 0u);
  // The freed 3-page run went back to fresh space (it was the top run); a
  // 2-page request takes its start and a 1-page request the third page.
  const Offset two = a.allocate(2 * kPageBytes);
  EXPECT_EQ(two, big);
  const Offset one = a.allocate(kPageBytes);
  EXPECT_EQ(one, big + 2 * kPageBytes);
}

TEST(Arena, unit_small_from_split_page_when_bump_is_exhausted) {
  Arena a = Arena::create_anonymous(kMinCapacity);  // one data page
  const Offset page = a.allocate(kPageBytes);
  EXPECT_THROW(a.allocate(16), ArenaFull);
  a.deallocate(page, kPageBytes);
  // The only free space is that page: small blocks are carved out of it.
  std::vector<Offset> got;
  for (int i = 0; i < 4096 / 64; ++i) got.push_back(a.allocate(64));
  EXPECT_THROW(a.allocate(64), ArenaFull);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(std::unique(got.begin(), got.end()), got.end());
  EXPECT_EQ(got.front(), page);
  EXPECT_EQ(got.back(), page + kPageBytes - 64);
}

TEST(Arena, unit_full_message_names_arena_capacity_used_request) {
  Arena a = Arena::create_anonymous(64 << 10);
  std::size_t n = 0;
  try {
    for (;; ++n) a.allocate(1000);
  } catch (const ArenaFull& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("anonymous arena is full"), std::string::npos) << m;
    EXPECT_NE(m.find("capacity 65536 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("used " + std::to_string(a.used()) + " bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("request 1000 bytes"), std::string::npos) << m;
    EXPECT_NE(m.find("larger capacity"), std::string::npos) << m;
  }
  EXPECT_GT(n, 50u);
  EXPECT_THROW(a.allocate(1 << 20), ArenaFull);

  NameGuard g(unique_name("full"));
  Arena b = Arena::create(g.name, 16 << 10);
  try {
    b.allocate(1 << 20);
    ADD_FAILURE() << "expected ArenaFull";
  } catch (const ArenaFull& e) {
    EXPECT_NE(std::string(e.what()).find("arena '" + g.name + "' is full"), std::string::npos) << e.what();
  }
}

TEST(Arena, unit_capacity_limits) {
  EXPECT_THROW(Arena::create_anonymous(std::size_t{1} << 40), ArenaError);
  Arena tiny = Arena::create_anonymous(1);
  EXPECT_EQ(tiny.capacity(), kMinCapacity);
  Arena odd = Arena::create_anonymous(100'000);
  EXPECT_EQ(odd.capacity() % kPageBytes, 0u);
  EXPECT_GE(odd.capacity(), 100'000u);
}

TEST(Arena, unit_root) {
  Arena a = Arena::create_anonymous(1 << 16);
  EXPECT_EQ(a.root(), 0u);
  const Offset x = a.allocate(32);
  a.set_root(x);
  EXPECT_EQ(a.root(), x);
  Offset expected = 0;
  EXPECT_FALSE(a.view().compare_exchange_root(expected, 16));
  EXPECT_EQ(expected, x);
  EXPECT_TRUE(a.view().compare_exchange_root(expected, 0));
  EXPECT_EQ(a.root(), 0u);
}

TEST(Arena, unit_views_and_offsets) {
  Arena a = Arena::create_anonymous(1 << 16);
  ArenaView v = a.view();
  EXPECT_TRUE(v);
  EXPECT_FALSE(ArenaView{});
  EXPECT_EQ(v.base(), a.base());
  EXPECT_EQ(v.capacity(), a.capacity());
  EXPECT_EQ(a.ptr_or_null<int>(0), nullptr);
  EXPECT_EQ(a.ptr<std::byte>(0), a.base());
  EXPECT_EQ(a.offset_of(nullptr), 0u);
  const Offset off = a.allocate(sizeof(long));
  long* p = a.ptr<long>(off);
  EXPECT_EQ(a.offset_of(p), off);
  EXPECT_EQ(ArenaView::of(p, off), v);
  EXPECT_EQ(ArenaView::of(p, off).base(), a.base());
  // A view allocates from the same arena.
  const Offset w = v.allocate(100);
  EXPECT_EQ(a.used(), 16u + 128u);
  v.deallocate(w, 100);
  EXPECT_EQ(a.used(), 16u);
  EXPECT_THROW(ArenaView{}.allocate(8), ArenaError);
}

namespace {
struct SelfAware {
  Offset self = 0;
  ArenaView arena;
  int value;
  explicit SelfAware(int v) : value(v) {
    const ArenaView* a = constructing_arena();
    if (a) {
      self = a->offset_of(this);
      arena = *a;
    }
  }
};
struct Thrower {
  Thrower() { throw std::runtime_error("no"); }
};
}  // namespace

TEST(Arena, unit_construction_scope) {
  EXPECT_EQ(constructing_arena(), nullptr);
  Arena a = Arena::create_anonymous(1 << 16);
  const Offset off = a.create_object<SelfAware>(7);
  auto* s = a.ptr<SelfAware>(off);
  EXPECT_EQ(s->self, off);
  EXPECT_EQ(s->value, 7);
  EXPECT_EQ(ArenaView::of(s, s->self).base(), a.base());
  EXPECT_EQ(constructing_arena(), nullptr);

  Arena b = Arena::create_anonymous(1 << 16);
  {
    ConstructionScope outer(a.view());
    EXPECT_EQ(constructing_arena()->base(), a.base());
    {
      ConstructionScope inner(b.view());
      EXPECT_EQ(constructing_arena()->base(), b.base());
    }
    EXPECT_EQ(constructing_arena()->base(), a.base());
  }
  EXPECT_EQ(constructing_arena(), nullptr);

  const std::size_t before = a.used();
  EXPECT_THROW(a.create_object<Thrower>(), std::runtime_error);
  EXPECT_EQ(a.used(), before);  // the block was given back
  EXPECT_EQ(constructing_arena(), nullptr);
  a.destroy_object<SelfAware>(off);
  EXPECT_EQ(a.used(), before - blocks::block_size(sizeof(SelfAware), 16));
}

TEST(Arena, unit_copies_share_the_mapping) {
  Arena a = Arena::create_anonymous(1 << 16);
  Offset off = a.allocate(16);
  *a.ptr<int>(off) = 5;
  Arena b = a;
  a = Arena{};
  EXPECT_FALSE(a);
  EXPECT_EQ(*b.ptr<int>(off), 5);
  Arena c = std::move(b);
  EXPECT_EQ(*c.ptr<int>(off), 5);
}

TEST(Arena, unit_init_runs_before_ready_and_sets_root) {
  NameGuard g(unique_name("init"));
  Arena a = Arena::create(g.name, 1 << 16, {7, "Counter{int}"}, [](Arena& ar) {
    const Offset o = ar.allocate(sizeof(int));
    *ar.ptr<int>(o) = 41;
    ar.set_root(o);
  });
  EXPECT_EQ(a.name(), g.name);
  EXPECT_EQ(a.view().name(), g.name);
  Arena b = Arena::open(g.name, {7, "Counter{int}"});
  EXPECT_NE(b.base(), a.base());  // a second mapping of the same segment
  EXPECT_EQ(*b.ptr<int>(b.root()), 41);
  ++*b.ptr<int>(b.root());
  EXPECT_EQ(*a.ptr<int>(a.root()), 42);
  EXPECT_EQ(a.attached().size(), 2u);
  EXPECT_EQ(a.creator(), self_owner());
  b = Arena{};
  EXPECT_EQ(a.attached().size(), 1u);
  // Layout hash 0 on open = unchecked.
  EXPECT_NO_THROW(Arena::open(g.name));
}

TEST(Arena, unit_init_failure_removes_segment_and_propagates) {
  NameGuard g(unique_name("initfail"));
  EXPECT_THROW(Arena::create(g.name, 1 << 16, {}, [](Arena&) { throw std::runtime_error("boom"); }),
               std::runtime_error);
  EXPECT_FALSE(Arena::exists(g.name));
  EXPECT_NO_THROW(Arena::create(g.name, 1 << 16));
}

TEST(Arena, unit_create_existing_in_use_throws) {
  NameGuard g(unique_name("dup"));
  Arena a = Arena::create(g.name, 1 << 16);
  try {
    Arena::create(g.name, 1 << 16);
    ADD_FAILURE() << "expected SegmentError";
  } catch (const SegmentError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("already exists and is in use"), std::string::npos) << m;
    EXPECT_NE(m.find("by pid " + std::to_string(::getpid())), std::string::npos) << m;
  }
}

TEST(Arena, unit_unlink_keeps_mappings_valid) {
  NameGuard g(unique_name("unlink"));
  Arena a = Arena::create(g.name, 1 << 16);
  const Offset o = a.allocate(16);
  *a.ptr<int>(o) = 3;
  Arena::unlink(g.name);
  EXPECT_FALSE(Arena::exists(g.name));
  EXPECT_EQ(*a.ptr<int>(o), 3);
  EXPECT_NO_THROW(Arena::unlink(g.name));  // absent: no error
  EXPECT_THROW(Arena::open(g.name), SegmentError);
}

// Regression (found by tests/fuzz/fuzz_segment_attach): allocator words that
// point into the header, off the block grid or past the end (a tampered file,
// or a free block overwritten after a double free) are refused: allocate()
// returns blocks inside the allocatable range or throws ArenaFull, never the
// header or memory past the mapping.
// Above 512 KiB the page map lives in the arena's last pages: a small
// free-list head that points there must not be handed out (its user would
// overwrite the map). Before the fix, pop() bounded heads by the capacity.
TEST(Arena, unit_small_free_head_in_the_page_map_is_refused) {
  Arena a = Arena::create_anonymous(4 << 20);
  SegmentHeader& h = *header_of(a.base());
  const Offset map_start = a.capacity() - kPageBytes;  // the map's last page
  ASSERT_FALSE(a.view().contains(map_start, 16));
  h.small_free[0].word.store(map_start / kMinBlock);
  const Offset off = a.allocate(16);
  EXPECT_NE(off, map_start);
  EXPECT_TRUE(a.view().contains(off, 16)) << off;
}

// A damaged free-list head that names a live block (found by
// tests/fuzz/fuzz_segment_attach: it named a Pipe's ring, whose header the
// next message then overwrote) is refused: the block is never handed out
// twice, and allocation goes on from other memory.
TEST(Arena, unit_small_free_head_naming_a_live_block_is_refused) {
  Arena a = Arena::create_anonymous(64 * 1024);
  SegmentHeader& h = *header_of(a.base());
  const Offset live = a.allocate(64);
  std::memset(a.base() + live, 0x5A, 64);  // its owner's data
  h.small_free[2].word.store(live / kMinBlock);  // class 2: 64-byte blocks
  for (int i = 0; i < 10; ++i) {
    const Offset off = a.allocate(64);
    EXPECT_NE(off, live);
    EXPECT_TRUE(a.view().contains(off, 64));
  }
  EXPECT_EQ(a.base()[live + 63], std::byte{0x5A});
}

TEST(Arena, unit_corrupt_allocator_words_are_refused) {
  Arena a = Arena::create_anonymous(64 * 1024);
  SegmentHeader& h = *header_of(a.base());
  h.small_free[0].word.store(1);                                  // offset 16: inside the header
  h.small_free[7].word.store((a.capacity() - 16) / kMinBlock);    // a 2 KiB block 16 bytes before the end
  h.heap.heads[0][0] = static_cast<std::uint32_t>(a.capacity() / kPageBytes - 1);  // last page: not a free run
  h.heap.sub_map[0] = 1;
  h.heap.level_map = 1;
  h.heap.heads[3][0] = 0xFFFF'FFF0u;  // far past the end
  h.heap.sub_map[3] = 1;
  h.heap.level_map |= 1u << 3;
  for (std::size_t n : {std::size_t{16}, std::size_t{2048}, std::size_t{4096}, std::size_t{8 * 4096}}) {
    const Offset off = a.allocate(n);
    EXPECT_TRUE(a.view().contains(off, n)) << n << " bytes at " << off;
  }
  h.bump.store(kHeaderBytes + 8);  // off the page grid
  for (auto& f : h.small_free) f.word.store(0);
  EXPECT_THROW(a.allocate(16), ArenaFull);
  h.bump.store(16);  // inside the header
  EXPECT_THROW(a.allocate(16), ArenaFull);
}
