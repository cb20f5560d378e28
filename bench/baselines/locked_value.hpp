#pragma once
// Competitor for Seqlock<T>: a T guarded by a mutex, copied in and out under
// the lock. With std::mutex it is the in-process baseline; with
// boost::interprocess::interprocess_mutex it could live in shared memory (but
// a holder that dies leaves it locked forever).
#include <mutex>

namespace bench {

template <class T, class Mutex = std::mutex>
class LockedValue {
 public:
  T load() const {
    std::lock_guard<Mutex> g(m_);
    return v_;
  }
  void store(const T& v) {
    std::lock_guard<Mutex> g(m_);
    v_ = v;
  }
  template <class F>
  T update(F&& fn) {
    std::lock_guard<Mutex> g(m_);
    fn(v_);
    return v_;
  }

 private:
  mutable Mutex m_;
  T v_{};
};

}  // namespace bench
