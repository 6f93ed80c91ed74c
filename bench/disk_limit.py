#!/usr/bin/python3
"""Measures this disk's limit for durable small-file creation, the ceiling for any mail store:
write a 4 KB file, fsync it, rename it into place, fsync the directory; several threads at once.

Prints: durable_creates_per_s=<n> (threads=<t>, files=<n>, seconds=<s>).
Bounded: at most --files files or --seconds seconds, whichever comes first.
"""
import argparse
import os
import shutil
import tempfile
import threading
import time


def worker(base, idx, deadline, budget, counts):
    tmp = os.path.join(base, "tmp")
    new = os.path.join(base, "new")
    dfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
    payload = os.urandom(4096)
    n = 0
    while n < budget and time.monotonic() < deadline:
        name = f"{idx}.{n}"
        path = os.path.join(tmp, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, payload)
        os.fsync(fd)
        os.close(fd)
        os.rename(path, os.path.join(new, name))
        os.fsync(dfd)
        n += 1
    os.close(dfd)
    counts[idx] = n


def measure(directory=None, threads=8, files=4000, seconds=10.0, trash=None):
    """Returns (files created, seconds). With `trash` (a list), the files are left in place
    and their directory appended to it, for the caller to delete later: see
    smtp_ingest.py on why deleting them right away would slow the next measurement."""
    base = tempfile.mkdtemp(prefix="tern-disk-", dir=directory)
    try:
        os.mkdir(os.path.join(base, "tmp"))
        os.mkdir(os.path.join(base, "new"))
        counts = [0] * threads
        start = time.monotonic()
        deadline = start + seconds
        ts = [threading.Thread(target=worker, args=(base, i, deadline, files // threads, counts))
              for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        elapsed = time.monotonic() - start
        return sum(counts), elapsed
    finally:
        if trash is None:
            shutil.rmtree(base, ignore_errors=True)
        else:
            trash.append(base)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dir", default=None, help="directory on the disk to measure (default: /tmp)")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--files", type=int, default=4000)
    ap.add_argument("--seconds", type=float, default=10.0)
    a = ap.parse_args()
    n, elapsed = measure(a.dir, a.threads, a.files, a.seconds)
    print(f"durable_creates_per_s={n / elapsed:.0f} (threads={a.threads}, files={n}, seconds={elapsed:.2f})")


if __name__ == "__main__":
    main()
