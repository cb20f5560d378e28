#!/usr/bin/env bash
# Runs a test program under mpirun for CTest, and fails if any process of the
# run (ranks, their local Pool workers) is still there after mpirun returns.
#   mpirun_test.sh --np N [--every-rank-a-node] [--recovery] [--expect-failure]
#                  [--timeout S] -- PROGRAM [ARGS...]
#   --every-rank-a-node  SK_MPI_EVERY_RANK_A_NODE=1: the inter-node path on one machine
#   --recovery           mpirun --enable-recovery: the job outlives a dead rank
#   --expect-failure     the job must end with a non-zero status (not a timeout)
#   --expect-output RE   the job's output must match the extended regex RE
# Exit 77 (CTest: skipped) when mpirun is not installed.
set -uo pipefail
np=1; every=0; recovery=0; expect=0; limit=120; want=""
while (($#)); do
  case "$1" in
    --np) np=$2; shift ;;
    --every-rank-a-node) every=1 ;;
    --recovery) recovery=1 ;;
    --expect-failure) expect=1 ;;
    --timeout) limit=$2; shift ;;
    --expect-output) want=$2; shift ;;
    --) shift; break ;;
    *) echo "mpirun_test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
(($#)) || { echo "mpirun_test.sh: no program given" >&2; exit 2; }
if ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIPPED: mpirun is not installed (scripts/setup installs openmpi-bin and libopenmpi-dev)"
  exit 77
fi

# Every process of this run carries the marker on its command line (the
# local Pool's workers are forks of the ranks, with the same command line).
marker="--sk-test-run=$$-$RANDOM$RANDOM"
args=(--oversubscribe --mca btl self,tcp -np "$np")
[[ $(id -u) -eq 0 ]] && args+=(--allow-run-as-root)
((recovery)) && args+=(--enable-recovery)
if ((every)); then
  export SK_MPI_EVERY_RANK_A_NODE=1
  args+=(-x SK_MPI_EVERY_RANK_A_NODE)
fi
for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS SK_MPI_LOST_AFTER_MS; do
  [[ -n ${!v:-} ]] && args+=(-x "$v")
done

start=$(date +%s%N)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# To a file, not a pipe: a process left behind would hold a pipe open.
timeout -k 5 "$limit" mpirun "${args[@]}" "$@" "$marker" >"$out" 2>&1
rc=$?
cat "$out"
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "mpirun_test.sh: mpirun -np $np returned $rc after $took_ms ms"

# Processes that outlive mpirun by more than a moment were left behind. The
# pattern "[-]-sk-test-run=..." matches the marker but not grep's own command line.
alive_of_run() { grep -l -a -E -- "[-]${marker#-}" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 || true; }
left=""
for _ in $(seq 1 20); do
  left=$(alive_of_run)
  [[ -z $left ]] && break
  sleep 0.1
done
if [[ -n $left ]]; then
  echo "FAIL: processes of this run are still alive after mpirun returned:"
  ps -o pid,ppid,stat,etime,args -p "$(echo $left | tr ' ' ',')" || true
  kill -9 $left 2>/dev/null || true  # only the processes this run started (they carry its marker)
  exit 1
fi
if ((rc == 124 || took_ms >= limit * 1000)); then
  echo "FAIL: the job did not end within ${limit} s"
  exit 1
fi
if [[ -n $want ]] && ! grep -Eq -- "$want" "$out"; then
  echo "FAIL: the output does not match /$want/"
  exit 1
fi
if ((expect)); then
  if ((rc == 0)); then echo "FAIL: the job was expected to end with a failure status"; exit 1; fi
  echo "ok: the job ended (status $rc) and left nothing behind"
  exit 0
fi
if [[ -n $want ]]; then echo "ok: the job ended and said what it should"; exit 0; fi
exit "$rc"
