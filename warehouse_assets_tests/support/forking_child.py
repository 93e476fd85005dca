"""A process shaped like a load for the benchmark's memory sampler: it holds a large buffer, has
one child that is a fork not yet turned into another program (as Dagster's log mirror is between
fork and exec) and one child that is another program, reports its own and that program's
resident sizes on one line, and exits when told to on standard input.

    python -m warehouse_assets_tests.support.forking_child MEGABYTES PROGRAM_MEGABYTES
"""

from __future__ import annotations

import os
import subprocess
import sys

import psutil

# The other program: holds a buffer of its own, says so, and waits for its standard input to end.
PROGRAM = (
    "import sys\n"
    "held = bytearray(int(sys.argv[1]) * 2**20)\n"
    "held[::4096] = b'x' * len(held[::4096])\n"
    "print('ready', flush=True)\n"
    "sys.stdin.read()\n"
)


def main() -> None:
    held = bytearray(int(sys.argv[1]) * 2**20)
    held[::4096] = b"x" * len(held[::4096])  # every page resident
    release_read, release_write = os.pipe()
    fork = os.fork()
    if fork == 0:  # the copy: waits, never execs
        os.close(release_write)
        os.read(release_read, 1)
        os._exit(0)
    os.close(release_read)
    program = subprocess.Popen(
        [sys.executable, "-c", PROGRAM, sys.argv[2]], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    program.stdout.readline()  # it holds its own buffer now
    me, other = psutil.Process(), psutil.Process(program.pid)
    print(me.memory_info().rss, other.memory_info().rss, flush=True)
    sys.stdin.readline()
    os.close(release_write)
    program.communicate()
    os.waitpid(fork, 0)


if __name__ == "__main__":
    main()
