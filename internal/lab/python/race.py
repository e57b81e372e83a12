"""crew lab race, Python twin: many threads add to one global without a lock.

usage: race.py THREADS N TRIALS -> {"plain": [...], "call": [...]} (final counts)
"""
import json
import sys
import threading

counter = 0


def plain(n):
    global counter
    for _ in range(n):
        counter += 1


def bump(v):
    return v + 1


def with_call(n):
    # The load of counter and the store back are separated by a call, where
    # the interpreter may hand the GIL to another thread.
    global counter
    for _ in range(n):
        counter = bump(counter)


def trial(target, threads, n):
    global counter
    counter = 0
    ts = [threading.Thread(target=target, args=(n,)) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return counter


def main():
    threads, n, trials = (int(a) for a in sys.argv[1:4])
    sys.setswitchinterval(0.005)
    out = {
        "plain": [trial(plain, threads, n) for _ in range(trials)],
        "call": [trial(with_call, threads, n) for _ in range(trials)],
    }
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
