"""Which benchmark is compared with which baseline in bench/RESULTS.md.

A reference is ("gb", "<Google Benchmark name, or a regex matched in full>")
or ("py", "<python baseline name>" from bench/python/mp_baselines.py).
Metrics: "rate:items_per_second" (any counter; higher is better), "time" (ns
per iteration; lower is better), "py" (the python figure, times `scale`).
Rows whose benchmarks did not run show n/a.
"""

S = "(/manual_time|/real_time)?"  # suffixes Google Benchmark adds


def gb(name):
    return ("gb", name + S)


def py(name):
    return ("py", name)


RATE = "rate:items_per_second"


def mpi_row(kind, k):
    """A row of the MPI Pool section: 'map' (items/s of 8,192 ~4 us items) or 'call'
    (time of a call with one trivial item per rank), at k ranks (bench/mpi_pool.cpp)."""
    s = "" if k == 1 else "s"
    items, what = ("8192", "map, 8,192 items of ~4 us") if kind == "map" else ("0", "per call: one trivial item per rank")
    m = RATE if kind == "map" else "time"
    row = {"name": "%s, %d rank%s" % (what, k, s), "procs": "%d (+%d workers)" % (k, k),
           "unit": "items/s" if kind == "map" else "ns", "ours": gb("BM_mpi_pool_map/ranks:%d/items:%s" % (k, items)),
           "metric": m, "baselines": [
               ("local sk::Pool, %d persistent worker%s" % (k, s), gb("BM_local_pool_map/ranks:%d/items:%s" % (k, items)), m),
               ("hand-written MPI_Scatter/MPI_Gather, %d rank%s" % (k, s),
                gb("BM_mpi_scatter_gather/ranks:%d/items:%s" % (k, items)), m)]}
    if kind == "call":
        row["higher_better"] = False
    return row

