#!/usr/bin/env python3
"""Python multiprocessing baselines for the suitkaise-cpp benchmark report.

Each workload does the same work as the C++ benchmark it is compared with and
prints one JSON object per line: {"name", "value", "unit", "procs", "note"}.
Run with the system python3; only the standard library is used.

    python3 bench/python/mp_baselines.py [--quick]
    python3 bench/python/mp_baselines.py --scaling 1,2,4,8,16   (the Share
        workloads only, once per process count; names end in "/procs:P")
"""
import json
import multiprocessing as mp
import os
import sys
import time

QUICK = "--quick" in sys.argv
CTX = mp.get_context("fork")


def emit(name, value, unit, procs=1, note=""):
    print(json.dumps({"name": name, "value": value, "unit": unit, "procs": procs, "note": note}), flush=True)


def run_all(target, arglists):
    """Starts one process per argument tuple, waits for all; returns the seconds taken."""
    ps = [CTX.Process(target=target, args=a) for a in arglists]
    t0 = time.perf_counter()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return time.perf_counter() - t0


# ---- Share workloads -------------------------------------------------------
def _value_inc(v, n):
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def value_increments(procs, n):
    v = CTX.Value("l", 0)
    dt = run_all(_value_inc, [(v, n)] * procs)
    assert v.value == procs * n, v.value
    return procs * n / dt


def _ns_inc(ns, lock, n):
    for _ in range(n):
        with lock:
            ns.counter += 1


def manager_namespace_increments(mgr, procs, n):
    ns = mgr.Namespace()
    ns.counter = 0
    lock = mgr.Lock()
    dt = run_all(_ns_inc, [(ns, lock, n)] * procs)
    assert ns.counter == procs * n, ns.counter
    return procs * n / dt


def _list_append(lst, n, base):
    for i in range(n):
        lst.append(base + i)


def manager_list_appends(mgr, procs, n):
    lst = mgr.list()
    dt = run_all(_list_append, [(lst, n, k * n) for k in range(procs)])
    assert len(lst) == procs * n
    return procs * n / dt


def _dict_update(d, lock, n, k):
    for i in range(n):
        with lock:
            d["k%d" % ((i + k) % 16)] = d.get("k%d" % ((i + k) % 16), 0) + 1


def manager_dict_updates(mgr, procs, n):
    d = mgr.dict()
    lock = mgr.Lock()
    dt = run_all(_dict_update, [(d, lock, n, k) for k in range(procs)])
    assert sum(d.values()) == procs * n
    return procs * n / dt


# ---- Pipe / Queue workloads ------------------------------------------------
def _pipe_sink(conn, count):
    for _ in range(count):
        conn.recv_bytes()
    conn.send_bytes(b"done")


def pipe_throughput(size, count):
    a, b = CTX.Pipe()
    p = CTX.Process(target=_pipe_sink, args=(b, count))
    p.start()
    payload = b"x" * size
    t0 = time.perf_counter()
    for _ in range(count):
        a.send_bytes(payload)
    a.recv_bytes()
    dt = time.perf_counter() - t0
    p.join()
    return count / dt


def _pipe_echo(conn, count):
    for _ in range(count):
        conn.send_bytes(conn.recv_bytes())


def pipe_round_trip(count):
    a, b = CTX.Pipe()
    p = CTX.Process(target=_pipe_echo, args=(b, count))
    p.start()
    payload = b"x" * 64
    t0 = time.perf_counter()
    for _ in range(count):
        a.send_bytes(payload)
        a.recv_bytes()
    dt = time.perf_counter() - t0
    p.join()
    return dt / count * 1e9


def _queue_sink(q, done, count):
    for _ in range(count):
        q.get()
    done.put(1)


def queue_throughput(count):
    q, done = CTX.Queue(), CTX.Queue()
    p = CTX.Process(target=_queue_sink, args=(q, done, count))
    p.start()
    payload = b"x" * 64
    t0 = time.perf_counter()
    for _ in range(count):
        q.put(payload)
    done.get()
    dt = time.perf_counter() - t0
    p.join()
    return count / dt


# ---- Process / Pool workloads ----------------------------------------------
def _trivial_result(q):
    q.put(42)


def process_start_to_result(count):
    t0 = time.perf_counter()
    for _ in range(count):
        q = CTX.SimpleQueue()
        p = CTX.Process(target=_trivial_result, args=(q,))
        p.start()
        assert q.get() == 42
        p.join()
    return (time.perf_counter() - t0) / count * 1e6


def _double(x):
    return x * 2


def pool_map(pool, items, reps):
    data = list(range(items))
    t0 = time.perf_counter()
    for _ in range(reps):
        out = pool.map(_double, data, chunksize=max(1, items // 64))
    dt = (time.perf_counter() - t0) / reps
    assert out[-1] == (items - 1) * 2 if items else True
    return dt


def main():
    procs = 4
    k = 1 if QUICK else 5
    emit("py.Value.increment", value_increments(procs, 5000 * k), "ops/s", procs, "multiprocessing.Value with its lock")
    with CTX.Manager() as mgr:
        emit("py.Manager.Namespace.increment", manager_namespace_increments(mgr, procs, 300 * k), "ops/s", procs,
             "Manager().Namespace counter under a Manager lock")
        emit("py.Manager.list.append", manager_list_appends(mgr, procs, 1000 * k), "ops/s", procs, "Manager().list().append")
        emit("py.Manager.dict.update", manager_dict_updates(mgr, procs, 300 * k), "ops/s", procs,
             "Manager().dict read-modify-write under a Manager lock")
    for size, count in ((64, 20000 * k), (4096, 10000 * k), (1 << 20, 200 * k)):
        emit("py.Pipe.throughput.%d" % size, pipe_throughput(size, count), "msgs/s", 2, "multiprocessing.Pipe send_bytes")
    emit("py.Pipe.round_trip.64", pipe_round_trip(5000 * k), "ns", 2, "multiprocessing.Pipe echo")
    emit("py.Queue.throughput.64", queue_throughput(20000 * k), "msgs/s", 2, "multiprocessing.Queue put/get")
    emit("py.Process.start_to_result", process_start_to_result(20 * k), "us", 2, "Process start + SimpleQueue result + join")
    with CTX.Pool(procs) as pool:
        for items in (4, 100):
            emit("py.Pool.map.%d" % items, pool_map(pool, items, 50 * k) * 1e6, "us/call", procs, "live Pool.map per call")
        n = 200000 if QUICK else 1000000
        dt = pool_map(pool, n, 1)
        emit("py.Pool.map.items_per_s", n / dt, "items/s", procs, "live Pool.map of a trivial function, %d items" % n)


def scaling(counts):
    """The contended Share workloads at each process count (for bench/python/scaling.py)."""
    k = 1 if QUICK else 5
    for procs in counts:
        emit("py.Value.increment/procs:%d" % procs, value_increments(procs, 5000 * k), "ops/s", procs,
             "multiprocessing.Value with its lock")
        with CTX.Manager() as mgr:
            emit("py.Manager.Namespace.increment/procs:%d" % procs, manager_namespace_increments(mgr, procs, 300 * k),
                 "ops/s", procs, "Manager().Namespace counter under a Manager lock")
            emit("py.Manager.list.append/procs:%d" % procs, manager_list_appends(mgr, procs, 1000 * k), "ops/s",
                 procs, "Manager().list().append")


if __name__ == "__main__":
    if "--scaling" in sys.argv:
        scaling([int(p) for p in sys.argv[sys.argv.index("--scaling") + 1].split(",")])
    else:
        main()
