"""crew lab lock, Python twin: the lock held around each thread's whole loop.

usage: lock.py THREADS N -> {"count": final, "seconds": wall}
"""
import json
import sys
import threading
import time

counter = 0
lock = threading.Lock()


def work(n):
    global counter
    with lock:
        for _ in range(n):
            counter += 1


def main():
    threads, n = int(sys.argv[1]), int(sys.argv[2])
    ts = [threading.Thread(target=work, args=(n,)) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    json.dump({"count": counter, "seconds": time.perf_counter() - t0}, sys.stdout)


if __name__ == "__main__":
    main()
