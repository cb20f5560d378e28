#pragma once
// Competitor: boost::interprocess::message_queue (a named shared-memory queue
// guarded by an interprocess mutex and condition variables; messages are
// copied in and out). The creator removes the name on destruction.
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace bench {

class BoostMessageQueue {
 public:
  // Creates a fresh queue `tag` (unique per process) of max_msgs messages of max_bytes.
  BoostMessageQueue(const std::string& tag, std::size_t max_msgs, std::size_t max_bytes)
      : name_("sk_bench_mq_" + std::to_string(::getpid()) + "_" + tag) {
    namespace bip = boost::interprocess;
    bip::message_queue::remove(name_.c_str());
    q_ = std::make_unique<bip::message_queue>(bip::create_only, name_.c_str(), max_msgs, max_bytes);
  }
  ~BoostMessageQueue() { boost::interprocess::message_queue::remove(name_.c_str()); }
  BoostMessageQueue(const BoostMessageQueue&) = delete;
  BoostMessageQueue& operator=(const BoostMessageQueue&) = delete;

  // A forked child re-opens the queue by name (its own mapping).
  std::unique_ptr<boost::interprocess::message_queue> open() const {
    return std::make_unique<boost::interprocess::message_queue>(boost::interprocess::open_only, name_.c_str());
  }
  boost::interprocess::message_queue& queue() const { return *q_; }

 private:
  std::string name_;
  std::unique_ptr<boost::interprocess::message_queue> q_;
};

}  // namespace bench
