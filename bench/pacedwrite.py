#!/usr/bin/env python3
"""pacedwrite.py PATH MIB SECONDS -- write MIB MiB to a new file at PATH in
1 MiB writes, spread evenly over SECONDS (0: as fast as it can).

The kernel-cost control of the CPU benchmark (bench.py): the tool's outputs
written by a program doing nothing else, at the pace the tool writes them.
On this project's KVM guests the page cache costs more the longer a run is
(pages the guest freed a few seconds earlier are handed back to the host
and fault in again when written), so a control must keep the same pace."""

import os
import sys
import time


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__.splitlines()[0])
    path, mib, seconds = argv[1], int(argv[2]), float(argv[3])
    block = bytes(range(256)) * 4096
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    t0 = time.monotonic()
    for i in range(mib):
        os.write(fd, block)
        ahead = t0 + seconds * (i + 1) / mib - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    os.close(fd)


if __name__ == "__main__":
    main(sys.argv)
