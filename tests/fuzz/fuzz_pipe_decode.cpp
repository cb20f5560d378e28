// libFuzzer target for the Pipe receive path (ByteRing records, block
// references, typed frames) fed with hostile bytes, and for the framing of
// Skprocess tell/listen over the same kind of ring (sk/ipc/message_framing.hpp).
//
// Each input is a small program run against a FRESH anonymous duplex pipe
// (sk::Pipe::pair with a 1 KiB ring, 128-byte inline limit, 128 KiB arena):
// the anchor sends real messages (strings, structs, raw loans; small ones
// inline in the ring, larger ones through arena blocks), the fuzzer
// overwrites what the producer published (ring data area: record headers,
// payloads, pad records, block references; the tail index; the payload of an
// in-flight block; the consumer-facing head index), and the point receives
// through the real API (try_recv<T>, try_recv_view). Every receive must
// deliver a value, find nothing, or throw what sk/pipe.hpp documents:
// sk::core::RingCorrupt (then the pipe is dropped: the program stops),
// sk::DecodeError / sk::TypeMismatch. Sends may throw sk::MessageTooLarge or
// sk::alloc::ArenaFull. Anything else, a view outside the shared mapping, a
// crash, an out-of-bounds read (ASan) or a hang (all waits use zero
// timeouts) is a finding.
//
// A second ring, a bare ByteRing carrying tell/listen messages, gets the
// same treatment in the same program: sends (ops 0 and 1) also send_message
// onto it, receives (3, 4, 5) also receive_message from it, and the hostile
// writes (6, 7, 9) hit it too. A receive must deliver a whole message, find
// nothing, or throw RingCorrupt (then that ring is dropped), and never
// assemble more than it was sent.
//
// Program: a sequence of ops, one byte each (op % 10) plus arguments (any
// byte string is a valid program; missing bytes read as 0):
//   0 len:u16 fill:u8          anchor sends std::string(len % 600, fill)
//   1 n:u8 ...                 anchor sends a Msg{...} (n % 40 points)
//   2 len:u16 fill:u8          anchor sends an arena block by reference: len % 2000 raw
//                              bytes (odd fill) or a string frame (even fill)
//   3                          point try_recv<std::string>
//   4                          point try_recv<Msg>
//   5                          point try_recv_view (touches every byte, checks range)
//   6 off:u16 n:u8 bytes[n]    overwrite ring data at off % capacity (clamped to its end)
//   7 mode:u8 v:u64            overwrite tail: mode&1 ? v : read + (v % (2*capacity))
//   8 pick:u8 off:u16 n:u8 b[n] overwrite the payload of an in-flight block
//   9 v:u64                    overwrite head (what the producer trusts of the consumer)
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <sk/alloc/errors.hpp>
#include <sk/core/byte_ring.hpp>
#include <sk/core/cacheline.hpp>
#include <sk/ipc/message_framing.hpp>
#include <sk/ipc/pipe_errors.hpp>
#include <sk/ipc/ser_errors.hpp>
#include <sk/pipe.hpp>

#include "fuzz_stats.hpp"

namespace {

struct Point {
  std::int32_t x = 0;
  double y = 0;
  SK_FIELDS(x, y)
};

struct Msg {
  std::string name;
  std::vector<Point> points;
  std::optional<std::uint64_t> id;
  SK_FIELDS(name, points, id)
};

constexpr std::size_t kRingBytes = 1024;
constexpr std::size_t kMaxOps = 96;

// ByteRing keeps its indices private; the fuzzer writes them the way a
// broken peer would: at their place in the shared layout (header line, then
// the producer line starting with tail, then the consumer line starting with
// head). check_layout() proves these offsets at startup.
constexpr std::size_t kTailOffset = sk::core::kFalseSharingRange;
constexpr std::size_t kHeadOffset = 2 * sk::core::kFalseSharingRange;
constexpr std::size_t kReadOffset = 2 * sk::core::kFalseSharingRange + 8;  // consumer-private read position

std::uint64_t load_u64(const sk::core::ByteRing* r, std::size_t off) {
  std::uint64_t v = 0;
  std::memcpy(&v, reinterpret_cast<const std::byte*>(r) + off, sizeof v);
  return v;
}
void store_u64(sk::core::ByteRing* r, std::size_t off, std::uint64_t v) {
  std::memcpy(reinterpret_cast<std::byte*>(r) + off, &v, sizeof v);
}
std::byte* ring_data(sk::core::ByteRing* r) { return reinterpret_cast<std::byte*>(r) + sizeof(sk::core::ByteRing); }

sk::PipeOptions options() {
  sk::PipeOptions o;
  o.ring_bytes = kRingBytes;
  o.inline_max = 128;
  o.arena_bytes = 128 * 1024;
  return o;
}

// The raw offsets above must match the ring's real layout.
void check_layout() {
  auto [a, p] = sk::Pipe::pair(options());
  sk::core::ByteRing* r = p.channel().incoming_ring();
  if (load_u64(r, kTailOffset) != 0 || load_u64(r, kHeadOffset) != 0) sk_fuzz::fail("ring layout: fresh indices");
  a.send(std::string("x"));
  const std::uint64_t tail = load_u64(r, kTailOffset);
  if (tail == 0 || tail % 8 != 0 || tail > kRingBytes) sk_fuzz::fail("ring layout: tail offset");
  if (p.recv<std::string>() != "x") sk_fuzz::fail("ring layout: round trip");
  if (load_u64(r, kHeadOffset) != tail || load_u64(r, kReadOffset) != tail) sk_fuzz::fail("ring layout: head offset");
}

struct InFlight {
  sk::alloc::Offset off;
  std::size_t bytes;
};

// The tell/listen ring: a bare ByteRing of the Pipe ring's size.
class TellRing {
 public:
  TellRing() : mem_(static_cast<std::byte*>(std::aligned_alloc(128, sk::core::ByteRing::bytes_needed(kRingBytes)))) {
    ring_ = sk::core::ByteRing::create(mem_, kRingBytes);
  }
  ~TellRing() { std::free(mem_); }
  TellRing(const TellRing&) = delete;
  TellRing& operator=(const TellRing&) = delete;
  sk::core::ByteRing* ring() { return alive_ ? ring_ : nullptr; }

