"""CPython's own cycle collector on the graphs of peer-bench's
"vs CPython" table (peer-bench/src/cpython.rs builds the same graphs for
pygc). Standard library only.

    python3.13 cpython_gc.py [--quick] [--reps N] [ROW ...]

Every graph is built from two-slot nodes with the collector disabled
(gc.disable()); only the collection (or, in young_with_old_heap, the loop
under automatic collection) is timed, with time.perf_counter_ns. Prints one
line per row:

    ROW <name> <median ns per object> <objects per rep> <reps>

and first one `INFO` line (version, thresholds).
"""

import gc
import sys
import time


class Node:
    __slots__ = ("a", "b")

    def __init__(self):
        self.a = None
        self.b = None


def tree(depth):
    """Complete binary tree of `depth` levels (2**depth - 1 nodes)."""
    n = Node()
    if depth > 1:
        n.a = tree(depth - 1)
        n.b = tree(depth - 1)
    return n


def cycles(s):
    """1M two-object garbage cycles, then one timed full collect."""
    for _ in range(s["graph"]):
        a = Node()
        b = Node()
        a.a = b
        b.a = a
    del a, b
    t = time.perf_counter_ns()
    gc.collect()
    return time.perf_counter_ns() - t, 2 * s["graph"]


def ring(s):
    """A 1M-object garbage ring, then one timed full collect."""
    first = Node()
    prev = first
    for _ in range(s["graph"] - 1):
        n = Node()
        prev.a = n
        prev = n
    prev.a = first
    del first, prev, n
    t = time.perf_counter_ns()
    gc.collect()
    return time.perf_counter_ns() - t, s["graph"]


def live_heap(s):
    """Full collect of a live complete binary tree (~1M objects), settled
    by one untimed full collect first."""
    root = tree(s["depth"])
    gc.collect()
    t = time.perf_counter_ns()
    gc.collect()
    elapsed = time.perf_counter_ns() - t
    del root
    return elapsed, 2 ** s["depth"] - 1


def gen0_survivors(s):
    """Rounds of: a chain of 2,000 live nodes, then a timed gc.collect(0)."""
    total = 0
    for _ in range(s["rounds"]):
        head = None
        for _ in range(s["gen0"]):
            n = Node()
            n.a = head
            head = n
        del n
        t = time.perf_counter_ns()
        gc.collect(0)
        total += time.perf_counter_ns() - t
        del head
    return total, s["rounds"] * s["gen0"]


def gen0_garbage(s):
    """Rounds of: 1,000 two-object garbage cycles, then a timed
    gc.collect(0)."""
    total = 0
    for _ in range(s["rounds"]):
        for _ in range(s["gen0"] // 2):
            a = Node()
            b = Node()
            a.a = b
            b.a = a
        del a, b
        t = time.perf_counter_ns()
        gc.collect(0)
        total += time.perf_counter_ns() - t
    return total, s["rounds"] * s["gen0"]


def young_with_old_heap(s):
    """A live complete binary tree (~1M objects, built with the collector
    off, then one untimed full collect), then 500k young garbage pairs
    under automatic collection: the loop is timed, per young object."""
    root = tree(s["depth"])
    gc.collect()
    gc.enable()
    t = time.perf_counter_ns()
    for _ in range(s["young"]):
        a = Node()
        b = Node()
        a.a = b
        b.a = a
    del a, b
    elapsed = time.perf_counter_ns() - t
    gc.disable()
    del root
    return elapsed, 2 * s["young"]


ROWS = {
    "cycles": cycles,
    "ring": ring,
    "live_heap": live_heap,
    "gen0_survivors": gen0_survivors,
    "gen0_garbage": gen0_garbage,
    "young_with_old_heap": young_with_old_heap,
}


def main(argv):
    quick = False
    reps = 5
    names = []
    args = iter(argv)
    for a in args:
        if a == "--quick":
            quick = True
        elif a == "--reps":
            reps = int(next(args))
        elif a in ROWS:
            names.append(a)
        else:
            sys.exit(f"unknown argument {a!r}; rows: {', '.join(ROWS)}")
    div = 100 if quick else 1
    graph = 1_000_000 // div
    s = {
        "graph": graph,
        # 1M -> 20 (1,048,575 nodes); 10k -> 14.
        "depth": graph.bit_length(),
        "gen0": 2000,
        "rounds": 1000 // div,
        "young": 500_000 // div,
    }
    v = sys.version_info
    print(
        f"INFO python={v.major}.{v.minor}.{v.micro} "
        f"threshold={','.join(map(str, gc.get_threshold()))}"
    )
    gc.disable()
    gc.collect()
    for name in names or ROWS:
        per = []
        objects = 0
        for _ in range(reps):
            ns, objects = ROWS[name](s)
            per.append(ns / objects)
            gc.collect()
        per.sort()
        print(f"ROW {name} {per[len(per) // 2]:.3f} {objects} {reps}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
