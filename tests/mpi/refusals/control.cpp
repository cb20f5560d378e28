// Compiled by tests/mpi/check_compile_refusals.cmake: the control must compile.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sk/mpi.hpp>

void f(sk::mpi::Pool& pool, std::vector<int> items) {
  std::string s = "x";
  int k = 2;
  pool.map([k](int x) { return x * k; }, items);
  pool.map(sk::mpi::bind([](const std::string& p, int x) { return p + std::to_string(x); }, s), items);
}
