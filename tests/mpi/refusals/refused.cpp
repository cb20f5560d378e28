// Compiled by tests/mpi/check_compile_refusals.cmake: every function below
// must be refused at compile time with the message on its "// expect:" line
// (a regex); tests/mpi/refusals/control.cpp, which must compile, keeps the
// command line honest.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sk/mpi.hpp>

// expect: the function must be a captureless lambda
void bind_with_captures(sk::mpi::Pool& pool, std::vector<int> items) {
  int k = 1;
  pool.map(sk::mpi::bind([k](int a, int x) { return a + x + k; }, 1), items);
}

// expect: a function pointer is an address in rank 0's process
void function_pointer(sk::mpi::Pool& pool, std::vector<int> items) {
  int (*g)(int) = nullptr;
  pool.map(g, items);
}

// expect: std::ref\(obj\) is an address
void std_ref(sk::mpi::Pool& pool, std::vector<int> items) {
  auto l = [](int x) { return x; };
  pool.map(std::ref(l), items);
}

// expect: the callable's captures cannot be serialized
void string_capture(sk::mpi::Pool& pool, std::vector<int> items) {
  std::string s = "x";
  pool.map([s](int x) { return s.size() + x; }, items);
}

// expect: the items must be Serializable
void unserializable_item(sk::mpi::Pool& pool, std::vector<int> items) {
  std::vector<std::unique_ptr<int>> u;
  pool.map([](const std::unique_ptr<int>& p) { return *p; }, u);
}
