#pragma once
// sk::Pipe: the fastest, most direct way to talk between two processes.
//
//   auto [anchor, point] = sk::Pipe::pair();          // duplex
//   // fork / start a worker that keeps `point`
//   anchor.send(std::string("hello"));                // any sk::ser Serializable
//   auto reply = anchor.recv<std::string>();          // blocks (futex) until it comes
//
//   auto [tx, rx] = sk::Pipe::pair(sk::one_way);      // tx only sends, rx only receives
//   rx.send(1);                                       // does not compile
//
//   auto loan = tx.loan(n);                           // zero-copy: write into shared memory
//   std::memcpy(loan.data(), src, n); loan.send();
//   auto view = rx.recv_view();                       // a span into shared memory
//   use(view.bytes());                                // valid until view is released/destroyed
//
// Each direction is a single-producer/single-consumer ring in a shared-memory
// arena; small messages travel in the ring, large ones in arena blocks whose
// offset the ring carries. Waiting is a bounded spin, then a futex sleep, in
// 10 ms slices between which the peer's liveness is checked. See docs/pipe.md.
//
// Errors: sk::PeerClosed (peer closed or died; everything it committed was
// delivered first), sk::MessageTooLarge, sk::TypeMismatch (the next message
// holds another type; it stays in the pipe), sk::DecodeError (corrupt message;
// it is dropped), sk::PipeEndpointError (misuse), sk::core::RingCorrupt
// (a broken or hostile peer wrote garbage; stop using the pipe).
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <sk/ipc/pipe_channel.hpp>
#include <sk/ipc/pipe_errors.hpp>
#include <sk/ipc/serialize.hpp>

