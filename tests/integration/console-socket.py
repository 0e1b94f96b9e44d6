#!/usr/bin/env python3
"""console-socket.py SOCK OUT IN: the far end of a console socket, as
runc's --console-socket wants one (its recvtty): take one terminal master
from SOCK (SCM_RIGHTS), append everything the terminal says to the file
OUT, and write into the terminal each chunk written to the FIFO IN. Ends
when the terminal hangs up (its slave's last holder is gone)."""
import array
import os
import select
import socket
import sys

sock_path, out_path, in_path = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(1)
conn, _ = srv.accept()
fds = array.array("i")
msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
for level, kind, data in anc:
    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
        fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
conn.close()
srv.close()
if not fds:
    sys.exit("console-socket: no fd received")
master = fds[0]
# read-write: opening never blocks, and no EOF when a writer closes
feed = os.open(in_path, os.O_RDWR)
with open(out_path, "ab", buffering=0) as out:
    out.write(b"[master received]\n")
    while True:
        ready, _, _ = select.select([master, feed], [], [])
        if feed in ready:
            os.write(master, os.read(feed, 4096))
        if master in ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            out.write(data)
