"""Python's side of crew's proc benchmarks; prints one JSON object.

usage: pybench.py submit|submit1|map1|map1000|startup-fork|startup-spawn|cpu N
"""
import json, multiprocessing as mp, os, statistics, sys, time
from concurrent.futures import ProcessPoolExecutor

def add1(x):
    return x + 1

def sum_span(span):
    t = 0
    for i in range(*span):
        t += i
    return t

def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "submit":
        with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
            [f.result() for f in [ex.submit(add1, i) for i in range(100)]]
            t = time.perf_counter()
            [f.result() for f in [ex.submit(add1, i) for i in range(n)]]
            d = time.perf_counter() - t
        print(json.dumps({"rate": n / d}))
    elif mode == "submit1":
        # Round trips: each call's result before the next is submitted;
        # five rounds of N, the median round's rate, plus N submitted at
        # once and then waited for (as "submit", in rounds).
        with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
            [ex.submit(add1, i).result() for i in range(100)]
            trips, batch = [], []
            for _ in range(5):
                t = time.perf_counter()
                for i in range(n):
                    assert ex.submit(add1, i).result() == i + 1
                trips.append(n / (time.perf_counter() - t))
                t = time.perf_counter()
                fs = [ex.submit(add1, i) for i in range(n)]
                for f in fs:
                    f.result()
                batch.append(n / (time.perf_counter() - t))
        print(json.dumps({"trip": statistics.median(trips), "batch": statistics.median(batch)}))
    elif mode in ("map1", "map1000"):
        chunk = 1 if mode == "map1" else 1000
        with mp.get_context("fork").Pool(2) as p:
            p.map(add1, range(100))
            t = time.perf_counter()
            p.map(add1, range(n), chunksize=chunk)
            d = time.perf_counter() - t
        print(json.dumps({"rate": n / d}))
    elif mode.startswith("startup-"):
        ctx = mp.get_context(mode.split("-")[1])
        ds = []
        for _ in range(n):
            t = time.perf_counter()
            p = ctx.Pool(2)
            p.map(add1, range(2), chunksize=1)
            ds.append(time.perf_counter() - t)
            p.terminate(); p.join()
        print(json.dumps({"seconds": statistics.median(ds)}))
    elif mode == "cpu":
        # The sum of 0..N in one span on Pool(1) and in two on Pool(2),
        # taking turns; the fastest of three rounds each. Pools start
        # before the clock does, as crew's do.
        ctx = mp.get_context("fork")
        with ctx.Pool(1) as p1, ctx.Pool(2) as p2:
            p2.map(add1, range(2), chunksize=1)
            best = {"one": float("inf"), "two": float("inf")}
            for _ in range(3):
                for key, p, k in (("one", p1, 1), ("two", p2, 2)):
                    spans = [(i * n // k, (i + 1) * n // k) for i in range(k)]
                    t = time.perf_counter()
                    total = sum(p.map(sum_span, spans, chunksize=1))
                    best[key] = min(best[key], time.perf_counter() - t)
                    assert total == n * (n - 1) // 2
        print(json.dumps(best))

if __name__ == "__main__":
    main()