  void send(std::size_t len, std::uint8_t fill) {
    if (!alive_) return;
    const std::vector<std::byte> msg(len, static_cast<std::byte>(fill));
    // No waiting: a full ring gives up (as a sender whose peer is gone).
    (void)sk::ipc::send_message(*ring_, msg, [] { return false; }, std::chrono::nanoseconds(0));
  }
  void receive() {
    if (!alive_) return;
    try {
      auto m = sk::ipc::receive_message(*ring_, partial_, assembling_, std::chrono::steady_clock::now(),
                                        [] { return false; }, std::chrono::nanoseconds(0));
      if (m && m->size() > 4 * kRingBytes * kMaxOps) sk_fuzz::fail("tell/listen framing assembled an oversized message");
      if (partial_.size() > 4 * kRingBytes * kMaxOps) sk_fuzz::fail("tell/listen framing grew without bound");
    } catch (const sk::core::RingCorrupt&) {
      alive_ = false;  // a real receiver drops the channel
    }
  }

 private:
  std::byte* mem_;
  sk::core::ByteRing* ring_ = nullptr;
  std::vector<std::byte> partial_;
  bool assembling_ = false;
  bool alive_ = true;
};

class Program {
 public:
  explicit Program(sk_fuzz::Reader& in) : in_(in), pair_(sk::Pipe::pair(options())) {
    ring_ = point().channel().incoming_ring();
  }

  void run() {
    for (std::size_t ops = 0; ops < kMaxOps && !in_.empty(); ++ops) {
      if (!step(in_.u8() % 10)) return;  // the pipe reported corruption: a real user drops it
    }
    // Drain what is left (bounded: every receive either consumes or stops).
    for (std::size_t i = 0; i < 2 * kRingBytes; ++i) {
      if (!receive_view()) return;
    }
  }

 private:
  sk::Pipe::Anchor& anchor() { return pair_.first; }
  sk::Pipe::Point& point() { return pair_.second; }

