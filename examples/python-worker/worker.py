#!/usr/bin/env python3
"""A crew proc worker in plain Python 3: the whole wire protocol.

Frames are a 4-byte big-endian length and a body: kind byte, 8-byte
big-endian id, then per kind. Calls arrive on fd 3, replies leave on fd 4.
"""
import json, os, struct, sys, traceback

FUNCS = {
    "square": lambda x: x * x,
    "add1": lambda x: x + 1,
    "upper": lambda s: s.upper(),
    "fail": lambda x: 1 / 0,
    "pid": lambda _: os.getpid(),
}

def main():
    rd, wr = os.fdopen(3, "rb"), os.fdopen(4, "wb")
    wr.write(struct.pack(">IcQ", 9, b"H", 0)); wr.flush()  # hello
    while len(hdr := rd.read(4)) == 4:
        body = rd.read(struct.unpack(">I", hdr)[0])
        kind, mid = body[:1], struct.unpack(">Q", body[1:9])[0]
        if kind != b"C":
            continue  # cancel: a Python call cannot be interrupted
        n = body[10]
        name, args = body[11:11 + n].decode(), json.loads(body[11 + n:])
        outs, errs = [], []
        for i, a in enumerate(args):
            try:
                outs.append(FUNCS[name](a))
            except Exception as e:
                outs.append(None)
                errs.append({"i": i, "msg": f"{type(e).__name__}: {e}", "stack": traceback.format_exc()})
        ej, oj = json.dumps(errs).encode() if errs else b"", json.dumps(outs).encode()
        rest = struct.pack(">cQcI", b"R", mid, b"j", len(ej)) + ej + oj
        wr.write(struct.pack(">I", len(rest)) + rest); wr.flush()

if __name__ == "__main__":
    sys.exit(main())
