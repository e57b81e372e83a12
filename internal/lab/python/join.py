"""crew lab join, Python twin: a main program starts W workers of ITEMS items
each (every item waits SECONDS), ends once W items are done, and Python's
exit decides what happens to the rest: it joins non-daemon threads and
multiprocessing children, drops daemon threads and terminates daemon
children.

usage: join.py ITEMS W SECONDS
  -> [{"Mode", "Total", "AtEnd", "AtExit", "InAll", "Running", "MainSeconds"}, ...]
The main program runs as a child process (this script, "child" mode) and
appends to a record file the lines lab's Go side writes: "start NS",
"end NS", "pid PID", "item LANE START_NS END_NS".
"""
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time

MODES = {
    "python threads": ("thread", False),
    "python daemon threads": ("thread", True),
    "python processes": ("process", False),
    "python daemon processes": ("process", True),
}


def append(path, line):
    # One write per line on an O_APPEND file: lines of several processes
    # never interleave.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def work(path, lane, items, seconds):
    for _ in range(items):
        s = time.time_ns()
        time.sleep(seconds)
        append(path, f"item {lane} {s} {time.time_ns()}")


def read(path):
    at_end, items, pids, start, end = None, 0, [], 0, 0
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            word, *rest = line.split()
            if word == "item":
                items += 1
            elif word == "pid":
                pids.append(int(rest[0]))
            elif word == "start":
                start = int(rest[0])
            elif word == "end":
                end, at_end = int(rest[0]), items
    return items, at_end, pids, start, end


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def child(mode, path, w, items, seconds):
    kind, daemon = MODES[mode]
    append(path, f"start {time.time_ns()}")
    if kind == "thread":
        workers = [threading.Thread(target=work, args=(path, i + 1, items, seconds), daemon=daemon) for i in range(w)]
    else:
        ctx = mp.get_context("fork")
        workers = [ctx.Process(target=work, args=(path, i + 1, items, seconds), daemon=daemon) for i in range(w)]
    for t in workers:
        t.start()
        if kind == "process":
            append(path, f"pid {t.pid}")
    while read(path)[0] < w:
        time.sleep(0.001)
    append(path, f"end {time.time_ns()}")
    # main ends here, without join(): what happens next is Python's exit.


def measure(mode, w, items, seconds):
    fd, path = tempfile.mkstemp(prefix="crew-lab-join-")
    os.close(fd)
    try:
        subprocess.run([sys.executable, __file__, "child", mode, path, str(w), str(items), str(seconds)], check=True)
        exited, exit_ns = time.monotonic(), time.time_ns()
        at_exit, at_end, pids, start, _ = read(path)
        time.sleep(max(0, exited + 2 * seconds - time.monotonic()))
        running = sum(alive(p) for p in pids)
        last, quiet = at_exit, time.monotonic()
        deadline = exited + (items + 10) * seconds + 2
        while True:
            n, _, pids, _, _ = read(path)
            if n != last:
                last, quiet = n, time.monotonic()
            if not any(alive(p) for p in pids) and time.monotonic() - quiet >= 3 * seconds:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"{mode}: workers still running")
            time.sleep(seconds / 2)
        main_s = (exit_ns - start) / 1e9
        return {"Mode": mode, "Total": w * items, "AtEnd": at_end, "AtExit": at_exit, "InAll": last,
                "Running": running, "MainSeconds": main_s}
    finally:
        os.unlink(path)


def main():
    if sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6]))
        return
    items, w, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    json.dump([measure(m, w, items, seconds) for m in MODES], sys.stdout)


if __name__ == "__main__":
    main()