  bool step(std::uint8_t op) {
    switch (op) {
      case 0: {
        const std::size_t len = in_.u16() % 600;
        const std::uint8_t fill = in_.u8();
        send(std::string(len, static_cast<char>(fill)));
        tell_.send(len * 3, fill);  // up to 1800 bytes: several records of the 1 KiB ring
        return true;
      }
      case 1: {
        Msg m;
        const std::size_t n = in_.u8() % 40;
        m.name = std::string(n, 'm');
        for (std::size_t i = 0; i < n; ++i) m.points.push_back({static_cast<std::int32_t>(i), 0.5 * i});
        if (n % 2) m.id = n;
        send(m);
        tell_.send(n, 'm');
        return true;
      }
      case 2: loan(in_.u16() % 2000, in_.u8()); return true;
      case 3: tell_.receive(); return receive<std::string>();
      case 4: tell_.receive(); return receive<Msg>();
      case 5: tell_.receive(); return receive_view();
      case 6: {
        const std::size_t off = in_.u16() % kRingBytes;
        std::size_t n = in_.u8();
        const std::uint8_t* b = in_.bytes(n);
        if (n > kRingBytes - off) n = kRingBytes - off;
        std::memcpy(ring_data(ring_) + off, b, n);
        if (auto* t = tell_.ring()) std::memcpy(ring_data(t) + off, b, n);
        return true;
      }
      case 7: {
        const std::uint8_t mode = in_.u8();
        const std::uint64_t v = in_.u64();
        store_u64(ring_, kTailOffset, (mode & 1) ? v : load_u64(ring_, kReadOffset) + v % (2 * kRingBytes));
        if (auto* t = tell_.ring())
          store_u64(t, kTailOffset, (mode & 1) ? v : load_u64(t, kReadOffset) + v % (2 * kRingBytes));
        return true;
      }
      case 8: {
        const std::uint8_t pick = in_.u8();
        const std::size_t off = in_.u16();
        std::size_t n = in_.u8();
        const std::uint8_t* b = in_.bytes(n);
        if (blocks_.empty()) return true;
        const InFlight& f = blocks_[pick % blocks_.size()];
        if (off >= f.bytes) return true;
        if (n > f.bytes - off) n = f.bytes - off;
        std::memcpy(anchor().channel().block_data(f.off) + off, b, n);
        return true;
      }
      default: {
        const std::uint64_t v = in_.u64();
        store_u64(ring_, kHeadOffset, v);
        if (auto* t = tell_.ring()) store_u64(t, kHeadOffset, v);
        return true;
      }
    }
  }

  template <class T>
  void send(const T& v) {
    try {
      (void)anchor().send_for(v, std::chrono::nanoseconds(0));
    } catch (const sk::MessageTooLarge&) {
    } catch (const sk::alloc::ArenaFull&) {
    }
  }

  // An arena block sent by reference: raw bytes (odd fill) or a sk::ser
  // frame of a string (even fill), so poking it reaches the frame decoder.
  void loan(std::size_t n, std::uint8_t fill) {
    sk::ipc::PipeEnd& end = anchor().channel();
    const bool raw = (fill & 1) != 0;
    std::vector<std::byte> frame;
    if (!raw) {
      sk::ser::encode_into(std::string(n, static_cast<char>(fill)), frame);
      n = frame.size();
    }
    try {
      const sk::alloc::Offset off = end.allocate_block(n, sk::ipc::PipeEnd::Clock::now());
      if (off == 0) return;
      if (raw)
        std::memset(end.block_data(off), fill, n);
      else
        std::memcpy(end.block_data(off), frame.data(), n);
      if (end.send_block(off, n, raw ? sk::ipc::PipeEnd::kFlagRaw : 0, sk::ipc::PipeEnd::Clock::now())) {
        if (blocks_.size() < 16) blocks_.push_back({off, n});
      } else {
        end.free_block(off, n);
      }
    } catch (const sk::MessageTooLarge&) {
    } catch (const sk::alloc::ArenaFull&) {
    }
  }

  // False once the pipe reported RingCorrupt. A receive may free in-flight
  // blocks (their space goes back to the arena): stop poking them.
  template <class T>
  bool receive() {
    blocks_.clear();
    try {
      (void)point().template try_recv<T>();
    } catch (const sk::core::RingCorrupt&) {
      return false;
    } catch (const sk::DecodeError&) {  // includes TypeMismatch (message stays; a view drops it)
    }
    return true;
  }

  bool receive_view() {
    blocks_.clear();
    try {
      auto v = point().try_recv_view();
      if (!v) return false;
      const auto map = point().channel().mapping();
      const std::byte* lo = map.data();
      const std::byte* hi = map.data() + map.size();
      if (v->size() != 0 && (v->data() < lo || v->data() > hi || v->size() > static_cast<std::size_t>(hi - v->data())))
        sk_fuzz::fail("a received view points outside the pipe's shared mapping");
      unsigned sum = 0;
      for (std::byte b : v->bytes()) sum += static_cast<unsigned>(b);  // touch every byte
      sink_ += sum;
      if (!v->raw()) {
        try {
          (void)v->as<std::string>();
        } catch (const sk::DecodeError&) {
        }
      }
      v->release();
      return true;
    } catch (const sk::core::RingCorrupt&) {
      return false;
    }
  }

  sk_fuzz::Reader& in_;
  std::pair<sk::Pipe::Anchor, sk::Pipe::Point> pair_;
  sk::core::ByteRing* ring_ = nullptr;
  TellRing tell_;
  std::vector<InFlight> blocks_;
  unsigned sink_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  check_layout();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sk_fuzz::count("fuzz_pipe_decode", size);
  sk_fuzz::Reader in(data, size);
  try {
    Program(in).run();
  } catch (const sk::Error& e) {
    std::fprintf(stderr, "undocumented exception from the pipe: %s\n", e.what());
    sk_fuzz::fail("the pipe threw an exception its API does not document for this path");
  }
  return 0;
}
