#!/usr/bin/python3
"""POP3 benchmark (issue 5): download and delete N messages, Tern vs Dovecot, side by side.

    bench/pop3_download.py [--messages 2000] [--seed 5] [--pipeline 1] [--only tern|dovecot]

The same deterministic corpus (seeded; sizes 1-100 KB log-uniform, CRLF text, some lines
starting with "." so byte-stuffing is exercised) is written as Maildir files into each
server's INBOX before it serves them: Tern adopts files without index rows when it starts
(Store::open), Dovecot indexes them on the first login. Identical bytes on both sides, no
delivery path in the timings. Then one plaintext POP3 session over loopback (a raw-socket
client, no poplib parsing in the timings) measures:

    login      USER/PASS until +OK (the first login: maildrop opened, sizes computed/indexed)
    list       STAT + LIST + UIDL
    retr       RETR every message (--pipeline K commands in flight; 1 = lock-step like most
               clients); each body is checked against the corpus (md5) after the timing
    dele       DELE every message (pipelined)
    quit       QUIT until +OK (the UPDATE state: every message expunged)
    total      connect .. QUIT answered

and afterwards that the Maildir holds no message. Both servers check the same password hash:
Tern's own argon2id string (libsodium INTERACTIVE limits, as `ternctl user add` stores it) is
read from its accounts.db and given to Dovecot as {ARGON2ID} (Dovecot verifies it with
libsodium too; its own `doveadm pw -s ARGON2ID` default costs t=3 where Tern's costs t=2), so
LOGIN compares the maildrop work, not two password costs. Next to each wall-clock time it prints the
server's CPU time in that phase (user+sys of ternd, or of every Dovecot process: master,
auth, pop3-login, pop3; Dovecot's pop3 process exits at QUIT, so its UPDATE CPU is only
counted up to the last sample before) and the client's own CPU during RETR, which shows
whether the client is the bottleneck. On a loaded machine the CPU columns compare better
than the wall-clock ones. ternd from $TERND / build/bench (Release;
see bench/README.md); Dovecot from bench/peers/dovecot.sh. A server that cannot be run prints
"not available (reason)" instead of figures.
"""
import argparse
import ctypes
import ctypes.util
import hashlib
import math
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
from tern import PeerError, TernServer, descendants  # noqa: E402
from scratch import run_scratch  # noqa: E402

USER, PASSWORD = "bench@bench.test", "bench-secret-5"
WORDS = ("mail server inbox message sender receiver protocol octet maildrop update deliver "
         "queue retry header body line client daemon loopback benchmark tern dovecot").split()


