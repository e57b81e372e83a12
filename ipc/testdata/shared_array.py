# The Python side of ipc's array tests: it maps crew ipc.Arrays by name the
# way the Array doc tells a Python user to, with the standard library only
# (struct and memoryview), and serves the test's commands, one a line on
# stdin, answering each with one line on stdout:
#
#   attach NAME          open an Array Go created     -> hello CODE N v0 v1 ...
#   create NAME CODE N   create one for Go to open    -> hello CODE N v0 v1 ...
#   put NAME v0 v1 ...   store the values             -> done
#   get NAME             read the values              -> values v0 v1 ...
#   close NAME           unmap (and remove one it created) -> closed
#
# It exits at the end of its input.
import struct
import sys
from multiprocessing import resource_tracker, shared_memory

HEADER = "<8sIcB2xQ"  # magic, version, type code, element size, length
MAGIC = b"crewarr\0"
SIZES = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "Q": 8, "f": 4, "d": 8}


class Mapped:
    def __init__(self, cmd, name, args):
        self.created = cmd == "create"
        if self.created:
            code, n = args[0], int(args[1])
            size = SIZES[code]
            self.shm = shared_memory.SharedMemory(name, create=True, size=64 + n * size)
            struct.pack_into(HEADER, self.shm.buf, 0, MAGIC, 1, code.encode(), size, n)
        else:
            self.shm = shared_memory.SharedMemory(name)
            # Attaching registers the segment with the resource tracker,
            # which would remove it when this process exits (before 3.13).
            resource_tracker.unregister(self.shm._name, "shared_memory")
            magic, version, c, size, n = struct.unpack_from(HEADER, self.shm.buf, 0)
            assert magic == MAGIC and version == 1, (magic, version)
            code = c.decode()
            assert SIZES[code] == size, (code, size)
        self.code, self.n = code, n
        self.a = self.shm.buf[64 : 64 + n * size].cast(code)

    def put(self, vals):
        conv = float if self.code in "fd" else int
        for i, v in enumerate(vals):
            self.a[i] = conv(v)

    def close(self):
        self.a.release()
        self.shm.close()
        if self.created:
            self.shm.unlink()


def main():
    arrays = {}
    for line in sys.stdin:
        cmd, name, *args = line.split()
        if cmd in ("attach", "create"):
            m = arrays[name] = Mapped(cmd, name, args)
            print("hello", m.code, m.n, *m.a.tolist(), flush=True)
        elif cmd == "put":
            arrays[name].put(args)
            print("done", flush=True)
        elif cmd == "get":
            print("values", *arrays[name].a.tolist(), flush=True)
        elif cmd == "close":
            arrays.pop(name).close()
            print("closed", flush=True)
    # Let the resource tracker finish now, so that a segment it wrongly
    # removes is gone before the test looks for it.
    stop = getattr(resource_tracker._resource_tracker, "_stop", None)
    if stop is not None:
        stop()


main()
