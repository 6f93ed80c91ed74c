#!/usr/bin/python3
"""IMAP mixed load, Tern vs Dovecot side by side (issue 18), stdlib only, loopback only.

    bench/imap_mixed.py [--clients 10] [--duration 30] [--mixed-messages 300] [--seed 4]
                        [--only tern|dovecot]
    (also: bench/imap_bench.py --mixed, with the same options)

Each server gets C users; each user's INBOX is filled with the same M messages (the corpus of
imap_bench.py, bodies capped at 32 KB) plus two folders of M/10 each. Then C client processes,
one per user, each logged in once, run a closed loop for D seconds: each picks its next
command at random (per-client seed, the same sequence on both servers) from

    list 5%     LIST "" "*"
    status 10%  STATUS <folder> (MESSAGES UNSEEN UIDNEXT)
    select 10%  SELECT <folder>
    flags 15%   FETCH a:a+49 (UID FLAGS)
    envelope 15% FETCH a:a+19 (UID FLAGS RFC822.SIZE ENVELOPE)
    body 10%    FETCH n BODY.PEEK[]
    store 10%   STORE n +FLAGS/-FLAGS (\\Seen or \\Flagged)
    keyword 5%  STORE n +FLAGS/-FLAGS ($LabelK)
    expunge 5%  STORE n +FLAGS.SILENT (\\Deleted), then EXPUNGE
    append 15%  APPEND <selected folder> of a corpus message

and prints, per command and server, operations per second (completed commands / D), the
median and 99th percentile latency, and protocol errors (any NO/BAD/BYE or a dropped
connection). Timings are wall clock on the client; client and server share the machine, so it
also prints CPU milliseconds per operation: the server's (the machine's busy time during the run
less what the client processes used) and the clients'.
A server that cannot be run prints "not available (<reason>)".
"""
import argparse
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "peers"))
from imap_bench import ImapError, Raw, make_corpus  # noqa: E402
from scratch import run_scratch  # noqa: E402
from tern import PeerError, TernServer  # noqa: E402

MIX = [("list", 5), ("status", 10), ("select", 10), ("flags", 15), ("envelope", 15),
       ("body", 10), ("store", 10), ("keyword", 5), ("expunge", 5), ("append", 15)]
FOLDERS = ["INBOX", "Work", "Archive"]
PASSWORD = "mixed-secret-1"
MAX_BODY = 32 * 1024
COUNT_RE = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE)\r?$", re.M)


class Client:
    """One user's connection and what it knows of the selected folder."""

    def __init__(self, port, user):
        self.c = Raw(port, timeout=60)
        self.c.login(user, PASSWORD)
        self.folder, self.exists = None, 0

    def track(self, body):
        for n, kind in COUNT_RE.findall(body):
            if kind == b"EXISTS":
                self.exists = int(n)
            else:
                self.exists = max(0, self.exists - 1)

    def run(self, text):
        status, body = self.c.cmd(text, ok=False)
        self.track(body)
        if b" OK" not in status[:20]:
            raise ImapError(f"{text[:40]!r}: {status.decode(errors='replace').strip()}")

    def select(self, folder):
        self.folder = folder
        self.run(b"SELECT " + folder.encode())

    def append(self, msg):
        tag = self.c.send(b"APPEND %s (\\Seen) {%d+}" % (self.folder.encode(), len(msg)))
        self.c.sock.sendall(msg + b"\r\n")
        status, body = self.c.wait(tag)
        self.track(body)
        if b" OK" not in status[:20]:
            raise ImapError("APPEND: " + status.decode(errors="replace").strip())


