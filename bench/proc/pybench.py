"""Python's side of crew's proc benchmarks; prints one JSON object.

usage: pybench.py submit|map1|map1000|startup-fork|startup-spawn N
"""
import json, multiprocessing as mp, os, statistics, sys, time
from concurrent.futures import ProcessPoolExecutor

def add1(x):
    return x + 1

def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "submit":
        with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
            [f.result() for f in [ex.submit(add1, i) for i in range(100)]]
            t = time.perf_counter()
            [f.result() for f in [ex.submit(add1, i) for i in range(n)]]
            d = time.perf_counter() - t
        print(json.dumps({"rate": n / d}))
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

if __name__ == "__main__":
    main()
