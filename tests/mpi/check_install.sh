#!/usr/bin/env bash
# Proves the installed component works: installs the build in <builddir> into a
# temporary prefix, then configures, builds and runs tests/mpi/consumer
# (find_package(suitkaise COMPONENTS mpi) + suitkaise::mpi) under mpirun -np 2.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build=${1:?usage: check_install.sh <builddir>}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$root/tests/mpi/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$root/tests/mpi/mpirun_test.sh" --np 2 --every-rank-a-node --timeout 60 -- "$tmp/consumer/mpi_consumer"
echo "check_install.sh: find_package(suitkaise COMPONENTS mpi) consumer built and ran"