def one_op(cl, op, rng, msgs):
    """Runs `op`; returns the name it counts under (an op needing a message in an empty folder
    becomes an APPEND)."""
    if op in ("flags", "envelope", "body", "store", "keyword", "expunge") and cl.exists == 0:
        op = "append"
    n = rng.randint(1, max(1, cl.exists))
    if op == "list":
        cl.run(b'LIST "" "*"')
    elif op == "status":
        cl.run(b"STATUS %s (MESSAGES UNSEEN UIDNEXT)" % rng.choice(FOLDERS).encode())
    elif op == "select":
        cl.select(rng.choice(FOLDERS))
    elif op == "flags":
        cl.run(b"FETCH %d:%d (UID FLAGS)" % (n, min(cl.exists, n + 49)))
    elif op == "envelope":
        cl.run(b"FETCH %d:%d (UID FLAGS RFC822.SIZE ENVELOPE)" % (n, min(cl.exists, n + 19)))
    elif op == "body":
        cl.run(b"FETCH %d BODY.PEEK[]" % n)
    elif op == "store":
        cl.run(b"STORE %d %sFLAGS (%s)" % (n, rng.choice([b"+", b"-"]), rng.choice([b"\\Seen", b"\\Flagged"])))
    elif op == "keyword":
        cl.run(b"STORE %d %sFLAGS ($Label%d)" % (n, rng.choice([b"+", b"-"]), rng.randint(1, 5)))
    elif op == "expunge":
        cl.run(b"STORE %d +FLAGS.SILENT (\\Deleted)" % n)
        cl.run(b"EXPUNGE")
    elif op == "append":
        cl.append(rng.choice(msgs))
    return op


def client_main(port, user, seed, duration, msgs, out):
    """One client process: a closed loop for `duration` seconds; puts its tallies on `out`."""
    rng = random.Random(seed)
    names = [n for n, _ in MIX]
    weights = [w for _, w in MIX]
    lat = {n: [] for n in names}
    errors = {n: 0 for n in names}
    note = ""
    try:
        cl = Client(port, user)
        cl.select("INBOX")
        end = time.monotonic() + duration
        while time.monotonic() < end:
            op = rng.choices(names, weights)[0]
            t0 = time.perf_counter()
            try:
                op = one_op(cl, op, rng, msgs)
            except ImapError as e:
                errors[op] += 1
                note = note or str(e)
                if "closed" in str(e):
                    break
                continue
            lat[op].append(time.perf_counter() - t0)
        cl.c.close()
    except (ImapError, OSError) as e:
        note = note or f"{type(e).__name__}: {e}"
        errors["list"] += 1
    t = os.times()
    out.put((lat, errors, note, t.user + t.system))


def fill(port, user, msgs, per_folder):
    c = Client(port, user)
    for folder in FOLDERS[1:]:
        c.c.cmd(b"CREATE " + folder.encode(), ok=False)  # Tern makes Archive itself (special-use)
    for folder, count in zip(FOLDERS, per_folder):
        c.select(folder)
        for m in msgs[:count]:
            c.append(m)
    c.c.close()


