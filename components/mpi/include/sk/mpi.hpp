#pragma once
// suitkaise across machines: the local sk::Pool's map family over the nodes
// of an Open MPI job. Component suitkaise::mpi (find_package(suitkaise
// COMPONENTS mpi)); nothing else in the library needs MPI. docs/mpi.md.
//
//   int main(int argc, char** argv) {
//     sk::mpi::Session session(argc, argv);            // ranks other than 0 serve in here
//     sk::mpi::Pool pool(session);
//     std::vector<int> items(1000);
//     std::iota(items.begin(), items.end(), 0);
//     auto squares = pool.map([](int x) { return x * x; }, items);
//   }
//
//   mpirun -np 4 ./program          (one rank per node: --map-by ppr:1:node)
#include <sk/mpi/call.hpp>
#include <sk/mpi/errors.hpp>
#include <sk/mpi/job.hpp>
#include <sk/mpi/pool.hpp>
#include <sk/mpi/session.hpp>