SECTIONS = [
    {
        "title": "Share: counters and values",
        "note": "N processes hammer one slot; figures are operations per second over all processes.",
        "rows": [
            {"name": "sk::Atomic<long> += 1", "procs": "4", "unit": "ops/s", "ours": gb("BM_atomic_sk/procs:4"),
             "metric": RATE, "baselines": [
                 ("raw std::atomic in MAP_SHARED", gb("BM_atomic_raw/procs:4"), RATE),
                 ("boost interprocess_mutex counter", gb("BM_counter_ipmutex/procs:4"), RATE),
                 ("Python multiprocessing.Value (with its lock)", py("py.Value.increment"), "py"),
                 ("Python Manager().Namespace counter", py("py.Manager.Namespace.increment"), "py")]},
            {"name": "sk::Counter<long> += 1 (striped)", "procs": "4", "unit": "ops/s",
             "ours": gb("BM_counter_sk/procs:4"), "metric": RATE, "baselines": [
                 ("sk::Atomic<long> (one contended line)", gb("BM_atomic_sk/procs:4"), RATE),
                 ("raw std::atomic in MAP_SHARED", gb("BM_atomic_raw/procs:4"), RATE)]},
            {"name": "sk::Counter<long> += 1 (striped)", "procs": "2", "unit": "ops/s",
             "ours": gb("BM_counter_sk/procs:2"), "metric": RATE, "baselines": [
                 ("sk::Atomic<long> (one contended line)", gb("BM_atomic_sk/procs:2"), RATE)]},
            {"name": "sk::Value<64 B>.load() under 1 writer process", "procs": "2", "unit": "ns",
             "higher_better": False, "ours": gb("BM_value_load_sk/writers:1"), "metric": "time", "baselines": [
                 ("64 B under boost interprocess_mutex", gb("BM_value_load_ipmutex/writers:1"), "time")]},
            {"name": "sk::Value<64 B>.store() under 1 writer process", "procs": "2", "unit": "ns",
             "higher_better": False, "ours": gb("BM_value_store_sk/writers:1"), "metric": "time", "baselines": [
                 ("64 B under boost interprocess_mutex", gb("BM_value_store_ipmutex/writers:1"), "time")]},
            {"name": "Shared<Account>::call<&deposit> (2 fields)", "procs": "4", "unit": "ops/s",
             "ours": gb("BM_shared_call/procs:4"), "metric": RATE, "baselines": [
                 ("Python Manager().dict read-modify-write", py("py.Manager.dict.update"), "py")]},
        ],
    },
    {
        "title": "Share: lists, logs, objects",
        "rows": [
            {"name": "sk::List<int>::append", "procs": "4", "unit": "ops/s", "ours": gb("BM_list_append/procs:4"),
             "metric": RATE, "baselines": [("Python Manager().list().append", py("py.Manager.list.append"), "py"),
                                           ("our own 1-process rate", gb("BM_list_append/procs:1"), RATE),
                                           ("floor: fetch_add + 16-byte cell store in MAP_SHARED",
                                            gb("BM_list_append_floor/procs:4"), RATE)]},
            {"name": "sk::Log::info records", "procs": "4", "unit": "ops/s", "ours": gb("BM_log_info/procs:4"),
             "metric": RATE, "baselines": [("Python Manager().list().append (a log as a list)",
                                            py("py.Manager.list.append"), "py")]},
            {"name": "sk::Object<map<string,int>>::update", "procs": "4", "unit": "ops/s",
             "ours": gb("BM_object_update/procs:4"), "metric": RATE, "baselines": [
                 ("Python Manager().dict read-modify-write", py("py.Manager.dict.update"), "py")]},
            {"name": "Sktimer add_time into one shared timer", "procs": "4", "unit": "ops/s",
             "ours": gb("BM_ours_shared_timer_add_time"), "metric": RATE, "baselines": [
                 ("single-lock timer in shared memory", gb("BM_locked_timer_add_time"), RATE)]},
            {"name": "Circuit short() on one shared circuit", "procs": "4", "unit": "ops/s",
             "ours": gb("BM_ours_circuit_short"), "metric": RATE, "baselines": [
                 ("single-lock circuit in shared memory", gb("BM_locked_circuit_short"), RATE)]},
        ],
    },
    {
        "title": "Logging with spdlog (suitkaise::spdlog)",
        "note": "P processes x 20,000 spdlog calls. Ours: through sk::spdlog_sink into one shared sk::Log (one "
                "total order); `to a file` adds the parent's sk::LogForwarder writing every record to a file, timed "
                "until the file is flushed. Baseline: spdlog's own basic_file_sink_mt in every process, all appending "
                "to one file (O_APPEND); its lines can be cut into each other (torn_lines, table at the end).",
        "rows": [
            {"name": "spdlog calls -> sk::spdlog_sink", "procs": "1", "unit": "records/s",
             "ours": gb("BM_spdlog_sk_sink/procs:1"), "metric": RATE, "baselines": [
                 ("spdlog basic_file_sink_mt, one file, O_APPEND", gb("BM_spdlog_basic_file_sink/procs:1"), RATE)]},
            {"name": "spdlog calls -> sk::spdlog_sink", "procs": "4", "unit": "records/s",
             "ours": gb("BM_spdlog_sk_sink/procs:4"), "metric": RATE, "baselines": [
                 ("spdlog basic_file_sink_mt, one file, O_APPEND", gb("BM_spdlog_basic_file_sink/procs:4"), RATE)]},
            {"name": "spdlog calls -> sk::spdlog_sink_st (no mutex)", "procs": "4", "unit": "records/s",
             "ours": gb("BM_spdlog_sk_sink_st/procs:4"), "metric": RATE, "baselines": [
                 ("spdlog basic_file_sink_mt, one file, O_APPEND", gb("BM_spdlog_basic_file_sink/procs:4"), RATE)]},
            {"name": "spdlog calls -> sk::spdlog_sink -> LogForwarder -> file", "procs": "1", "unit": "records/s",
             "ours": gb("BM_spdlog_sk_sink_to_file/procs:1"), "metric": RATE, "baselines": [
                 ("spdlog basic_file_sink_mt, one file, O_APPEND", gb("BM_spdlog_basic_file_sink/procs:1"), RATE)]},
            {"name": "spdlog calls -> sk::spdlog_sink -> LogForwarder -> file", "procs": "4", "unit": "records/s",
             "ours": gb("BM_spdlog_sk_sink_to_file/procs:4"), "metric": RATE, "baselines": [
                 ("spdlog basic_file_sink_mt, one file, O_APPEND", gb("BM_spdlog_basic_file_sink/procs:4"), RATE)]},
        ],
    },
    {
        "title": "Rings and Pipe (2 processes)",
        "note": "Messages one way between 2 processes; `spin` = the consumer busy-polls, `block` = it parks on a "
                "futex (Boost's spsc_queue cannot park, so its block variant yields). Pipe rows: `send` of a "
                "`std::vector<uint8_t>` framed to the size shown, received as a new vector; ZeroMQ (PAIR) and nng "
                "(pair1) over ipc://. Round trips: mean, and p50/p99/p99.9 of every round trip (each sample "
                "includes one clock read); latency mode = both ends spin with pause, pinned to CPUs 0 and 1. "
                "`SpscRing` is the reference ring (bench/baselines/spsc_ring.hpp, not part of the library): "
                "the yardstick the Pipe is held to.",
        "rows": [
            {"name": "SpscRing 64 B, spin", "procs": "2", "unit": "msgs/s", "ours": gb("msg64/spin/ours_spsc_ring"),
             "metric": RATE, "baselines": [("boost::lockfree::spsc_queue in shm", gb("msg64/spin/boost_spsc_shm"), RATE)]},
            {"name": "SpscRing 64 B, block", "procs": "2", "unit": "msgs/s", "ours": gb("msg64/block/ours_spsc_ring"),
             "metric": RATE, "baselines": [
                 ("boost::lockfree::spsc_queue in shm (yield)", gb("msg64/block/boost_spsc_shm_yield"), RATE),
                 ("pipe(2)", gb("msg64/block/pipe"), RATE),
                 ("Unix socketpair", gb("msg64/block/socketpair_unix_stream"), RATE)]},
            {"name": "SpscRing 64 B, block, batch publish 32", "procs": "2", "unit": "msgs/s",
             "ours": gb("msg64/block/ours_spsc_ring_batch32"), "metric": RATE, "baselines": [
                 ("boost spsc_queue in shm, batch 32", gb("msg64/block/boost_spsc_shm_yield_batch32"), RATE),
                 ("pipe(2)", gb("msg64/block/pipe"), RATE)]},
            {"name": "Pipe.send 64 B", "procs": "2", "unit": "msgs/s", "ours": gb("throughput/ours_send/64"),
             "metric": RATE, "baselines": [
                 ("pipe(2)", gb("throughput/pipe/64"), RATE),
                 ("Unix socketpair", gb("throughput/socketpair_unix_stream/64"), RATE),
                 ("boost::interprocess::message_queue", gb("throughput/boost_message_queue/64"), RATE),
                 ("ZeroMQ PAIR over ipc://", gb("throughput/zeromq_pair_ipc/64"), RATE),
                 ("nng pair1 over ipc://", gb("throughput/nng_pair1_ipc/64"), RATE),
                 ("our SpscRing 64 B, block (a fixed-slot ring, no framing)", gb("msg64/block/ours_spsc_ring"), RATE),
                 ("Python multiprocessing.Pipe", py("py.Pipe.throughput.64"), "py")]},
            {"name": "Pipe.send 64 B std::array (no allocation)", "procs": "2", "unit": "msgs/s",
             "ours": gb("throughput/ours_send_pod/64"), "metric": RATE, "baselines": [
                 ("boost::interprocess::message_queue", gb("throughput/boost_message_queue/64"), RATE),
                 ("our SpscRing 64 B, block (a fixed-slot ring, no framing)", gb("msg64/block/ours_spsc_ring"), RATE)]},
            {"name": "Pipe.send 4 KiB", "procs": "2", "unit": "msgs/s", "ours": gb("throughput/ours_send/4096"),
             "metric": RATE, "baselines": [
                 ("pipe(2)", gb("throughput/pipe/4096"), RATE),
                 ("Unix socketpair", gb("throughput/socketpair_unix_stream/4096"), RATE),
                 ("boost::interprocess::message_queue", gb("throughput/boost_message_queue/4096"), RATE),
                 ("ZeroMQ PAIR over ipc://", gb("throughput/zeromq_pair_ipc/4096"), RATE),
                 ("nng pair1 over ipc://", gb("throughput/nng_pair1_ipc/4096"), RATE),
                 ("Python multiprocessing.Pipe", py("py.Pipe.throughput.4096"), "py")]},
            {"name": "Pipe.send 1 MiB (copy)", "procs": "2", "unit": "msgs/s", "ours": gb("throughput/ours_send/1048576"),
             "metric": RATE, "baselines": [
                 ("Pipe loan + view + memcpy out (the copy floor)", gb("throughput/ours_loan_view_copy/1048576"), RATE),
                 ("pipe(2)", gb("throughput/pipe/1048576"), RATE),
                 ("Unix socketpair", gb("throughput/socketpair_unix_stream/1048576"), RATE),
                 ("boost::interprocess::message_queue", gb("throughput/boost_message_queue/1048576"), RATE),
                 ("ZeroMQ PAIR over ipc://", gb("throughput/zeromq_pair_ipc/1048576"), RATE),
                 ("nng pair1 over ipc://", gb("throughput/nng_pair1_ipc/1048576"), RATE),
                 ("Python multiprocessing.Pipe", py("py.Pipe.throughput.1048576"), "py")]},
            {"name": "Pipe loan + view 1 MiB (zero copy)", "procs": "2", "unit": "msgs/s",
             "ours": gb("throughput/ours_loan_view/1048576"), "metric": RATE, "baselines": [
                 ("Pipe.send 1 MiB (copy)", gb("throughput/ours_send/1048576"), RATE),
                 ("pipe(2)", gb("throughput/pipe/1048576"), RATE)]},
            {"name": "Pipe round trip 64 B, blocking (mean)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("rtt/64B/ours"), "metric": "time", "baselines": [
                 ("pipe(2)", gb("rtt/64B/pipe"), "time"),
                 ("Unix socketpair", gb("rtt/64B/socketpair_unix_stream"), "time"),
                 ("boost::interprocess::message_queue", gb("rtt/64B/boost_message_queue"), "time"),
                 ("ZeroMQ PAIR over ipc://", gb("rtt/64B/zeromq_pair_ipc"), "time"),
                 ("nng pair1 over ipc://", gb("rtt/64B/nng_pair1_ipc"), "time"),
                 ("bare cache-line ping-pong (floor)", gb("rtt/64B/cacheline_spin_floor"), "time"),
                 ("Python multiprocessing.Pipe", py("py.Pipe.round_trip.64"), "py")]},
            {"name": "Pipe round trip 64 B, latency mode (mean)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("rtt/64B/ours_latency_mode"), "metric": "time", "baselines": [
                 ("bare cache-line ping-pong (floor)", gb("rtt/64B/cacheline_spin_floor"), "time"),
                 ("Pipe round trip, blocking", gb("rtt/64B/ours"), "time")]},
            {"name": "Pipe round trip 64 B, blocking (p50)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("rtt/64B/ours"), "metric": "counter:p50_ns", "baselines": [
                 ("bare cache-line ping-pong (floor, p50)", gb("rtt/64B/cacheline_spin_floor"), "counter:p50_ns")]},
            {"name": "Pipe round trip 64 B, blocking (p99)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("rtt/64B/ours"), "metric": "counter:p99_ns", "baselines": [
                 ("bare cache-line ping-pong (floor, p99)", gb("rtt/64B/cacheline_spin_floor"), "counter:p99_ns")]},
            {"name": "Pipe round trip 64 B, blocking (p99.9)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("rtt/64B/ours"), "metric": "counter:p999_ns", "baselines": [
                 ("bare cache-line ping-pong (floor, p99.9)", gb("rtt/64B/cacheline_spin_floor"), "counter:p999_ns")]},
            {"name": "Pipe round trip 64 B, latency mode (p50)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("rtt/64B/ours_latency_mode"), "metric": "counter:p50_ns", "baselines": [
                 ("bare cache-line ping-pong (floor, p50)", gb("rtt/64B/cacheline_spin_floor"), "counter:p50_ns")]},
            {"name": "Pipe round trip 64 B, latency mode (p99)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("rtt/64B/ours_latency_mode"), "metric": "counter:p99_ns", "baselines": [
                 ("bare cache-line ping-pong (floor, p99)", gb("rtt/64B/cacheline_spin_floor"), "counter:p99_ns")]},
            {"name": "Pipe round trip 64 B, latency mode (p99.9)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("rtt/64B/ours_latency_mode"), "metric": "counter:p999_ns", "baselines": [
                 ("bare cache-line ping-pong (floor, p99.9)", gb("rtt/64B/cacheline_spin_floor"), "counter:p999_ns")]},
        ],
    },
    {
        "title": "Skprocess",
        "rows": [
            {"name": "start-to-result, trivial worker (direct)", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("BM_Skprocess_start_to_result_direct"), "metric": "time", "baselines": [
                 ("raw fork + pipe + waitpid", gb("BM_Raw_fork_pipe_waitpid"), "time"),
                 ("Python multiprocessing.Process", py("py.Process.start_to_result"), "py_us")]},
            {"name": "start-to-result, trivial worker (supervised)", "procs": "3", "unit": "ns",
             "higher_better": False, "ours": gb("BM_Skprocess_start_to_result_supervised"), "metric": "time",
             "baselines": [("raw fork + pipe + waitpid", gb("BM_Raw_fork_pipe_waitpid"), "time")]},
            {"name": "tell/listen round trip 64 B", "procs": "2", "unit": "ns", "higher_better": False,
             "ours": gb("BM_Skprocess_tell_listen_round_trip_64B"), "metric": "time", "baselines": [
                 ("pipe(2) ping-pong", gb("BM_Pipe_round_trip_64B"), "time"),
                 ("Python multiprocessing.Pipe", py("py.Pipe.round_trip.64"), "py")]},
            {"name": "tell one way 64 B", "procs": "2", "unit": "msgs/s", "ours": gb("BM_Skprocess_one_way_64B"),
             "metric": RATE, "baselines": [
                 ("pipe(2)", gb("BM_Pipe_one_way_64B"), RATE),
                 ("Python multiprocessing.Queue", py("py.Queue.throughput.64"), "py")]},
        ],
    },
    {
        "title": "Pool",
        "note": "`fork` = default mode (workers forked per call, see the parent's memory at the call); "
                "`persistent` = workers live across calls.",
        "rows": [
            {"name": "map over 4 items (per-call overhead), fork mode", "procs": "1+4", "unit": "ns",
             "higher_better": False, "ours": gb("BM_Pool_fork_map/4"), "metric": "time", "baselines": [
                 ("forking the workers (static split)", gb("BM_Baseline_fork_static_split/4"), "time"),
                 ("Python Pool.map (live pool)", py("py.Pool.map.4"), "py_us")]},
            {"name": "map over 4 items (per-call overhead), persistent", "procs": "1+4", "unit": "ns",
             "higher_better": False, "ours": gb("BM_Pool_persistent_map/4"), "metric": "time", "baselines": [
                 ("Python Pool.map (live pool)", py("py.Pool.map.4"), "py_us"),
                 ("std::thread parallel loop (ceiling)", gb("BM_Baseline_threads_parallel_for/4"), "time")]},
            {"name": "map over 100 items, persistent", "procs": "1+4", "unit": "ns", "higher_better": False,
             "ours": gb("BM_Pool_persistent_map/100"), "metric": "time", "baselines": [
                 ("Python Pool.map (live pool)", py("py.Pool.map.100"), "py_us")]},
            {"name": "map of a trivial function, 1M items, fork mode", "procs": "1+4", "unit": "items/s",
             "ours": gb("BM_Pool_fork_map/1000000"), "metric": RATE, "baselines": [
                 ("Python Pool.map items/s", py("py.Pool.map.items_per_s"), "py"),
                 ("std::thread parallel loop (ceiling)", gb("BM_Baseline_threads_parallel_for/1000000"), RATE)]},
            {"name": "map of a trivial function, 1M items, persistent", "procs": "1+4", "unit": "items/s",
             "ours": gb("BM_Pool_persistent_map/1000000"), "metric": RATE, "baselines": [
                 ("Python Pool.map items/s", py("py.Pool.map.items_per_s"), "py")]},
            {"name": "map of x*2 over 1M ints, persistent, 2 workers", "procs": "1+2", "unit": "items/s",
             "ours": gb("BM_Fine_pool_persistent_x2_1M_2workers"), "metric": RATE, "baselines": [
                 ("2 std::threads filling the same vector", gb("BM_Fine_baseline_2threads_x2_1M"), RATE),
                 ("Python Pool.map items/s (4 workers, x*2)", py("py.Pool.map.items_per_s"), "py")]},
            {"name": "map of x*2 over 1M ints, fork mode, 2 workers", "procs": "1+2", "unit": "items/s",
             "ours": gb("BM_Fine_pool_fork_x2_1M_2workers"), "metric": RATE, "baselines": [
                 ("2 std::threads filling the same vector", gb("BM_Fine_baseline_2threads_x2_1M"), RATE),
                 ("Python Pool.map items/s (4 workers, x*2)", py("py.Pool.map.items_per_s"), "py")]},
            {"name": "skewed costs (a few items 100x slower): makespan", "procs": "1+4", "unit": "ns",
             "higher_better": False, "ours": gb("BM_Skewed_pool_stealing"), "metric": "time", "baselines": [
                 ("static split (no stealing)", gb("BM_Skewed_static_split"), "time")]},
        ],
    },
    {
        "title": "MPI Pool (sk::mpi::Pool, 4 ranks on this machine, each its own node)",
        "note": "`bench/mpi_pool.cpp` under `mpirun -np 4 --oversubscribe --mca btl self,tcp` with "
                "SK_MPI_EVERY_RANK_A_NODE=1: every rank is a node of its own and chunks travel over TCP. At k "
                "ranks, the MPI Pool uses k nodes with one local worker each, the local Pool k persistent "
                "workers, and the baseline scatters the items over the first k ranks, computes its block on each "
                "and gathers the results (a static split, no fault handling, no stealing). Results are checked.\n\n"
                "What this machine shows: all ranks and workers share its cores, so no row can scale with k here; "
                "the items/s rows measure what distribution costs on top of the same work, the per-call rows the "
                "fixed cost of one call (for the MPI Pool: the chunk out, the local Pool's call on the node, the "
                "results back, and the progress loops' pauses, at most 100 us per hop while calls come in bursts "
                "and 1 ms on a rank idle for longer than 50 ms).\n\n"
                "What a real cluster changes. Cores: each node brings its own, so items/s grows with the nodes "
                "until rank 0's link is full: every item's bytes leave rank 0 and every result comes back to it, "
                "so a call moves at most (link bandwidth) / (item bytes + result bytes) items per second (16 B "
                "per item here: far from that; 1 MB items: about 1,200 per second on a 10 Gb/s link). Latency: "
                "a call's fixed cost is about two network round trips plus the local Pool's call, so it grows "
                "from loopback's to the network's round trip; inside a call the round trip is hidden, because "
                "every node holds a second chunk while it runs the first, as long as a chunk takes longer than a "
                "round trip.\n\n"
                "How chunk size adapts: a node's first chunks hold one item per local worker; each result "
                "reports the chunk's wall time on the node, rank 0 fits time = overhead + items x cost to the "
                "node's last 8 chunks, and the next chunk is sized to take max(chunk_target (20 ms), 8 x "
                "overhead), at most 8x the previous one, at most the remaining items over twice the nodes (so "
                "the end of a call splits over every node) and at most 32 MiB of items. The "
                "`chunks` and `steals` counters in the table at the end give the counts of the last call. On a "
                "network with a longer round trip, raise PoolOptions::chunk_target so that a chunk stays much "
                "longer than a round trip.",
        "rows": [mpi_row(kind, k) for kind in ("map", "call") for k in (1, 2, 4)],
    },
    {
        "title": "Foundation",
        "rows": [
            {"name": "fetch_add on a counter in the arena", "procs": "4", "unit": "ops/s",
             "ours": gb("BM_counter_arena/procs:4"), "metric": RATE, "baselines": [
                 ("raw std::atomic in MAP_SHARED", gb("BM_counter_raw/procs:4"), RATE),
                 ("boost interprocess_mutex counter", gb("BM_counter_ipmutex/procs:4"), RATE)]},
            {"name": "arena allocate+free 64 B", "procs": "4", "unit": "ops/s",
             "ours": gb("BM_alloc_free_arena/procs:4"), "metric": RATE, "baselines": [
                 ("boost::interprocess managed_shared_memory", gb("BM_alloc_free_boost/procs:4"), RATE)]},
            {"name": "arena allocate+free, mixed 16 B..64 KiB", "procs": "1", "unit": "ops/s",
             "ours": gb("BM_alloc_free_mixed_arena/procs:1"), "metric": RATE, "baselines": [
                 ("boost::interprocess managed_shared_memory (best fit)", gb("BM_alloc_free_mixed_boost/procs:1"),
                  RATE)]},
            {"name": "arena allocate+free, mixed 16 B..64 KiB", "procs": "4", "unit": "ops/s",
             "ours": gb("BM_alloc_free_mixed_arena/procs:4"), "metric": RATE, "baselines": [
                 ("boost::interprocess managed_shared_memory (best fit)", gb("BM_alloc_free_mixed_boost/procs:4"),
                  RATE)]},
            {"name": "largest free block after 10^6 random ops, 16 B..4 MiB, half of 64 MiB live", "procs": "1",
             "unit": "MiB", "ours": gb("BM_fragmentation_arena/iterations:1"), "metric": "rate:largest_free_MiB",
             "baselines": [("boost::interprocess managed_shared_memory (best fit)",
                            gb("BM_fragmentation_boost/iterations:1"), "rate:largest_free_MiB")]},
            {"name": "Seqlock<64 B> load with a writer thread", "procs": "1 (2 threads)", "unit": "ns",
             "higher_better": False, "ours": gb("load_with_writer/64B/seqlock"), "metric": "time", "baselines": [
                 ("std::mutex", gb("load_with_writer/64B/std_mutex"), "time"),
                 ("boost interprocess_mutex", gb("load_with_writer/64B/ipc_mutex"), "time")]},
        ],
    },
]