def drive(name, port, users, args, msgs):
    n = args.mixed_messages
    per_folder = [n, max(1, n // 10), max(1, n // 10)]
    t0 = time.perf_counter()
    for u in users:
        fill(port, u, msgs, per_folder)
    print(f"  {name}: {len(users)} users filled in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    ctx = multiprocessing.get_context("fork")
    busy0 = busy_cpu_seconds()
    out = ctx.Queue()
    procs = [ctx.Process(target=client_main, args=(port, u, args.seed * 1000 + i, args.duration, msgs, out))
             for i, u in enumerate(users)]
    for p in procs:
        p.start()
    results = [out.get(timeout=args.duration + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    busy = busy_cpu_seconds() - busy0
    client_cpu = sum(r[3] for r in results)
    lat = {n: [] for n, _ in MIX}
    errors = {n: 0 for n, _ in MIX}
    notes = []
    for l, e, note, _ in results:
        for n in lat:
            lat[n] += l[n]
            errors[n] += e[n]
        if note:
            notes.append(note)
    return {"lat": lat, "errors": errors, "notes": notes, "duration": args.duration,
            "server_cpu": max(0.0, busy - client_cpu), "client_cpu": client_cpu}


def busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy (not idle or waiting on I/O) since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def bench_tern(args, msgs):
    users = [f"mix{i}@bench.test" for i in range(args.clients)]
    with TernServer(listeners=("imap",), sections={"imap": {"max_literal_size": 64 << 20}}) as t:
        t.start()
        for u in users:
            t.add_user(u, PASSWORD)
        return drive("tern", t.port("imap"), users, args, msgs)


def bench_dovecot(args, msgs):
    script = os.path.join(HERE, "peers", "dovecot.sh")
    tmp = tempfile.mkdtemp(prefix="dovecot-mixed-")
    os.chmod(tmp, 0o755)
    inst = os.path.join(tmp, "inst")
    users = [f"mix{i}" for i in range(args.clients)]
    try:
        p = subprocess.run([script, "start", inst, os.path.join(tmp, "mail"), users[0], PASSWORD],
                           capture_output=True, text=True, timeout=180)
        if p.returncode != 0:
            raise PeerError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "start failed")
        info = dict(kv.split("=", 1) for kv in p.stdout.split())
        for u in users[1:]:
            q = subprocess.run([script, "adduser", inst, u, PASSWORD], capture_output=True, text=True, timeout=60)
            if q.returncode != 0:
                raise PeerError("adduser: " + q.stderr.strip())
        return drive("dovecot", int(info["imap"]), users, args, msgs)
    finally:
        subprocess.run([script, "stop", inst], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def pct(values, q):
    if not values:
        return "-"
    v = sorted(values)
    return f"{v[min(len(v) - 1, int(q * len(v)))] * 1000:.1f}"


def report(args, results):
    print(f"\nIMAP mixed load: {args.clients} clients x {args.duration:g} s, {args.mixed_messages} messages per "
          f"INBOX, seed {args.seed}")
    head = f"{'ops/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'err':>4}"
    print(f"{'':<10} {'tern':^30}   {'dovecot':^30}")
    print(f"{'command':<10} {head}   {head}")
    rows = [n for n, _ in MIX] + ["total"]
    for n in rows:
        cells = []
        for name in ("tern", "dovecot"):
            r = results[name]
            if isinstance(r, str):
                cells.append(f"{'-':>9} {'-':>7} {'-':>7} {'-':>4}")
                continue
            lat = sum(r["lat"].values(), []) if n == "total" else r["lat"][n]
            err = sum(r["errors"].values()) if n == "total" else r["errors"][n]
            cells.append(f"{len(lat) / r['duration']:>9.1f} {pct(lat, 0.5):>7} {pct(lat, 0.99):>7} {err:>4}")
        print(f"{n:<10} {cells[0]}   {cells[1]}")
    cpu = []
    for name in ("tern", "dovecot"):
        r = results[name]
        if isinstance(r, str):
            continue
        ops = max(1, sum(len(v) for v in r["lat"].values()))
        cpu.append(f"{name} {r['server_cpu'] * 1000 / ops:.2f} ms server + {r['client_cpu'] * 1000 / ops:.2f} ms "
                   f"clients")
    if cpu:
        print("CPU per operation (the machine's busy time less the clients' own): " + "; ".join(cpu))
    for name in ("tern", "dovecot"):
        r = results[name]
        if isinstance(r, str):
            print(f"{name}: {r}")
        elif r["notes"]:
            print(f"{name}: first errors: {'; '.join(r['notes'][:3])}")


def add_options(ap):
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--mixed-messages", type=int, default=300,
                    help="messages per INBOX before the run (folders get a tenth)")


def run(args):
    args.clients = max(1, min(args.clients, 50))
    args.duration = max(1.0, min(args.duration, 600.0))
    n = args.mixed_messages = max(1, min(args.mixed_messages, 5000))
    corpus, _ = make_corpus(max(50, n * 2), args.seed)
    msgs = [m for m in corpus if len(m) <= MAX_BODY][:n]
    while len(msgs) < n:  # a small corpus: repeat it
        msgs += msgs[:n - len(msgs)]
    print(f"corpus: {len(msgs)} messages up to {MAX_BODY // 1024} KB "
          f"(median {statistics.median(len(m) for m in msgs) / 1024:.1f} KB)", file=sys.stderr)
    results = {}
    for name, fn in (("tern", bench_tern), ("dovecot", bench_dovecot)):
        if args.only and args.only != name:
            results[name] = "skipped (--only)"
            continue
        print(f"{name}: running", file=sys.stderr)
        try:
            results[name] = fn(args, msgs)
        except (PeerError, ImapError, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
            results[name] = f"not available ({e})"
    report(args, results)
    return 0 if any(not isinstance(r, str) for r in results.values()) else 1


def main():
    ap = argparse.ArgumentParser(description="IMAP mixed load: Tern vs Dovecot")
    add_options(ap)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--only", choices=["tern", "dovecot"])
    return run(ap.parse_args())


if __name__ == "__main__":
    with run_scratch("tb-imapmix-"):
        sys.exit(main())
