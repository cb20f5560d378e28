// The page heap (see page_heap.hpp for the design and why a SIGKILL at any
// instruction cannot make a page belong to two runs).
#include <bit>
#include <cstring>

#include <sk/alloc/owner.hpp>
#include <sk/alloc/page_heap.hpp>
#include <sk/core/backoff.hpp>

namespace sk::alloc::pages {
namespace {

// ---- page map words: [0, 32) run length in pages, [32, 40) kind, [40, 48) a mark ----
constexpr std::uint64_t kFree = 0x46, kUsed = 0x55, kTail = 0x54, kMark = 0xA5;
constexpr std::uint64_t word(std::uint64_t kind, std::uint64_t n) noexcept { return (kMark << 40) | (kind << 32) | n; }
constexpr std::uint64_t kind_of(std::uint64_t w) noexcept {
  return ((w >> 40) & 0xFF) == kMark ? (w >> 32) & 0xFF : 0;
}
constexpr std::uint64_t len_of(std::uint64_t w) noexcept { return w & 0xFFFF'FFFFULL; }

void hook(Step s) noexcept {
  if (step_hook != nullptr) step_hook(s);
}

// TLSF mapping of a run length to its list: f = floor(log2 n), s = the 3 bits
// of n below its top bit (for n < 8 the classes are exact sizes).
struct Class {
  std::uint32_t f, s;
};
constexpr Class class_of(std::uint64_t n) noexcept {  // n >= 1 (callers check map words first)
  const auto f = static_cast<std::uint32_t>(std::bit_width(n) - 1);
  return {f, static_cast<std::uint32_t>(((n << 3) >> f) - 8)};
}

// Process-local view of one heap, valid while the lock is held.
class Heap {
 public:
  Heap(SegmentHeader& h, std::byte* base) noexcept
      : h_(h), p_(h.heap), base_(base), g_(geometry(h.capacity)),
        map_(reinterpret_cast<std::uint64_t*>(base + g_.map_offset)) {}

  // ---- the lock ----------------------------------------------------------
  // Returns false if this process has no owner id (then nothing is done).
  bool lock(std::uint64_t me) noexcept {
    std::uint64_t expected = 0;
    // SYNC POINT: acquire pairs with unlock()'s release: the previous
    // holder's writes to the map, the lists and the links in free runs
    // happen-before ours. Without it we could follow a link it had not yet
    // written and hand one run out twice.
    if (p_.lock.compare_exchange_strong(expected, me, std::memory_order_acquire, std::memory_order_relaxed))
      return true;
    core::Backoff backoff;
    for (;;) {
      backoff.pause();
      expected = p_.lock.load(std::memory_order_relaxed);
      if (expected == 0) {
        // SYNC POINT: acquire, as the first attempt above (unlock()'s release).
        if (p_.lock.compare_exchange_weak(expected, me, std::memory_order_acquire, std::memory_order_relaxed))
          return true;
        continue;
      }
      // The holder may have died inside allocate/free (SIGKILL): its id no
      // longer names a live process (registry lock, not a pid), so take the
      // lock over and rebuild the lists it may have left half linked. A
      // stopped or slow holder is alive: we keep waiting.
      if (backoff.owner_check_due() && !is_alive(OwnerId::unpack(expected))) {
        // SYNC POINT: acquire as above (the dead holder's map writes).
        if (p_.lock.compare_exchange_strong(expected, me, std::memory_order_acquire, std::memory_order_relaxed)) {
          rebuild();
          return true;
        }
      }
    }
  }
  void unlock() noexcept {
    // SYNC POINT: release publishes our map, list and link writes to the
    // next holder (see lock()).
    p_.lock.store(0, std::memory_order_release);
  }

  // ---- allocate ----------------------------------------------------------
  Offset allocate(std::uint64_t n) noexcept {
    if (!sane() || n == 0 || n >= (std::uint64_t{1} << 32)) return 0;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool bad = false;
      std::uint64_t p = find(n, bad);
      if (!bad && p == 0) p = from_bump(n);
      if (!bad && p == 0) p = search_exact(n, bad);
      if (!bad && p == 0) return 0;
      if (!bad && p != kFromBump) {
        const std::uint64_t m = len_of(map_[p]);
        if (!unlink(p, m)) {
          bad = true;
        } else {
          hook(Step::alloc_unlinked);
          if (m > n) {
            set_free(p + n, m - n);  // the remainder's head and tail, not yet reachable
            hook(Step::alloc_split_written);
          }
          map_[p] = word(kUsed, n);  // the switch: [p, p+m) becomes [p, p+n) + [p+n, p+m)
          hook(Step::alloc_switched);
          if (m > n && p + m == top()) {
            // The remainder touches fresh space: lower the mark instead of
            // listing it, so that it and the fresh pages form one free range.
            h_.bump.store((p + n) * kPageBytes, std::memory_order_relaxed);
            map_[p + n] = 0;
          } else if (m > n && !link(p + n, m - n)) {
            rebuild();
          }
          return p * kPageBytes;
        }
      }
      if (p == kFromBump) return last_bump_ * kPageBytes;
      rebuild();  // a link did not match the map: repair from the map, then retry
    }
    return 0;
  }

  // ---- free --------------------------------------------------------------
  bool free(std::uint64_t p, std::uint64_t n) noexcept {
    if (!sane() || p < g_.first_page || p >= top() || map_[p] != word(kUsed, n) || n > top() - p) return false;
    set_free(p, n);  // the commit point of the free: from here the run is free
    hook(Step::free_marked);
    // Coalesce with the next run if it is free.
    const std::uint64_t q = p + n;
    if (q < top() && kind_of(map_[q]) == kFree && len_of(map_[q]) != 0 && len_of(map_[q]) <= top() - q) {
      const std::uint64_t m = len_of(map_[q]);
      if (!unlink(q, m)) return repair_after_free();
      hook(Step::merge_next_unlinked);
      set_free(p, n + m);  // the merged head (one store), then its tail
      hook(Step::merge_next_switched);
      if (m > 1) map_[q] = 0;  // the absorbed head is interior now (m == 1: the tail is there)
      n += m;
    }
    // Coalesce with the previous run if it is free: its last page holds
    // FREE(1) or TAIL(m), and the head that names must match it exactly.
    if (p > g_.first_page) {
      const std::uint64_t t = map_[p - 1];
      const std::uint64_t m = kind_of(t) == kTail ? len_of(t) : (t == word(kFree, 1) ? 1 : 0);
      if (m != 0 && m <= p - g_.first_page && map_[p - m] == word(kFree, m)) {
        const std::uint64_t s = p - m;
        if (!unlink(s, m)) return repair_after_free();
        hook(Step::merge_prev_unlinked);
        set_free(s, m + n);
        hook(Step::merge_prev_switched);
        if (n > 1) map_[p] = 0;  // (n == 1: the new tail is there)
        p = s;
        n += m;
      }
    }
    if (p + n == top()) {  // the run reaches the bump mark: give it back to fresh space
      h_.bump.store(p * kPageBytes, std::memory_order_relaxed);
      map_[p] = 0;
      return true;
    }
    if (!link(p, n)) rebuild();
    return true;
  }

  Offset allocate_small_page() noexcept {
    if (sane() && fresh_end() > top()) {
      p_.small_top = static_cast<std::uint32_t>(fresh_end() - 1);  // one store: the page is the lists' now
      return p_.small_top * kPageBytes;
    }
    return allocate(1);
  }

  Stats stats() const noexcept {
    Stats st;
    st.repairs = p_.repairs.load(std::memory_order_relaxed);
    if (!sane()) return st;
    const std::uint64_t fresh = fresh_end() - top();
    st.small_pages = g_.limit_page - fresh_end();
    st.free_pages = fresh;
    st.largest_free = fresh;
    for (std::uint64_t p = g_.first_page; p < top();) {
      const std::uint64_t w = map_[p], n = len_of(w);
      if ((kind_of(w) != kFree && kind_of(w) != kUsed) || n == 0 || n > top() - p) break;
      if (kind_of(w) == kFree) {
        st.free_pages += n;
        ++st.free_runs;
        if (n > st.largest_free) st.largest_free = n;
      } else {
        st.used_pages += n;
        ++st.used_runs;
      }
      p += n;
    }
    return st;
  }

  // Rebuilds the lists, the bitmaps and the tails from the chain of run
  // heads (merging neighbouring free runs, clearing interior words). A head
  // that cannot be right (no kind, length 0 or past the bump mark) ends the
  // walk: the pages from there on are kept as one USED run (leaked), never
  // handed out again.
  void rebuild() noexcept {
    p_.repairs.fetch_add(1, std::memory_order_relaxed);
    p_.level_map = 0;
    std::memset(p_.sub_map, 0, sizeof p_.sub_map);
    std::memset(p_.heads, 0, sizeof p_.heads);
    if (!sane()) return;
    std::uint64_t free_start = 0, free_len = 0;
    auto flush = [&] {
      if (free_len == 0) return;
      set_free(free_start, free_len);
      if (!link(free_start, free_len)) map_[free_start] = word(kUsed, free_len);  // cannot happen: lists are fresh
      free_len = 0;
    };
    const std::uint64_t end = top();
    for (std::uint64_t p = g_.first_page; p < end;) {
      std::uint64_t w = map_[p], n = len_of(w);
      if ((kind_of(w) != kFree && kind_of(w) != kUsed) || n == 0 || n > end - p) {
        n = end - p;
        w = word(kUsed, n);
        map_[p] = w;
      }
      if (n > 1) std::memset(map_ + p + 1, 0, (n - 1) * sizeof(std::uint64_t));
      if (kind_of(w) == kFree) {
        if (free_len == 0) free_start = p;
        else map_[p] = 0;
        free_len += n;
      } else {
        flush();
      }
      p += n;
    }
    if (free_len != 0 && free_start + free_len == end) {  // top free run: back to fresh space
      h_.bump.store(free_start * kPageBytes, std::memory_order_relaxed);
      map_[free_start] = 0;
      free_len = 0;
    }
    flush();
  }

 private:
  static constexpr std::uint64_t kFromBump = ~std::uint64_t{0};

  std::uint64_t top() const noexcept { return h_.bump.load(std::memory_order_relaxed) / kPageBytes; }
  // The bump mark of a damaged header: refuse to allocate rather than write
  // outside the heap's pages.
  bool sane() const noexcept {
    const std::uint64_t b = h_.bump.load(std::memory_order_relaxed);
    return b % kPageBytes == 0 && b / kPageBytes >= g_.first_page && b / kPageBytes <= fresh_end() &&
           fresh_end() <= g_.limit_page;
  }
  std::uint64_t fresh_end() const noexcept { return p_.small_top; }

  // Head first (for a merge this is the one store that switches the chain),
  // then the tail. A death between the two leaves a run without its tail:
  // only backward coalescing reads tails, and the takeover rebuilds them.
  // The tail may land on the absorbed neighbour's head (a 1-page neighbour),
  // which is interior from the switch on.
  void set_free(std::uint64_t p, std::uint64_t n) noexcept {
    map_[p] = word(kFree, n);
    if (n > 1) map_[p + n - 1] = word(kTail, n);
  }

  // ---- links: [0, 4) next, [4, 8) prev page index of the free run ----
  std::uint32_t* links(std::uint64_t p) const noexcept {
    return reinterpret_cast<std::uint32_t*>(base_ + p * kPageBytes);
  }
  // A page index read from a link or a list head names a free run of class c.
  bool is_free_run(std::uint64_t p, Class c) const noexcept {
    if (p < g_.first_page || p >= top()) return false;
    const std::uint64_t w = map_[p];
    if (kind_of(w) != kFree || len_of(w) == 0 || len_of(w) > top() - p) return false;
    const Class k = class_of(len_of(w));
    return k.f == c.f && k.s == c.s;
  }
  bool link(std::uint64_t p, std::uint64_t n) noexcept {
    const Class c = class_of(n);
    std::uint32_t& head = p_.heads[c.f][c.s];
    if (head != 0 && !is_free_run(head, c)) return false;
    links(p)[0] = head;
    links(p)[1] = 0;
    if (head != 0) links(head)[1] = static_cast<std::uint32_t>(p);
    head = static_cast<std::uint32_t>(p);
    p_.sub_map[c.f] = static_cast<std::uint8_t>(p_.sub_map[c.f] | (1u << c.s));
    p_.level_map |= 1u << c.f;
    return true;
  }
  bool unlink(std::uint64_t p, std::uint64_t n) noexcept {
    const Class c = class_of(n);
    std::uint32_t& head = p_.heads[c.f][c.s];
    const std::uint32_t next = links(p)[0], prev = links(p)[1];
    if (next != 0 && (!is_free_run(next, c) || links(next)[1] != p)) return false;
    if (prev != 0) {
      if (!is_free_run(prev, c) || links(prev)[0] != p) return false;
      links(prev)[0] = next;
    } else {
      if (head != p) return false;
      head = next;
    }
    if (next != 0) links(next)[1] = prev;
    if (head == 0) {
      p_.sub_map[c.f] = static_cast<std::uint8_t>(p_.sub_map[c.f] & ~(1u << c.s));
      if (p_.sub_map[c.f] == 0) p_.level_map &= ~(1u << c.f);
    }
    return true;
  }

  // The head of the first non-empty list whose runs all hold n pages (good
  // fit: n is rounded up to the next class boundary first).
  std::uint64_t find(std::uint64_t n, bool& bad) const noexcept {
    const auto f0 = static_cast<std::uint32_t>(std::bit_width(n) - 1);
    const std::uint64_t rounded = f0 >= 3 ? n + (std::uint64_t{1} << (f0 - 3)) - 1 : n;
    Class c = class_of(rounded);
    if (c.f >= kPageLevels) return 0;
    std::uint32_t subs = p_.sub_map[c.f] & (0xFFu << c.s);
    if (subs == 0) {
      const std::uint32_t levels = c.f + 1 < 32 ? p_.level_map & (~0u << (c.f + 1)) : 0;
      if (levels == 0) return 0;
      c.f = static_cast<std::uint32_t>(std::countr_zero(levels));
      if (c.f >= kPageLevels) return bad = true, 0;
      subs = p_.sub_map[c.f];
    }
    c.s = static_cast<std::uint32_t>(std::countr_zero(subs));
    if (c.s >= kPageSubLevels) return bad = true, 0;
    const std::uint64_t p = p_.heads[c.f][c.s];
    if (!is_free_run(p, c) || len_of(map_[p]) < n) return bad = true, 0;
    return p;
  }

  // Fresh pages above the bump mark: the head is written before the mark
  // moves past it, so a death in between leaves the pages fresh.
  std::uint64_t from_bump(std::uint64_t n) noexcept {
    const std::uint64_t t = top();
    if (n > fresh_end() - t) return 0;
    map_[t] = word(kUsed, n);
    hook(Step::bump_head_written);
    h_.bump.store((t + n) * kPageBytes, std::memory_order_relaxed);
    last_bump_ = t;
    return kFromBump;
  }

  // Last resort before ArenaFull: the list of n's own class may hold a run
  // of n pages or more that the good-fit rounding skipped. Walks that one
  // list (bounded by the number of pages, against a damaged cycle).
  std::uint64_t search_exact(std::uint64_t n, bool& bad) const noexcept {
    const Class c = class_of(n);
    std::uint64_t p = p_.heads[c.f][c.s];
    for (std::uint64_t steps = 0; p != 0; ++steps) {
      if (steps > g_.limit_page || !is_free_run(p, c)) return bad = true, 0;
      if (len_of(map_[p]) >= n) return p;
      p = links(p)[0];
    }
    return 0;
  }

  bool repair_after_free() noexcept {
    rebuild();  // the run is marked FREE already; the walk links it
    return true;
  }

  SegmentHeader& h_;
  PageHeap& p_;
  std::byte* base_;
  Geometry g_;
  std::uint64_t* map_;
  std::uint64_t last_bump_ = 0;
};

std::uint64_t owner_word() noexcept { return registered_owner(); }

}  // namespace

Geometry geometry(std::uint64_t capacity) noexcept {
  const std::uint64_t total = capacity / kPageBytes;
  const std::uint64_t map_bytes = total * sizeof(std::uint64_t);
  if (map_bytes <= kHeaderBytes - kMapInHeader) return {kMapInHeader, 1, total};
  const std::uint64_t map_pages = (map_bytes + kPageBytes - 1) / kPageBytes;
  return {(total - map_pages) * kPageBytes, 1, total - map_pages};
}

Offset allocate(SegmentHeader& h, std::byte* base, std::uint64_t pages) {
  std::uint64_t me = owner_word();
  if (me == 0) me = self_owner().pack();  // throws OwnerRegistryError saying why not
  Heap heap(h, base);
  heap.lock(me);
  const Offset off = heap.allocate(pages);
  heap.unlock();
  return off;
}

Offset allocate_small_page(SegmentHeader& h, std::byte* base) {
  std::uint64_t me = owner_word();
  if (me == 0) me = self_owner().pack();
  Heap heap(h, base);
  heap.lock(me);
  const Offset off = heap.allocate_small_page();
  heap.unlock();
  return off;
}

bool free(SegmentHeader& h, std::byte* base, Offset off, std::uint64_t pages) noexcept {
  const std::uint64_t me = owner_word();
  if (me == 0 || off % kPageBytes != 0) return false;  // no owner id: the run leaks rather than risk the lock
  Heap heap(h, base);
  heap.lock(me);
  const bool ok = heap.free(off / kPageBytes, pages);
  heap.unlock();
  return ok;
}

Stats stats(SegmentHeader& h, std::byte* base) noexcept {
  const std::uint64_t me = owner_word();
  Heap heap(h, base);
  if (me == 0) return heap.stats();  // best effort without the lock
  heap.lock(me);
  const Stats st = heap.stats();
  heap.unlock();
  return st;
}

void init(SegmentHeader& h) noexcept {
  h.heap.lock.store(0, std::memory_order_relaxed);
  h.heap.repairs.store(0, std::memory_order_relaxed);
  h.heap.level_map = 0;
  h.heap.small_top = static_cast<std::uint32_t>(geometry(h.capacity).limit_page);
  std::memset(h.heap.sub_map, 0, sizeof h.heap.sub_map);
  std::memset(h.heap.heads, 0, sizeof h.heap.heads);
  h.bump.store(geometry(h.capacity).first_page * kPageBytes, std::memory_order_relaxed);
}

}  // namespace sk::alloc::pages
