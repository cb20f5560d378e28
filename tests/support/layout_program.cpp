// A small program built several times from this one source, once per layout
// of its shared struct `shop::Orders` (SK_LAYOUT_V, set by tests/CMakeLists.txt):
//   1: count:int, filled:int, total:long      (the reference layout)
//   2: filled, count, total                   (a member reordered)
//   3: count widened to long                  (a member's type widened)
//   4: V1 plus cancelled:int                  (a member added)
//   5: count renamed to placed                (a member renamed)
//   6: V1 plus last:Value<Price{qty, cents}>  (a nested struct, with SK_FIELDS)
//   7: V1 plus last:Value<Price{cents, qty}>  (its fields reordered)
// SK_LAYOUT_TWIN=1 with SK_LAYOUT_V=1 is the reference layout in a program
// that differs otherwise (it creates its arenas with another capacity).
// The Pipe message type `shop::OrderMsg` follows the same changes (V2: fields
// reordered, V3: count widened, V4: a field added, V5: renamed).
// tests/unit/layout_mismatch_procs.cpp runs the builds against each other.
//
// Usage (NAME is a segment name; values are printed as "values COUNT FILLED TOTAL",
// then by 6 and 7 "last qty QTY cents CENTS"):
//   layout                          print "layout 0x<hash> <description>"
//   serve NAME COUNT FILLED TOTAL   create the Share, print "ready", wait for EOF on
//                                   stdin, print the values and "attached N", unlink
//   read NAME                       open the Share and print its values
//   add NAME                        open it, count += 1, print the values
//   create NAME                     create it (and unlink it again if that worked)
//   pipe-serve NAME                 create a named Pipe, print "ready", receive one
//                                   OrderMsg (print "msg ..." or the exception) and
//                                   then one std::string (print "then <text>")
//   pipe-send NAME                  attach, send OrderMsg{7, 3, 1234567890123}, then "end"
//   pipe-send-other NAME            attach, send Refund{99}, then "end"
// Exit codes: 0 ok, 2 usage, 10 LayoutMismatch, 11 other BadSegment, 12 other
// SegmentError, 13 TypeMismatch, 14 other DecodeError, 15 other sk::Error,
// 16 other exception. An exception's type and what() are printed on stdout.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <sk/alloc/errors.hpp>
#include <sk/ipc/ser_errors.hpp>
#include <sk/pipe.hpp>
#include <sk/share.hpp>
#include <sk/slots/atomic.hpp>
#include <sk/slots/value.hpp>

#ifndef SK_LAYOUT_V
#error "build with -DSK_LAYOUT_V=1..7"
#endif

namespace shop {

#if SK_LAYOUT_V == 1
struct Orders {
  sk::Atomic<int> count;
  sk::Atomic<int> filled;
  sk::Atomic<long> total;
};
SK_SHARE(Orders, count, filled, total);
struct OrderMsg {
  int count = 0;
  int filled = 0;
  long total = 0;
  SK_FIELDS(count, filled, total)
};
#elif SK_LAYOUT_V == 2
struct Orders {
  sk::Atomic<int> filled;
  sk::Atomic<int> count;
  sk::Atomic<long> total;
};
SK_SHARE(Orders, filled, count, total);
struct OrderMsg {
  int filled = 0;
  int count = 0;
  long total = 0;
  SK_FIELDS(filled, count, total)
};
#elif SK_LAYOUT_V == 3
struct Orders {
  sk::Atomic<long> count;
  sk::Atomic<int> filled;
  sk::Atomic<long> total;
};
SK_SHARE(Orders, count, filled, total);
struct OrderMsg {
  long count = 0;
  int filled = 0;
  long total = 0;
  SK_FIELDS(count, filled, total)
};
#elif SK_LAYOUT_V == 4
struct Orders {
  sk::Atomic<int> count;
  sk::Atomic<int> filled;
  sk::Atomic<long> total;
  sk::Atomic<int> cancelled;
};
SK_SHARE(Orders, count, filled, total, cancelled);
struct OrderMsg {
  int count = 0;
  int filled = 0;
  long total = 0;
  int cancelled = 0;
  SK_FIELDS(count, filled, total, cancelled)
};
#elif SK_LAYOUT_V == 5
struct Orders {
  sk::Atomic<int> placed;
  sk::Atomic<int> filled;
  sk::Atomic<long> total;
};
SK_SHARE(Orders, placed, filled, total);
struct OrderMsg {
  int placed = 0;
  int filled = 0;
  long total = 0;
  SK_FIELDS(placed, filled, total)
};
#elif SK_LAYOUT_V == 6 || SK_LAYOUT_V == 7
// V1 plus a Value of a nested struct whose fields differ (only) in order.
struct Price {
#if SK_LAYOUT_V == 6
  int qty = 0;
  int cents = 0;
  SK_FIELDS(qty, cents)
#else
  int cents = 0;
  int qty = 0;
  SK_FIELDS(cents, qty)
#endif
};
struct Orders {
  sk::Atomic<int> count;
  sk::Atomic<int> filled;
  sk::Atomic<long> total;
  sk::Value<Price> last;
};
SK_SHARE(Orders, count, filled, total, last);
struct OrderMsg {
  int count = 0;
  int filled = 0;
  long total = 0;
  SK_FIELDS(count, filled, total)
};
#else
#error "SK_LAYOUT_V must be 1..7"
#endif

// Another message type (another name): what a receiver of OrderMsg must refuse.
struct Refund {
  long amount = 0;
  SK_FIELDS(amount)
};

#if SK_LAYOUT_V == 5
inline auto& count_of(Orders& o) { return o.placed; }
inline int count_of(const OrderMsg& m) { return m.placed; }
#else
inline auto& count_of(Orders& o) { return o.count; }
inline long count_of(const OrderMsg& m) { return m.count; }
#endif

}  // namespace shop

