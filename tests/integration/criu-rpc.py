#!/usr/bin/env python3
# tests/integration/criu-rpc.py CKPT_OCI dump|restore IMAGES_DIR [NAME=VALUE...]
#
# One DUMP or RESTORE request to `ckpt-oci criu swrk FD`, the way a CRIU
# RPC client (runc, go-criu) sends it: images_dir_fd is an fd of ours
# naming IMAGES_DIR, the other options are integers or booleans by name
# (OPTS below, CRIU's field numbers). Prints "pid N" for a restore, and
# exits 0 when the service answered success; otherwise prints its
# cr_errmsg and exits 1. The service's stderr goes to IMAGES_DIR/swrk.err.
# A tiny protobuf writer and reader: no generated code in the tests.
import os
import socket
import subprocess
import sys

OPTS = {"pid": 2, "leave_running": 3, "tcp_established": 5, "shell_job": 7,
        "tcp_skip_in_flight": 46, "tcp_close": 52}
TYPES = {"dump": 1, "restore": 2}


def varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, v):
    return varint(num << 3) + varint(v)


def message(num, body):
    return varint(num << 3 | 2) + varint(len(body)) + body


def read_varint(b, i):
    v = s = 0
    while True:
        v |= (b[i] & 0x7f) << s
        s += 7
        i += 1
        if not b[i - 1] & 0x80:
            return v, i


def parse(b):
    out, i = {}, 0
    while i < len(b):
        key, i = read_varint(b, i)
        if key & 7 == 0:
            v, i = read_varint(b, i)
        elif key & 7 == 2:
            n, i = read_varint(b, i)
            v = b[i:i + n]
            i += n
        else:
            raise SystemExit("wire type %d" % (key & 7))
        out[key >> 3] = v
    return out


def main():
    ckpt, kind, images = sys.argv[1:4]
    dirfd = os.open(images, os.O_RDONLY | os.O_DIRECTORY)
    opts = field(1, dirfd)
    for arg in sys.argv[4:]:
        name, value = arg.split("=", 1)
        opts += field(OPTS[name], int(value))
    req = field(1, TYPES[kind]) + message(2, opts)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with open(os.path.join(images, "swrk.err"), "w") as err:
        p = subprocess.Popen([ckpt, "criu", "swrk", str(theirs.fileno())],
                             pass_fds=[theirs.fileno(), dirfd], stdin=subprocess.DEVNULL,
                             stdout=err, stderr=err)
    theirs.close()
    ours.send(req)
    resp = parse(ours.recv(65536))
    ours.close()
    p.wait()
    if not resp.get(2):
        print(resp.get(9, b"no cr_errmsg").decode())
        return 1
    if kind == "restore":
        print("pid %d" % parse(resp[4])[1])
    return 0


sys.exit(main())
