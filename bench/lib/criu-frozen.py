#!/usr/bin/env python3
"""criu-frozen.py STATS-DUMP: CRIU's frozen_time (microseconds) from its
stats-dump, for when crit is not installed. The file is two magic words, the
entry's size, then a StatsEntry protobuf: field 1 (dump, a DumpStatsEntry)
whose varint field 2 is frozen_time."""
import sys


def varint(b, i):
    r = s = 0
    while True:
        c = b[i]
        i += 1
        r |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return r, i


def frozen_us(data):
    d = data[12:]
    tag, i = varint(d, 0)
    if tag != 0x0A:  # field 1, length-delimited
        return None
    n, i = varint(d, i)
    m, j = d[i:i + n], 0
    while j < len(m):
        tag, j = varint(m, j)
        if tag & 7:  # only varints come before frozen_time
            return None
        v, j = varint(m, j)
        if tag >> 3 == 2:
            return v
    return None


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        v = frozen_us(f.read())
    if v is None:
        sys.exit(1)
    print(v)