namespace {

using Orders = sk::Share<shop::Orders>;
#ifdef SK_LAYOUT_TWIN
constexpr std::size_t kBytes = std::size_t{3} << 20;
#else
constexpr std::size_t kBytes = std::size_t{1} << 20;
#endif

void print_values(shop::Orders& o) {
  std::printf("values %ld %d %ld\n", static_cast<long>(shop::count_of(o).load()), o.filled.load(), o.total.load());
#if SK_LAYOUT_V >= 6
  const shop::Price p = o.last.load();
  std::printf("last qty %d cents %d\n", p.qty, p.cents);
#endif
}

sk::PipeOptions small_pipe() {
  sk::PipeOptions opts;
  opts.arena_bytes = 2 * kBytes;
  return opts;
}

// Blocks until stdin reaches end of file (the test closes it to say "finish").
void wait_for_eof() {
  char buf[256];
  while (std::fread(buf, 1, sizeof buf, stdin) > 0) {
  }
}

int run(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  const std::string name = argc > 2 ? argv[2] : "";
  if (cmd == "layout") {
    std::printf("layout 0x%016" PRIx64 " %s\n", Orders::layout_hash(), Orders::layout().description.c_str());
    return 0;
  }
  if (name.empty()) return 2;
  if (cmd == "serve" && argc == 6) {
    Orders s = Orders::create(name, kBytes);
    shop::count_of(*s) = static_cast<int>(std::atol(argv[3]));
    s->filled = static_cast<int>(std::atol(argv[4]));
    s->total = std::atol(argv[5]);
#if SK_LAYOUT_V >= 6
    shop::Price p;
    p.qty = 2;
    p.cents = 995;
    s->last = p;
#endif
    std::printf("ready\n");
    std::fflush(stdout);
    wait_for_eof();
    print_values(*s);
    std::printf("attached %zu\n", s.arena().attached().size());
    Orders::unlink(name);
    return 0;
  }
  if (cmd == "read" || cmd == "add") {
    Orders s = Orders::open(name, std::chrono::seconds(5));
    if (cmd == "add") shop::count_of(*s) += 1;
    print_values(*s);
    return 0;
  }
  if (cmd == "create") {
    Orders s = Orders::create(name, kBytes);
    Orders::unlink(name);
    std::printf("created\n");
    return 0;
  }
  if (cmd == "pipe-serve") {
    auto [anchor, point] = sk::Pipe::pair_named(name, small_pipe());
    std::printf("ready\n");
    std::fflush(stdout);
    try {
      const auto m = anchor.recv_for<shop::OrderMsg>(std::chrono::seconds(10));
      if (!m) {
        std::printf("timeout\n");
        return 1;
      }
      std::printf("msg %ld %d %ld\n", static_cast<long>(shop::count_of(*m)), m->filled, m->total);
    } catch (const sk::TypeMismatch& e) {
      std::printf("TypeMismatch: %s\n", e.what());
      anchor.recv_view().release();  // it stays in the pipe: drop it to get to the next one
    } catch (const sk::DecodeError& e) {
      std::printf("DecodeError: %s\n", e.what());  // dropped by recv
    }
    const auto then = anchor.recv_for<std::string>(std::chrono::seconds(10));
    std::printf("then %s\n", then ? then->c_str() : "(timeout)");
    sk::Pipe::unlink(name);
    return then && *then == "end" ? 0 : 1;
  }
  if (cmd == "pipe-send" || cmd == "pipe-send-other") {
    auto point = sk::Pipe::attach_point(name);
    if (cmd == "pipe-send") {
      shop::OrderMsg m;
      m.filled = 3;
      m.total = 1234567890123L;
#if SK_LAYOUT_V == 5
      m.placed = 7;
#else
      m.count = 7;
#endif
      point.send(m);
    } else {
      point.send(shop::Refund{99});
    }
    point.send(std::string("end"));
    return 0;
  }
  return 2;
}

int report(const char* type, const std::exception& e, int code) {
  std::printf("%s: %s\n", type, e.what());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  int rc = 0;
  try {
    rc = run(argc, argv);
    if (rc == 2) std::printf("usage: see tests/support/layout_program.cpp\n");
  } catch (const sk::alloc::LayoutMismatch& e) {
    rc = report("LayoutMismatch", e, 10);
  } catch (const sk::alloc::BadSegment& e) {
    rc = report("BadSegment", e, 11);
  } catch (const sk::alloc::SegmentError& e) {
    rc = report("SegmentError", e, 12);
  } catch (const sk::TypeMismatch& e) {
    rc = report("TypeMismatch", e, 13);
  } catch (const sk::DecodeError& e) {
    rc = report("DecodeError", e, 14);
  } catch (const sk::Error& e) {
    rc = report("sk::Error", e, 15);
  } catch (const std::exception& e) {
    rc = report("exception", e, 16);
  }
  std::fflush(stdout);
  return rc;
}
