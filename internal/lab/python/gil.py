"""crew lab gil, Python twin: the notes' sum of 0..N on 1 thread, W threads
and W processes (partial sums gathered through a multiprocessing.Queue).

usage: gil.py N W -> {"one": s, "threads": s, "procs": s} (wall seconds)
"""
import json
import multiprocessing as mp
import sys
import threading
import time


def work(start, end, out):
    total = 0
    for i in range(start, end):
        total += i
    out.put(total) if hasattr(out, "put") else out.append(total)


def parts(n, w):
    return [(n * i // w, n * (i + 1) // w) for i in range(w)]


def one(n):
    res = []
    work(0, n, res)
    return sum(res)


def threads(n, w):
    res = []
    ts = [threading.Thread(target=work, args=(a, b, res)) for a, b in parts(n, w)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(res)


def procs(n, w):
    q = mp.Queue()
    ps = [mp.Process(target=work, args=(a, b, q)) for a, b in parts(n, w)]
    for p in ps:
        p.start()
    total = sum(q.get() for _ in ps)
    for p in ps:
        p.join()
    return total


def timed(f, *args):
    t0 = time.perf_counter()
    total = f(*args)
    secs = time.perf_counter() - t0
    if total != args[0] * (args[0] - 1) // 2:
        raise SystemExit(f"{f.__name__}: wrong sum {total}")
    return secs


def main():
    n, w = int(sys.argv[1]), int(sys.argv[2])
    json.dump({"one": timed(one, n), "threads": timed(threads, n, w), "procs": timed(procs, n, w)}, sys.stdout)


if __name__ == "__main__":
    main()