namespace sk {

using PipeOptions = ipc::PipeOptions;
using ReceivePolicy = ipc::ReceivePolicy;

template <bool CanSend, bool CanRecv>
class PipeEndpoint;

struct one_way_t {
  explicit one_way_t() = default;
};
inline constexpr one_way_t one_way{};

// A block of shared memory to fill and send without a copy. Move-only; if
// never sent, the memory goes back to the arena when the loan is destroyed.
class PipeLoan {
 public:
  PipeLoan() = default;
  PipeLoan(PipeLoan&& o) noexcept { *this = std::move(o); }
  PipeLoan& operator=(PipeLoan&& o) noexcept {
    if (this != &o) {
      reset();
      end_ = std::move(o.end_);
      off_ = std::exchange(o.off_, 0);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~PipeLoan() { reset(); }

  std::byte* data() const noexcept { return off_ ? end_->block_data(off_) : nullptr; }
  std::size_t size() const noexcept { return size_; }
  std::span<std::byte> bytes() const noexcept { return {data(), size_}; }
  explicit operator bool() const noexcept { return off_ != 0; }

  // Sends the loaned bytes (blocks while the ring is full). The receiver gets
  // them through recv_view(); afterwards this loan is empty.
  void send() { (void)send_until(std::nullopt); }
  // As send(), waiting at most `timeout`; false (loan kept) on timeout.
  bool send_for(std::chrono::nanoseconds timeout) { return send_until(ipc::PipeEnd::Clock::now() + timeout); }

 private:
  template <bool, bool>
  friend class PipeEndpoint;
  PipeLoan(std::shared_ptr<ipc::PipeEnd> end, alloc::Offset off, std::size_t size)
      : end_(std::move(end)), off_(off), size_(size) {}
  bool send_until(ipc::PipeEnd::Deadline d) {
    if (!off_) throw PipeEndpointError("sk::PipeLoan: this loan is empty (already sent or moved from)");
    if (!end_->send_block(off_, size_, ipc::PipeEnd::kFlagRaw, d)) return false;
    off_ = 0;
    size_ = 0;
    return true;
  }
  void reset() noexcept {
    if (off_) end_->free_block(off_, size_);
    off_ = 0;
    size_ = 0;
  }

  std::shared_ptr<ipc::PipeEnd> end_;
  alloc::Offset off_ = 0;
  std::size_t size_ = 0;
};

// A received message left in shared memory. Move-only; the message is
// consumed (its ring space and arena block freed) by release() or when the
// view is destroyed. Only one view per endpoint may be open at a time.
class PipeView {
 public:
  PipeView() = default;
  PipeView(PipeView&& o) noexcept { *this = std::move(o); }
  PipeView& operator=(PipeView&& o) noexcept {
    if (this != &o) {
      release();
      end_ = std::move(o.end_);
      msg_ = std::exchange(o.msg_, {});
    }
    return *this;
  }
  ~PipeView() { release(); }

  const std::byte* data() const noexcept { return msg_.bytes.data(); }
  std::size_t size() const noexcept { return msg_.bytes.size(); }
  std::span<const std::byte> bytes() const noexcept { return msg_.bytes; }
  // True for bytes sent through a loan; false for a sk::ser frame (send()).
  bool raw() const noexcept { return msg_.raw(); }
  explicit operator bool() const noexcept { return end_ != nullptr; }
  // Decodes a frame sent with send() (TypeMismatch / DecodeError otherwise).
  template <ser::Serializable T>
  T as() const {
    return ser::decode<T>(msg_.bytes);
  }
  void release() noexcept {
    if (end_) end_->consume(msg_);
    end_.reset();
    msg_ = {};
  }

 private:
  template <bool, bool>
  friend class PipeEndpoint;
  PipeView(std::shared_ptr<ipc::PipeEnd> end, ipc::PipeMessage m) : end_(std::move(end)), msg_(m) {}

  std::shared_ptr<ipc::PipeEnd> end_;
  ipc::PipeMessage msg_;
};

// One end of a pipe. CanSend / CanRecv are fixed by the type, so a one-way
// receiver has no send(). Copyable: copies share the endpoint; an endpoint is
// claimed by the first process that uses it, and closed when that process
// calls close() or its last copy goes away. Copies in other processes (e.g.
// the parent's copy after fork) never close it.
template <bool CanSend, bool CanRecv>
class PipeEndpoint {
 public:
  using Clock = ipc::PipeEnd::Clock;

  PipeEndpoint() = default;

  // ---- sending ----------------------------------------------------------------
  // String literals and const char* travel as std::string (ser::to_wire).
  template <ser::Sendable T>
    requires CanSend
  void send(const T& value) {
    (void)send_until(value, std::nullopt);
  }
  // False if the message could not be queued within timeout (the ring was
  // full, or the blocks in flight left no arena memory for it).
  template <ser::Sendable T>
    requires CanSend
  bool send_for(const T& value, std::chrono::nanoseconds timeout) {
    return send_until(value, Clock::now() + timeout);
  }
  // Shared memory for n bytes, to fill and send without a copy. While the
  // blocks in flight leave no room for n bytes, waits (futex) until the
  // receiver frees some. MessageTooLarge if n > max_message(); ArenaFull if
  // nothing this end sent is in flight and still nothing fits (this end's own
  // unsent loans, or messages to it that it has not received, hold the
  // memory: waiting could never help).
  PipeLoan loan(std::size_t n)
    requires CanSend
  {
    const alloc::Offset off = end().allocate_block(n, std::nullopt);
    return PipeLoan(end_, off, n);
  }
  // As loan(), waiting at most `timeout` for memory; nullopt on timeout.
  std::optional<PipeLoan> loan_for(std::size_t n, std::chrono::nanoseconds timeout)
    requires CanSend
  {
    const alloc::Offset off = end().allocate_block(n, Clock::now() + timeout);
    if (off == 0) return std::nullopt;
    return PipeLoan(end_, off, n);
  }

  // ---- receiving --------------------------------------------------------------
  template <ser::Serializable T>
    requires CanRecv
  T recv() {
    return *recv_until<T>(std::nullopt);
  }
  template <ser::Serializable T>
    requires CanRecv
  std::optional<T> recv_for(std::chrono::nanoseconds timeout) {
    return recv_until<T>(Clock::now() + timeout);
  }
  template <ser::Serializable T>
    requires CanRecv
  std::optional<T> try_recv() {
    return recv_until<T>(Clock::time_point{});
  }
  PipeView recv_view()
    requires CanRecv
  {
    return PipeView(end_, *end().receive(std::nullopt));
  }
  std::optional<PipeView> recv_view_for(std::chrono::nanoseconds timeout)
    requires CanRecv
  {
    return view_until(Clock::now() + timeout);
  }
  std::optional<PipeView> try_recv_view()
    requires CanRecv
  {
    return view_until(Clock::time_point{});
  }

  // ---- state ------------------------------------------------------------------
  // Closes the endpoint if this process uses it (the peer sees PeerClosed once
  // it has received everything); otherwise only drops this process's handle.
  void close() noexcept {
    if (end_) end_->close();
  }
  bool peer_alive() const noexcept { return end_ && end_->peer_alive(); }
  // How recv*() wait on this end in this process (starts as the pair's
  // PipeOptions::receive): ReceivePolicy::spinning(...) is the latency mode.
  void set_receive_policy(const ReceivePolicy& p)
    requires CanRecv
  {
    end().set_receive_policy(p);
  }
  // The other end belongs to process `pid` (call it in the parent right after
  // forking the child that uses the other end). Without it, a child that
  // dies before it ever used its end leaves this end waiting as long as the
  // pipe's creator lives (the end could still be handed to someone else);
  // with it, that death is PeerClosed within the liveness slice.
  void give_peer_to(pid_t pid) { end().give_peer_to(pid); }
  // Largest message (encoded bytes or loan size) this pipe accepts.
  std::size_t max_message() const noexcept { return end_ ? end_->max_message() : 0; }
  explicit operator bool() const noexcept { return end_ != nullptr; }
  // The byte-level engine (tests, tools).
  ipc::PipeEnd& channel() const { return end(); }

 private:
  friend class Pipe;
  explicit PipeEndpoint(std::shared_ptr<ipc::PipeEnd> e) : end_(std::move(e)) {}

  ipc::PipeEnd& end() const {
    if (!end_) throw PipeEndpointError("sk::Pipe: this endpoint is empty (default-constructed or moved from)");
    return *end_;
  }

  template <class T>
  bool send_until(const T& value, ipc::PipeEnd::Deadline d) {
    decltype(auto) wire = ser::to_wire(value);
    using W = std::remove_cvref_t<decltype(wire)>;
    ipc::PipeEnd& e = end();
    if constexpr (ser::has_known_size_v<W>) {
      // The frame's size is known: encode it once, straight into the ring
      // (or the arena block), no intermediate buffer.
      const std::span<std::byte> room = e.begin_send(ser::frame_bytes(wire), 0, d);
      if (room.data() == nullptr) return false;
      try {
        (void)ser::encode_to(wire, room);
      } catch (...) {
        e.abandon_send();
        throw;
      }
      return e.commit_send(d);
    } else {
      thread_local std::vector<std::byte> buf;
      buf.clear();
      ser::encode_into(wire, buf);
      return e.send_bytes(buf, 0, d);
    }
  }

  template <class T>
  std::optional<T> recv_until(ipc::PipeEnd::Deadline d) {
    ipc::PipeEnd& e = end();
    auto m = e.receive(d);
    if (!m) return std::nullopt;
    if (m->raw()) {
      e.unhold();
      throw TypeMismatch("sk::Pipe: the next message holds raw bytes from a loan, not a " +
                             std::string(ser::type_name<T>()) + "; receive it with recv_view()",
                         ser::type_id<T>(), 0);
    }
    try {
      T v = ser::decode<T>(m->bytes);
      e.consume(*m);
      return v;
    } catch (const TypeMismatch&) {
      e.unhold();  // stays in the pipe: receive it with the right type
      throw;
    } catch (...) {
      e.consume(*m);  // corrupt: drop it
      throw;
    }
  }

  std::optional<PipeView> view_until(ipc::PipeEnd::Deadline d) {
    auto m = end().receive(d);
    if (!m) return std::nullopt;
    return PipeView(end_, *m);
  }

  std::shared_ptr<ipc::PipeEnd> end_;
};

class Pipe {
 public:
  using Anchor = PipeEndpoint<true, true>;         // duplex ends
  using Point = PipeEndpoint<true, true>;
  using OneWayAnchor = PipeEndpoint<true, false>;  // send only
  using OneWayPoint = PipeEndpoint<false, true>;   // receive only

  // A new anonymous pipe, shared with children forked afterwards.
  static std::pair<Anchor, Point> pair(const PipeOptions& opts = {}) {
    auto [a, p] = ipc::PipeEnd::create(false, opts);
    return {Anchor(std::move(a)), Point(std::move(p))};
  }
  static std::pair<OneWayAnchor, OneWayPoint> pair(one_way_t, const PipeOptions& opts = {}) {
    auto [a, p] = ipc::PipeEnd::create(true, opts);
    return {OneWayAnchor(std::move(a)), OneWayPoint(std::move(p))};
  }
  // A named pipe (/dev/shm) that an unrelated program can attach to with
  // attach_point(name) / attach_receiver(name). Remove the name with
  // unlink(name) once both sides are attached (or when done).
  static std::pair<Anchor, Point> pair_named(std::string_view name, const PipeOptions& opts = {}) {
    auto [a, p] = ipc::PipeEnd::create(false, opts, name);
    return {Anchor(std::move(a)), Point(std::move(p))};
  }
  static std::pair<OneWayAnchor, OneWayPoint> pair_named(std::string_view name, one_way_t,
                                                         const PipeOptions& opts = {}) {
    auto [a, p] = ipc::PipeEnd::create(true, opts, name);
    return {OneWayAnchor(std::move(a)), OneWayPoint(std::move(p))};
  }
  static Point attach_point(std::string_view name) {
    return Point(ipc::PipeEnd::attach(name, ipc::PipeRole::point, false));
  }
  static OneWayPoint attach_receiver(std::string_view name) {
    return OneWayPoint(ipc::PipeEnd::attach(name, ipc::PipeRole::point, true));
  }
  static void unlink(std::string_view name) { ipc::PipeEnd::unlink(name); }
};

}  // namespace sk
