#pragma once
// Exceptions of sk::Pipe (sk/pipe.hpp), thrown by the ipc layer underneath it.
//
//   sk::Error
//   └── PipeError            base of every Pipe error
//       ├── PeerClosed       the other end closed or its process died; nothing more will come
//       ├── MessageTooLarge  a message is bigger than the pipe's arena can ever hold
//       └── PipeEndpointError misuse: endpoint owned by another process, closed, view still open
//
// A corrupt ring (a hostile or broken peer) surfaces as sk::core::RingCorrupt.
#include <cstddef>
#include <string>

#include <sk/core/error.hpp>

namespace sk {

class PipeError : public Error {
 public:
  using Error::Error;
};

// The peer endpoint was closed, or the process that owned it has exited
// (killed, crashed, returned). Messages it committed before that were still
// delivered first. What to do: stop using this pipe; restart the peer with a
// fresh Pipe::pair() if the work must go on.
class PeerClosed : public PipeError {
 public:
  using PipeError::PipeError;
};

// size() bytes do not fit in a pipe whose arena can hold at most limit()
// bytes per message. What to do: create the pair with a larger
// PipeOptions::arena_bytes, or split the payload.
class MessageTooLarge : public PipeError {
 public:
  MessageTooLarge(const std::string& message, std::size_t size, std::size_t limit)
      : PipeError(message), size_(size), limit_(limit) {}
  std::size_t size() const noexcept { return size_; }
  std::size_t limit() const noexcept { return limit_; }

 private:
  std::size_t size_;
  std::size_t limit_;
};

// The endpoint cannot be used this way: it belongs to another process (each
// endpoint is claimed by the first process that uses it), it was closed, a
// view from recv_view() is still open, or a named pipe does not match.
class PipeEndpointError : public PipeError {
 public:
  using PipeError::PipeError;
};

}  // namespace sk
