#pragma once
// Shared checks for the bounded sk::Log stress and crash tests: messages that
// carry their own checksum (a torn or mixed record fails it), and a check
// that one read of records() is in order.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include <sk/slots/log.hpp>

namespace logtest {

// "w k <filler>": the filler's length and letter depend on (w, k), so a
// record made of two writers' bytes (or two laps of one slot) does not parse.
inline std::string message(int w, std::uint64_t k) {
  const std::size_t len = (k * 7 + static_cast<std::uint64_t>(w) * 13) % 90;
  return std::to_string(w) + " " + std::to_string(k) + " " +
         std::string(len, static_cast<char>('a' + (k + static_cast<std::uint64_t>(w)) % 26));
}

inline bool parse(const std::string& m, int& w, std::uint64_t& k) {
  unsigned long long kk = 0;
  int n = 0;
  if (std::sscanf(m.c_str(), "%d %llu %n", &w, &kk, &n) != 2) return false;
  k = kk;
  return m == message(w, k) && static_cast<std::size_t>(n) <= m.size();
}

// "" if `rs` (one read) is in strictly increasing seq order, every record
// whole, and each writer's records in its program order; else what is wrong.
inline std::string check_read(const std::vector<sk::LogRecord>& rs, std::size_t capacity) {
  if (rs.size() > capacity) return "read returned " + std::to_string(rs.size()) + " records, bound " +
                                   std::to_string(capacity);
  std::map<int, std::uint64_t> last;  // writer -> last k + 1
  for (std::size_t j = 0; j < rs.size(); ++j) {
    if (j > 0 && rs[j].seq <= rs[j - 1].seq)
      return "seq " + std::to_string(rs[j].seq) + " after " + std::to_string(rs[j - 1].seq);
    if (j > 0 && rs[j].seq - rs[0].seq >= capacity)
      return "seq " + std::to_string(rs[j].seq) + " outside the window starting at " + std::to_string(rs[0].seq);
    int w = -1;
    std::uint64_t k = 0;
    if (!parse(rs[j].message, w, k)) return "torn record: '" + rs[j].message + "'";
    auto [it, fresh] = last.try_emplace(w, 0);
    if (!fresh && k < it->second)
      return "writer " + std::to_string(w) + " k " + std::to_string(k) + " after k " + std::to_string(it->second - 1);
    it->second = k + 1;
  }
  return "";
}

}  // namespace logtest
