"""crew lab cpu-vs-io, Python twin: CPU-bound and I/O-bound tasks on 1..W
threads, W processes and asyncio (one thread, W concurrent tasks).

usage: cpuio.py HOST:PORT TASKS ITEMS TRIPS SIZE W1,W2,...
  -> [{"workload", "mode", "workers", "seconds"}, ...]
The I/O tasks make TRIPS round trips of SIZE bytes each to the echo server
that the Go side runs at HOST:PORT.
"""
import asyncio
import json
import multiprocessing as mp
import socket
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def cpu_task(items):
    total = 0
    for i in range(items):
        total += i
    return total


def io_task(addr, trips, size):
    host, port = addr.rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        msg = b"x" * size
        for _ in range(trips):
            s.sendall(msg)
            got = 0
            while got < size:
                chunk = s.recv(size - got)
                if not chunk:
                    raise SystemExit("echo server closed the connection")
                got += len(chunk)
    return 0


async def io_task_async(addr, trips, size):
    host, port = addr.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    msg = b"x" * size
    for _ in range(trips):
        writer.write(msg)
        await writer.drain()
        await reader.readexactly(size)
    writer.close()
    await writer.wait_closed()


async def run_async(w, n, job):
    sem = asyncio.Semaphore(w)

    async def one():
        async with sem:
            await job()

    await asyncio.gather(*(one() for _ in range(n)))


def main():
    addr = sys.argv[1]
    tasks, items, trips, size = (int(a) for a in sys.argv[2:6])
    counts = [int(w) for w in sys.argv[6].split(",")]
    rows = []

    def record(workload, mode, w, t0):
        rows.append({"workload": workload, "mode": mode, "workers": w, "seconds": time.perf_counter() - t0})

    for w in counts:
        t0 = time.perf_counter()
        with ThreadPoolExecutor(w) as ex:
            list(ex.map(cpu_task, [items] * tasks))
        record("cpu", "python threads", w, t0)
        with ProcessPoolExecutor(w, mp_context=mp.get_context("fork")) as ex:
            ex.submit(cpu_task, 1).result()  # start the workers before timing
            t0 = time.perf_counter()
            list(ex.map(cpu_task, [items] * tasks))
            record("cpu", "python processes", w, t0)

        async def cpu_job():
            cpu_task(items)

        t0 = time.perf_counter()
        asyncio.run(run_async(w, tasks, cpu_job))
        record("cpu", "python asyncio", w, t0)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(w) as ex:
            list(ex.map(lambda _: io_task(addr, trips, size), range(tasks)))
        record("io", "python threads", w, t0)
        with ProcessPoolExecutor(w, mp_context=mp.get_context("fork")) as ex:
            ex.submit(cpu_task, 1).result()
            t0 = time.perf_counter()
            list(ex.map(io_task, [addr] * tasks, [trips] * tasks, [size] * tasks))
            record("io", "python processes", w, t0)
        t0 = time.perf_counter()
        asyncio.run(run_async(w, tasks, lambda: io_task_async(addr, trips, size)))
        record("io", "python asyncio", w, t0)
    json.dump(rows, sys.stdout)


if __name__ == "__main__":
    main()
