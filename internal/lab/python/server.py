"""crew lab server, Python twin: the same requests (a round trip to lab's
backend, then about CPU seconds of a pure Python loop) served by a
ThreadingHTTPServer (one thread per connection, under the real GIL), by
asyncio on one thread, and by a ThreadingHTTPServer that hands the CPU part
to a ProcessPoolExecutor of W processes; each server runs in a child
process, loaded by N client threads of this one in a closed loop.

usage: server.py BACKEND_HOST:PORT CPU_SECONDS W N1,N2,... LOAD_SECONDS
  -> [{"Mode", "Clients", "Requests", "PerSec", "P50", "P99"}, ...]
(child: server.py serve MODE BACKEND ITERS W: prints its port, serves until
its standard input closes)
"""
import asyncio
import http.client
import json
import multiprocessing as mp
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MSG = 64
MODES = ["python threads", "python asyncio (one thread)", "python threads + process pool"]


def cpu(iters):
    total = 0
    for i in range(iters):
        total += i * i
    return total


def calibrate(seconds):
    def probe(n):
        t0 = time.perf_counter()
        cpu(n)
        return time.perf_counter() - t0

    n = 1 << 12
    while probe(n) < 0.02:
        n *= 2
    # The fastest of three: a neighbour taking the CPU makes a probe slow.
    return max(1, int(n * seconds / min(probe(n), probe(n), probe(n))))


def backend_trip(sock):
    sock.sendall(b"x" * MSG)
    got = 0
    while got < MSG:
        chunk = sock.recv(MSG - got)
        if not chunk:
            raise ConnectionError("backend closed the connection")
        got += len(chunk)


def serve_threads(backend, iters, pool):
    host, port = backend.rsplit(":", 1)
    local = threading.local()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def do_GET(self):
            if not hasattr(local, "sock"):
                local.sock = socket.create_connection((host, int(port)))
            backend_trip(local.sock)
            total = pool.submit(cpu, iters).result() if pool else cpu(iters)
            body = f"{total}\n".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the parent closes it
    srv.shutdown()


async def serve_asyncio(backend, iters):
    host, port = backend.rsplit(":", 1)

    async def handle(reader, writer):
        br, bw = await asyncio.open_connection(host, int(port))
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                bw.write(b"x" * MSG)
                await bw.drain()
                await br.readexactly(MSG)
                body = f"{cpu(iters)}\n".encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        finally:
            bw.close()
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    srv.close()


def serve(mode, backend, iters, w):
    if mode == MODES[1]:
        asyncio.run(serve_asyncio(backend, iters))
    elif mode == MODES[2]:
        with ProcessPoolExecutor(w, mp_context=mp.get_context("fork")) as pool:
            pool.submit(cpu, 1).result()  # start the workers before serving
            serve_threads(backend, iters, pool)
    else:
        serve_threads(backend, iters, None)


def load(port, n, seconds):
    conns = [http.client.HTTPConnection("127.0.0.1", port) for _ in range(n)]

    def get(c):
        c.request("GET", "/req")
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"server answered {r.status}")

    for c in conns:
        get(c)  # open the connections before the clock starts
    lats = [[] for _ in range(n)]
    start = threading.Barrier(n + 1)
    deadline = [0.0]

    def client(i):
        start.wait()
        while time.perf_counter() < deadline[0]:
            t0 = time.perf_counter()
            get(conns[i])
            lats[i].append(time.perf_counter() - t0)

    ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    t0 = time.perf_counter()
    deadline[0] = t0 + seconds
    start.wait()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    all_ = sorted(x for l in lats for x in l)
    if not all_:
        raise SystemExit("no request completed")
    q = lambda p: 1e3 * all_[min(len(all_) - 1, int(p * len(all_)))]
    return {"Clients": n, "Requests": len(all_), "PerSec": len(all_) / elapsed, "P50": q(0.5), "P99": q(0.99)}


def main():
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    backend, seconds, w = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    counts, dur = [int(x) for x in sys.argv[4].split(",")], float(sys.argv[5])
    iters = calibrate(seconds)
    rows = []
    for mode in MODES:
        p = subprocess.Popen([sys.executable, __file__, "serve", mode, backend, str(iters), str(w)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            port = int(p.stdout.readline())
            for n in counts:
                rows.append({"Mode": mode, **load(port, n, dur)})
        finally:
            p.stdin.close()
            p.wait(timeout=30)
    json.dump(rows, sys.stdout)


if __name__ == "__main__":
    main()
