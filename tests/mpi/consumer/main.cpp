// Links against the installed suitkaise::mpi and maps over the job's ranks.
#include <cstdio>
#include <vector>

#include <sk/mpi.hpp>

int main(int argc, char** argv) {
  sk::mpi::Session session(argc, argv);
  sk::mpi::Pool pool(session);
  const auto out = pool.map([](int x) { return x * x; }, std::vector<int>{1, 2, 3, 4});
  if (out != std::vector<int>{1, 4, 9, 16}) return 1;
  std::printf("mpi consumer: %zu nodes ok\n", session.nodes().size());
  return 0;
}
