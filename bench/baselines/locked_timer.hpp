#pragma once
// Baselines for bench/timer_circuit.cpp: the single-lock designs that
// sk::SharedTimer and sk::Circuit replace. One Boost.Interprocess mutex (a
// process-shared pthread mutex) in shared memory guards a fixed ring of
// samples / the circuit counters. Placed with placement new in
// MAP_SHARED memory; every process locks the same mutex.
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>

#include <cstddef>
#include <cstdint>

namespace bench {

template <std::size_t Capacity>
struct LockedTimer {
  boost::interprocess::interprocess_mutex mu;
  std::uint64_t count = 0;
  double samples[Capacity];

  void add_time(double s) {
    boost::interprocess::scoped_lock<boost::interprocess::interprocess_mutex> lk(mu);
    samples[count % Capacity] = s;
    ++count;
  }
  double total() {
    boost::interprocess::scoped_lock<boost::interprocess::interprocess_mutex> lk(mu);
    const std::size_t n = count < Capacity ? count : Capacity;
    double t = 0;
    for (std::size_t i = 0; i < n; ++i) t += samples[i];
    return t;
  }
};

struct LockedCircuit {
  boost::interprocess::interprocess_mutex mu;
  std::uint32_t threshold;
  std::uint32_t shorted = 0;
  std::uint32_t trips = 0;

  explicit LockedCircuit(std::uint32_t n) : threshold(n) {}
  bool short_() {
    boost::interprocess::scoped_lock<boost::interprocess::interprocess_mutex> lk(mu);
    if (++shorted >= threshold) {
      shorted = 0;
      ++trips;
      return true;
    }
    return false;
  }
};

}  // namespace bench
