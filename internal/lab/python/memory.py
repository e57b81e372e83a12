"""crew lab memory, Python twin: the same address in a forked child.

usage: memory.py PARENT_VALUE CHILD_VALUE
  -> {"pid", "addr", "parent_value", "thread_addr", "thread_saw",
      "child": {"pid", "addr", "before", "after"}, "parent_after"}

Unlike Go, Python can fork: the child starts as a copy of the parent's
memory, so it finds the parent's value at the same address, not the
program's initial one; its write still stays in the child.
"""
import ctypes
import json
import os
import sys
import threading


def main():
    parent_value, child_value = int(sys.argv[1], 0), int(sys.argv[2], 0)
    probe = ctypes.c_int64(parent_value)
    addr = ctypes.addressof(probe)

    # Two threads of one process: one writes an object, the other reads it
    # at the same address.
    shared = ctypes.c_int64(0)
    seen = {}

    def writer():
        shared.value = 0x1111
        seen["addr"] = ctypes.addressof(shared)

    t = threading.Thread(target=writer)
    t.start()
    t.join()

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        before = probe.value
        probe.value = child_value
        out = {"pid": os.getpid(), "addr": ctypes.addressof(probe), "before": before, "after": probe.value}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    print(json.dumps({
        "pid": os.getpid(), "addr": addr, "parent_value": parent_value,
        "thread_addr": seen["addr"], "thread_saw": shared.value,
        "shared_addr": ctypes.addressof(shared),
        "child": json.loads(data), "parent_after": probe.value,
    }))


if __name__ == "__main__":
    main()
