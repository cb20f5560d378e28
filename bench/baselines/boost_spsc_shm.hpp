#pragma once
// Competitor: boost::lockfree::spsc_queue with a compile-time capacity (its
// slots are stored inline, so it is position independent) placement-
// constructed in MAP_SHARED memory. It has no way to park: waiting sides spin
// (or spin then sched_yield, the "blocking" stand-in).
#include <boost/lockfree/spsc_queue.hpp>

#include <cstddef>
#include <new>

namespace bench {

template <class T, std::size_t N>
using BoostSpscShm = boost::lockfree::spsc_queue<T, boost::lockfree::capacity<N>>;

template <class T, std::size_t N>
BoostSpscShm<T, N>* make_boost_spsc(void* shared_mem) {
  return new (shared_mem) BoostSpscShm<T, N>();
}

}  // namespace bench
