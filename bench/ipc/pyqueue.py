"""Python's side of the ipc.Queue benchmark; prints one JSON object.

usage: pyqueue.py p2p SIZE N    one producer process puts N items of SIZE
                                bytes on a multiprocessing.Queue, one
                                consumer process gets them
       pyqueue.py joinable N    the main process puts N small ints on a
                                JoinableQueue, two worker processes get and
                                task_done them, the main process joins

The clock runs from the moment the processes are released (all started
and waiting) until the consumer has exited (p2p) or join returns.
"""
import json, multiprocessing as mp, sys, time


def producer(q, go, size, n):
    item = b"x" * size
    go.wait()
    for _ in range(n):
        q.put(item)


def consumer(q, ready, n):
    ready.set()
    for _ in range(n):
        q.get()


def worker(q, ready):
    ready.release()
    while True:
        item = q.get()
        q.task_done()
        if item is None:
            return


def main():
    ctx = mp.get_context("fork")
    mode = sys.argv[1]
    if mode == "p2p":
        size, n = int(sys.argv[2]), int(sys.argv[3])
        q, go, ready = ctx.Queue(), ctx.Event(), ctx.Event()
        c = ctx.Process(target=consumer, args=(q, ready, n))
        p = ctx.Process(target=producer, args=(q, go, size, n))
        c.start()
        p.start()
        ready.wait()
        t = time.perf_counter()
        go.set()
        c.join()
        d = time.perf_counter() - t
        p.join()
        print(json.dumps({"rate": n / d}))
    elif mode == "joinable":
        n = int(sys.argv[2])
        q, ready = ctx.JoinableQueue(), ctx.Semaphore(0)
        ws = [ctx.Process(target=worker, args=(q, ready)) for _ in range(2)]
        for w in ws:
            w.start()
        for _ in ws:
            ready.acquire()
        t = time.perf_counter()
        for i in range(n):
            q.put(i)
        q.join()
        d = time.perf_counter() - t
        for _ in ws:
            q.put(None)
        for w in ws:
            w.join()
        print(json.dumps({"rate": n / d}))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
