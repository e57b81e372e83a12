# The Python peer of BenchmarkArrayVsPython: PROCS processes each add 1 to
# one shared counter N times, the way a Python program does it,
# multiprocessing.Value with its lock, and the parent prints the rate as
# JSON. Timing starts when the workers are released together (they are
# already running) and ends when the last has exited.
import json
import multiprocessing as mp
import sys
import time


def work(v, go, n):
    go.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def main():
    n, procs = int(sys.argv[1]), int(sys.argv[2])
    v = mp.Value("q", 0)
    go = mp.Event()
    ps = [mp.Process(target=work, args=(v, go, n)) for _ in range(procs)]
    for p in ps:
        p.start()
    time.sleep(0.2)  # let every worker reach go.wait()
    t = time.perf_counter()
    go.set()
    for p in ps:
        p.join()
    d = time.perf_counter() - t
    assert v.value == n * procs, v.value
    print(json.dumps({"ops_per_s": n * procs / d, "seconds": d}))


if __name__ == "__main__":
    main()