class Pop3Error(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Corpus

def make_message(rng, i):
    size = int(math.exp(rng.uniform(math.log(1024), math.log(100 * 1024))))
    head = (f"From: Sender {i % 37} <s{i % 37}@sender.test>\r\n"
            f"To: <{USER}>\r\n"
            f"Subject: benchmark message {i} {rng.choice(WORDS)}\r\n"
            f"Message-ID: <b{i}.{rng.getrandbits(32):08x}@sender.test>\r\n"
            f"Date: Mon, 01 Jan 2024 00:00:{i % 60:02d} +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
    lines = []
    n = len(head)
    while n < size:
        words = [rng.choice(WORDS) for _ in range(rng.randint(3, 12))]
        line = " ".join(words)
        if rng.random() < 0.03:
            line = "." + line  # RFC 1939 §3: byte-stuffed on the wire
        lines.append(line)
        n += len(line) + 2
    return (head + "\r\n".join(lines) + "\r\n").encode()


def make_corpus(n, seed):
    rng = random.Random(seed)
    return [make_message(rng, i) for i in range(n)]


def write_maildir(new_dir, msgs, uid=None, gid=None):
    """Writes msgs as Maildir files (tmp/ then rename into new/), in order."""
    base = os.path.dirname(new_dir)
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(base, d), exist_ok=True)
        if uid is not None:
            os.chown(os.path.join(base, d), uid, gid)
    stamp = 1700000000
    for i, m in enumerate(msgs):
        # Ascending time stamps keep the order the same in both servers' INBOX.
        name = f"{stamp + i}.M{i:06d}P{os.getpid()}.bench"
        tmp = os.path.join(base, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(m)
        if uid is not None:
            os.chown(tmp, uid, gid)
        os.rename(tmp, os.path.join(new_dir, name))


def count_maildir(base):
    return sum(len(os.listdir(os.path.join(base, d))) for d in ("new", "cur")
               if os.path.isdir(os.path.join(base, d)))


# ---------------------------------------------------------------------------------------------
# Client

class Raw:
    def __init__(self, port, timeout=300.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0
        # recv_into one reused buffer: a fresh 1 MiB bytes object per recv() made the client's
        # heap grow and shrink (page faults) far more in whichever run came first.
        self.rbuf = memoryview(bytearray(b"\xff") * (1 << 20))

    def _compact(self):
        # Keep the two bytes before pos: a body's terminator search starts at its CRLF.
        if self.pos > (1 << 20):
            del self.buf[:self.pos - 2]
            self.pos = 2

    def _fill(self):
        n = self.s.recv_into(self.rbuf)
        if not n:
            raise Pop3Error("connection closed")
        self.buf += self.rbuf[:n]

    def line(self):
        self._compact()
        search = self.pos
        while True:
            i = self.buf.find(b"\r\n", search)
            if i >= 0:
                out = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return out
            search = max(self.pos, len(self.buf) - 1)
            self._fill()

    def multiline(self):
        """Raw body after a +OK line, up to the terminating ".\\r\\n"; still byte-stuffed."""
        self._compact()
        start = self.pos
        search = start - 2  # the +OK line's CRLF: an empty body is just ".\\r\\n"
        while True:
            i = self.buf.find(b"\r\n.\r\n", search)
            if i >= 0:
                out = bytes(self.buf[start:i + 2]) if i + 2 > start else b""
                self.pos = i + 5
                return out
            search = max(start - 2, len(self.buf) - 4)
            self._fill()

    def multiline_into(self, arena, off):
        """As multiline(), copied into arena[off:]; returns the length. The arena is allocated
        and touched before the timings: keeping 2,000 bodies as new bytes objects made the
        client page-fault ~45 MB during whichever server ran first (measured: the first
        server's RETR phase cost the client 6x the CPU of the second's)."""
        self._compact()
        start = self.pos
        search = start - 2
        while True:
            i = self.buf.find(b"\r\n.\r\n", search)
            if i >= 0:
                n = i + 2 - start if i + 2 > start else 0
                arena[off:off + n] = memoryview(self.buf)[start:start + n]
                self.pos = i + 5
                return n
            search = max(start - 2, len(self.buf) - 4)
            self._fill()

    def send(self, data):
        self.s.sendall(data)

    def ok(self, what):
        ln = self.line()
        if not ln.startswith(b"+OK"):
            raise Pop3Error(f"{what}: {ln[:200]!r}")
        return ln

    def close(self):
        self.s.close()


def unstuff(body):
    return b"".join((ln[1:] if ln.startswith(b".") else ln) + b"\r\n"
                    for ln in body.split(b"\r\n")[:-1])


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """{pid: user+sys seconds} from /proc/PID/stat (threads included; vanished pids left out)."""
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            out[pid] = (int(rest[11]) + int(rest[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return out


class CpuMeter:
    """Server CPU per phase; a pid that vanishes keeps its last sampled value."""

    def __init__(self, pids_fn):
        self.pids_fn = pids_fn
        self.seen = {}
        self.overhead = 0.0

    def sample(self):
        t0 = time.perf_counter()
        self.seen.update(cpu_seconds(self.pids_fn()))
        self.overhead += time.perf_counter() - t0  # left out of the total
        return sum(self.seen.values())


def session(port, user, password, msgs, pipeline, pids_fn=lambda: []):
    n = len(msgs)
    r = {}
    # Bodies land in one pre-touched arena (see Raw.multiline_into); stuffing adds < 1 %.
    # Written once here, before any timing: a zeroed bytearray is calloc'ed, its pages
    # untouched until used (and building it inside the timed span cost both servers ~0.1 s).
    arena = bytearray(b"\xff") * (sum(len(m) for m in msgs) * 11 // 10 + (1 << 20))
    meter = CpuMeter(pids_fn)
    cpu = {}
    meter.sample()
    meter.overhead = 0.0
    t_start = time.perf_counter()
    c = Raw(port)
    c.ok("greeting")
    last = meter.sample()
    t0 = time.perf_counter()
    c.send(f"USER {user}\r\n".encode())
    c.ok("USER")
    c.send(f"PASS {password}\r\n".encode())
    c.ok("PASS")
    r["login"] = time.perf_counter() - t0
    now = meter.sample()
    cpu["login"], last = now - last, now

    t0 = time.perf_counter()
    c.send(b"STAT\r\n")
    stat = c.ok("STAT").split()
    c.send(b"LIST\r\n")
    c.ok("LIST")
    listing = c.multiline()
    c.send(b"UIDL\r\n")
    c.ok("UIDL")
    uidl = c.multiline()
    r["list"] = time.perf_counter() - t0
    now = meter.sample()
    cpu["list"], last = now - last, now
    count = int(stat[1])
    if count != n:
        raise Pop3Error(f"STAT says {count} messages, expected {n}")
    sizes = [int(x.split()[1]) for x in listing.split(b"\r\n") if x]
    if len(sizes) != n or len([x for x in uidl.split(b"\r\n") if x]) != n:
        raise Pop3Error("LIST/UIDL do not list every message")

    spans = [None] * n
    off = 0
    client0 = time.process_time()
    t0 = time.perf_counter()
    sent = 0
    for i in range(n):
        while sent < n and sent < i + pipeline:
            c.send(f"RETR {sent + 1}\r\n".encode())
            sent += 1
        c.ok(f"RETR {i + 1}")
        length = c.multiline_into(arena, off)
        spans[i] = (off, length)
        off += length
    r["retr"] = time.perf_counter() - t0
    now = meter.sample()
    cpu["retr"], last = now - last, now
    r["client_retr"] = time.process_time() - client0

    t0 = time.perf_counter()
    c.send(b"".join(f"DELE {i + 1}\r\n".encode() for i in range(n)))
    for i in range(n):
        c.ok(f"DELE {i + 1}")
    r["dele"] = time.perf_counter() - t0
    now = meter.sample()
    cpu["dele"], last = now - last, now

    t0 = time.perf_counter()
    c.send(b"QUIT\r\n")
    c.ok("QUIT")
    r["quit"] = time.perf_counter() - t0
    now = meter.sample()
    cpu["quit"], last = now - last, now
    r["total"] = time.perf_counter() - t_start - meter.overhead
    cpu["total"] = sum(cpu.values())
    r["cpu"] = cpu
    c.close()

    # Checks (outside the timings): every body and LIST size as stored.
    want = {hashlib.md5(m).digest(): len(m) for m in msgs}
    bad = 0
    got_bytes = 0
    bodies = [bytes(arena[o:o + length]) for o, length in spans]
    for b, size in zip(bodies, sizes):
        u = unstuff(b)
        got_bytes += len(u)
        if want.get(hashlib.md5(u).digest()) != size:
            bad += 1
    if bad:
        raise Pop3Error(f"{bad} of {n} messages differ from the corpus (or their LIST size)")
    r["bytes"] = got_bytes
    return r


# ---------------------------------------------------------------------------------------------
# Servers

def wait_greeting(port):
    """Untimed: connect, read the greeting, QUIT. ternd binds its listeners before it opens
    the store (and adopts the new files), so a connect succeeds before the first greeting can
    be sent; both servers get this probe so the timed session starts on a ready server."""
    probe = Raw(port, timeout=600)
    probe.ok("greeting")
    probe.send(b"QUIT\r\n")
    probe.ok("QUIT")
    probe.close()


def bench_tern(msgs, args):
    with TernServer(listeners=("pop3",)) as t:
        t.start()
        t.add_user(USER, PASSWORD)
        args.password_hash = tern_password_hash(t.data_dir)
        # One login creates the user's INBOX in the store; then the files are written while
        # ternd is stopped and adopted by Store::open at the next start.
        probe = Raw(t.port("pop3"), timeout=30)
        probe.ok("greeting")
        probe.send(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
        probe.ok("USER")
        ln = probe.line()
        if not ln.startswith(b"+OK"):
            raise PeerError(f"POP3 login not served by this ternd build: {ln[:120]!r}")
        probe.send(b"QUIT\r\n")
        probe.ok("QUIT")
        probe.close()
        t.stop()
        local, domain = USER.split("@")
        maildir = os.path.join(t.data_dir, "mail", domain, local)
        write_maildir(os.path.join(maildir, "new"), msgs)
        t0 = time.perf_counter()
        t.start(timeout=600)
        wait_greeting(t.port("pop3"))
        adopt = time.perf_counter() - t0
        r = session(t.port("pop3"), USER, PASSWORD, msgs, args.pipeline, t.pids)
        r["left"] = count_maildir(maildir)
        r["setup"] = f"ternd start until the first greeting (store open, files adopted): {adopt:.2f} s"
        return r


def tern_password_hash(data_dir):
    """The argon2id string ternd checks USER's password against (accounts.db)."""
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'accounts.db')}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT password FROM users WHERE address = ?", (USER,)).fetchone()
    finally:
        db.close()
    if not row or not row[0].startswith("$argon2id$"):
        raise PeerError(f"unexpected password hash in Tern's accounts.db: {row!r}")
    return row[0]


def sodium_password_hash(password):
    """An argon2id string at libsodium's INTERACTIVE limits (what `ternctl user add` stores),
    for --only dovecot runs."""
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    if lib.sodium_init() < 0:
        raise PeerError("libsodium did not initialise")
    lib.crypto_pwhash_opslimit_interactive.restype = ctypes.c_ulonglong
    lib.crypto_pwhash_memlimit_interactive.restype = ctypes.c_size_t
    lib.crypto_pwhash_strbytes.restype = ctypes.c_size_t
    out = ctypes.create_string_buffer(lib.crypto_pwhash_strbytes())
    pw = password.encode()
    if lib.crypto_pwhash_str(out, pw, ctypes.c_ulonglong(len(pw)),
                             ctypes.c_ulonglong(lib.crypto_pwhash_opslimit_interactive()),
                             ctypes.c_size_t(lib.crypto_pwhash_memlimit_interactive())) != 0:
        raise PeerError("crypto_pwhash_str failed")
    return out.value.decode()


def set_dovecot_hash(inst, local, password_hash):
    """Puts `password_hash` (argon2id) in place of the hash dovecot.sh wrote for `local`."""
    path = os.path.join(inst, "users")
    with open(path) as f:
        lines = f.read().splitlines()
    out = []
    for ln in lines:
        fields = ln.split(":")
        if fields[0] == local:
            fields[1] = "{ARGON2ID}" + password_hash
        out.append(":".join(fields))
    st = os.stat(path)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    # passwd-file is re-read when its mtime or size changes; the new line has the old size.
    os.utime(path, (st.st_atime, st.st_mtime + 2))


def hash_params(password_hash):
    parts = password_hash.split("$")  # ['', 'argon2id', 'v=19', 'm=..,t=..,p=..', salt, hash]
    return parts[3] if len(parts) > 3 else "?"


def bench_dovecot(msgs, args):
    script = os.path.join(HERE, "peers", "dovecot.sh")
    tmp = tempfile.mkdtemp(prefix="dovecot-pop3-bench-")
    os.chmod(tmp, 0o755)  # Dovecot's auth and mail processes must reach it
    inst, root = os.path.join(tmp, "inst"), os.path.join(tmp, "mail")
    local = USER.split("@")[0]
    try:
        p = subprocess.run([script, "start", inst, root, local, PASSWORD], capture_output=True,
                           text=True, timeout=180)
        if p.returncode != 0:
            raise PeerError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "start failed")
        info = dict(kv.split("=", 1) for kv in p.stdout.split())
        if not args.password_hash:
            args.password_hash = sodium_password_hash(PASSWORD)
        set_dovecot_hash(inst, local, args.password_hash)
        maildir = os.path.join(root, local, "Maildir")
        uid, gid = int(info["mail_uid"]), int(info["mail_gid"])
        os.makedirs(maildir, exist_ok=True)
        os.chown(maildir, uid, gid)
        write_maildir(os.path.join(maildir, "new"), msgs, uid, gid)
        wait_greeting(int(info["pop3"]))
        master = int(info["pid"])
        r = session(int(info["pop3"]), local, PASSWORD, msgs, args.pipeline,
                    lambda: descendants(master))
        r["left"] = count_maildir(maildir)
        r["setup"] = f"dovecot pids {len(descendants(int(info['pid'])))}"
        return r
    finally:
        subprocess.run([script, "stop", inst], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


ROWS = [
    ("login", "USER/PASS (first login, maildrop open)"),
    ("list", "STAT + LIST + UIDL"),
    ("retr", "RETR every message"),
    ("dele", "DELE every message (pipelined)"),
    ("quit", "QUIT (UPDATE: expunge all)"),
    ("total", "total (connect .. QUIT answered)"),
]


def fmt(res, key):
    if isinstance(res, str):
        return "-"
    v = res[key]
    return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"


def fmt_cpu(res, key):
    if isinstance(res, str):
        return "-"
    return f"{res['cpu'][key] * 1000:.0f} ms"


def main():
    ap = argparse.ArgumentParser(description="POP3 download+delete benchmark: Tern vs Dovecot")
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--pipeline", type=int, default=1, help="RETR commands in flight (1 = lock-step)")
    ap.add_argument("--only", choices=["tern", "dovecot"])
    args = ap.parse_args()
    args.messages = max(1, min(args.messages, 100000))
    args.pipeline = max(1, min(args.pipeline, 1000))
    args.password_hash = None  # set by the first server run (see tern_password_hash)

    msgs = make_corpus(args.messages, args.seed)
    total = sum(len(m) for m in msgs)
    print(f"corpus: {len(msgs)} messages, {total / 1e6:.1f} MB", file=sys.stderr)

    results = {}
    for name, fn in (("tern", bench_tern), ("dovecot", bench_dovecot)):
        if args.only and args.only != name:
            results[name] = "skipped (--only)"
            continue
        print(f"{name}: running", file=sys.stderr)
        try:
            results[name] = fn(msgs, args)
        except (PeerError, Pop3Error, OSError, subprocess.SubprocessError, KeyError,
                ValueError) as e:
            results[name] = f"not available ({e})"

    print(f"\nPOP3 benchmark: download and delete {len(msgs)} messages ({total / 1e6:.1f} MB), "
          f"one plaintext session on loopback, RETR pipeline {args.pipeline}, seed {args.seed}")
    w = 42
    print(f"{'measure':<{w}} {'tern':>12} {'dovecot':>12} {'tern CPU':>10} {'dovecot CPU':>12}")
    for key, label in ROWS:
        print(f"{label:<{w}} {fmt(results['tern'], key):>12} {fmt(results['dovecot'], key):>12}"
              f" {fmt_cpu(results['tern'], key):>10} {fmt_cpu(results['dovecot'], key):>12}")
    for name in ("tern", "dovecot"):
        r = results[name]
        if isinstance(r, str):
            print(f"{name}: {r}")
        else:
            mbps = r["bytes"] / r["retr"] / 1e6 if r["retr"] > 0 else 0
            print(f"{name}: RETR {mbps:.1f} MB/s, bodies verified, {r['left']} message files "
                  f"left after QUIT; client CPU during RETR {r['client_retr'] * 1000:.0f} ms; "
                  f"{r['setup']}")
    if args.password_hash:
        print(f"password: the same argon2id hash ({hash_params(args.password_hash)}) checked by both "
              "servers (Tern's, given to Dovecot as {ARGON2ID})")
    failed = [n for n in ("tern", "dovecot") if not isinstance(results[n], str) and results[n]["left"]]
    return 1 if failed else 0


if __name__ == "__main__":
    # Stores under one run directory ext4 spreads over fresh block groups (scratch.py).
    with run_scratch("tb-pop3-"):
        sys.exit(main())