SERIES = [
    {"id": "pipe_sizes", "title": "Pipe throughput against message size (2 processes)",
     "xlabel": "message bytes", "ylabel": "messages per second", "logy": True, "xs": [64, 4096, 1048576],
     "curves": [("sk::Pipe send", ("gb", "throughput/ours_send/{x}" + S), RATE),
                ("sk::Pipe loan+view", ("gb", "throughput/ours_loan_view/{x}" + S), RATE),
                ("pipe(2)", ("gb", "throughput/pipe/{x}" + S), RATE),
                ("socketpair", ("gb", "throughput/socketpair_unix_stream/{x}" + S), RATE),
                ("boost message_queue", ("gb", "throughput/boost_message_queue/{x}" + S), RATE),
                ("ZeroMQ", ("gb", "throughput/zeromq_pair_ipc/{x}" + S), RATE),
                ("nng", ("gb", "throughput/nng_pair1_ipc/{x}" + S), RATE)]},
    {"id": "atomic_procs", "title": "Counter increments against number of processes",
     "xlabel": "processes", "ylabel": "increments per second (all processes)", "logy": True, "xs": [1, 2, 4],
     "curves": [("sk::Atomic", ("gb", "BM_atomic_sk/procs:{x}" + S), RATE),
                ("sk::Counter (striped)", ("gb", "BM_counter_sk/procs:{x}" + S), RATE),
                ("raw std::atomic", ("gb", "BM_atomic_raw/procs:{x}" + S), RATE),
                ("interprocess_mutex", ("gb", "BM_counter_ipmutex/procs:{x}" + S), RATE)]},
]
