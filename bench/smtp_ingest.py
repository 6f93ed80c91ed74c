#!/usr/bin/python3
"""SMTP ingest, Tern vs Postfix + Dovecot LMTP side by side (issue 3), stdlib only.

    bench/smtp_ingest.py [--messages 4000] [--size 4096] [--conns 20] [--only tern|postfix]
                         [--disk-seconds 10] [--disk-threads C] [--client python|smtp-source]

Load generator (ours): one process, C connections, each EHLO once then sends its share of the
N messages (S bytes each, one local recipient) with PIPELINING: MAIL, RCPT and DATA in one
write, then the body; the next message starts after the 250 for the previous one. By default
(--client lean) one selectors loop over plain sockets drives them, with the bodies built
before the clock starts; --client python runs the same conversation on asyncio, which costs
the client several times the CPU (20-50% of a core), taken from the 2 cores the server runs
on. With --client smtp-source, Postfix's C generator instead: cheap too, but it does not
pipeline (a round trip per command), so each connection waits longer per message and 20
connections keep fewer deliveries in flight.
Tern: a private Release ternd (bench/peers/tern.py), its smtp (MX) listener; ternd's 250
means "fsynced into the Maildir and indexed", so the time is first MAIL until the last 250,
and the Maildir is then checked to hold all N.
Peer: Postfix (bench/peers/postfix.sh, lmtp mode) delivering through Dovecot LMTP
(bench/peers/dovecot.sh) into Maildir, both as Debian ships them (fsync on). Postfix's 250
only means "queued", so its time runs until all N files are in the Maildir (polled).
Figures: messages/s, CPU time per message (utime+stime of the server's processes from
/proc, deltas over the run; Postfix's short-lived children counted through cutime/cstime of
their parents), peak RSS (VmHWM; for the peer, the sum over its processes at the end), and
this disk's limit (bench/disk_limit.py: durable 4 KB file creations per second, as many
writer threads as connections, i.e. as many as Tern has deliveries in flight) measured in the
same run, on the same file system as the mail stores, first and again right after Tern's
phase (the ratio uses their mean). Every phase's files are deleted
only at the end, and all of them live under one run directory that ext4 spreads over fresh
block groups (see run() and scratch.py for why).
Every wait is bounded; a server that cannot be run prints "not available (<reason>)".
"""
import argparse
import asyncio
import os
import selectors
import socket
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
sys.path.insert(0, HERE)
from tern import PeerError, TernServer, descendants, raise_nofile  # noqa: E402
import disk_limit  # noqa: E402
from scratch import run_scratch  # noqa: E402

USER = "bench@bench.test"
PASSWORD = "bench-secret-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- /proc -----------------------------------------------------------------------------------

def cpu_seconds(pids, children=True):
    """utime+stime (+cutime+cstime: reaped children) of the pids, in seconds."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state): utime=14, stime=15, cutime=16, cstime=17.
        total += int(fields[11]) + int(fields[12])
        if children:
            total += int(fields[13]) + int(fields[14])
    return total / CLK_TCK


def vm_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def count_files(maildir):
    n = 0
    for sub in ("new", "cur"):
        try:
            n += len(os.listdir(os.path.join(maildir, sub)))
        except FileNotFoundError:
            pass
    return n


# ---- load generator --------------------------------------------------------------------------

def make_body(size, n):
    head = (f"From: <load@client.test>\r\nTo: <{USER}>\r\nSubject: bench {n}\r\n"
            f"Message-ID: <bench.{n}@client.test>\r\n"
            "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n\r\n").encode()
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz012\r\n"
    body = head
    while len(body) + len(line) <= size - 5:
        body += line
    body += b"x" * max(0, size - 5 - len(body)) + b"\r\n"
    return body + b".\r\n"  # no line starts with ".": no stuffing needed


async def read_reply(reader):
    """One (possibly multi-line) reply: its code."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if line[3:4] != b"-":
            return int(line[:3]), line


async def one_connection(port, numbers, size, rcpt, replies):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    try:
        code, line = await read_reply(reader)
        if code != 220:
            raise RuntimeError(f"greeting {line!r}")
        writer.write(b"EHLO client.test\r\n")
        code, line = await read_reply(reader)
        if code != 250:
            raise RuntimeError(f"EHLO {line!r}")
        for n in numbers:
            writer.write(b"MAIL FROM:<load@client.test>\r\nRCPT TO:<" + rcpt.encode() +
                         b">\r\nDATA\r\n")
            for want in (250, 250, 354):
                code, line = await read_reply(reader)
                if code != want:
                    raise RuntimeError(f"message {n}: {line!r}")
            writer.write(make_body(size, n))
            code, line = await read_reply(reader)
            if code != 250:
                raise RuntimeError(f"message {n} DATA: {line!r}")
            replies.append(time.monotonic())
        writer.write(b"QUIT\r\n")
        await writer.drain()
    finally:
        writer.close()


def load_lean(port, messages, size, conns, rcpt, bodies=None, mail_from="load@client.test"):
    """The same conversation as `load` (EHLO once, then per message MAIL+RCPT+DATA in one write,
    the body after 354, the next message after its 250), driven by one selectors loop over
    plain sockets: a fraction of asyncio's CPU per message, so the client takes less of the
    2 cores the server needs. `bodies`: message n's DATA bytes (dot-terminated), prepared by
    the caller (bench/inbound_auth_bench.py: DKIM-signed), else make_body(). Returns (start,
    [time of each final 250])."""
    shares = [list(range(i, messages, conns)) for i in range(conns)]
    envelope = (b"MAIL FROM:<" + mail_from.encode() + b">\r\nRCPT TO:<" + rcpt.encode() +
                b">\r\nDATA\r\n")
    if bodies is None:
        bodies = {n: make_body(size, n) for share in shares for n in share}
    sel = selectors.DefaultSelector()
    conns_left = 0
    replies = []
    deadline = time.monotonic() + max(600, messages / 5)

    class Conn:
        def __init__(self, numbers):
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buf = b""
            self.numbers = numbers
            self.expect = [220]  # codes still awaited, in order
            self.step = "greeting"

        def send_next(self):
            if not self.numbers:
                self.sock.sendall(b"QUIT\r\n")
                return False
            self.sock.sendall(envelope)
            self.expect, self.step = [250, 250, 354], "envelope"
            return True

    start = time.monotonic()
    for share in shares:
        if share:
            c = Conn(share)
            sel.register(c.sock, selectors.EVENT_READ, c)
            conns_left += 1
    while conns_left:
        if time.monotonic() > deadline:
            raise RuntimeError("load did not finish in time")
        for key, _ in sel.select(timeout=5):
            c = key.data
            data = c.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            c.buf += data
            while c.expect:
                nl = c.buf.find(b"\n")
                if nl < 0:
                    break
                line, c.buf = c.buf[:nl + 1], c.buf[nl + 1:]
                if line[3:4] == b"-":
                    continue  # more lines of a multi-line reply
                code = int(line[:3])
                if code != c.expect[0]:
                    raise RuntimeError(f"{c.step}: {line!r}")
                c.expect.pop(0)
            if c.expect:
                continue
            if c.step == "greeting":
                c.sock.sendall(b"EHLO client.test\r\n")
                c.expect, c.step = [250], "ehlo"
            elif c.step in ("ehlo", "data"):
                if c.step == "data":
                    replies.append(time.monotonic())
                    c.numbers.pop(0)
                if not c.send_next():
                    sel.unregister(c.sock)
                    c.sock.close()
                    conns_left -= 1
            elif c.step == "envelope":
                c.sock.sendall(bodies[c.numbers[0]])
                c.expect, c.step = [250], "data"
    return start, replies


def load_smtp_source(port, messages, size, conns, rcpt):
    """Postfix's C load generator (Debian's postfix package): C sessions, each keeping its
    connection (-d) and sending one message after another (no pipelining). Returns (start,
    end): smtp-source exits after the reply to the last DATA, so `end` is the last 250."""
    exe = shutil.which("smtp-source") or "/usr/sbin/smtp-source"
    if not os.access(exe, os.X_OK):
        raise PeerError("smtp-source not installed (Debian package postfix)")
    cmd = [exe, "-d", "-s", str(conns), "-m", str(messages), "-l", str(size),
           "-f", "load@client.test", "-t", rcpt, "-M", "client.test", f"127.0.0.1:{port}"]
    start = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=max(600, messages / 5))
    end = time.monotonic()
    if p.returncode != 0:
        raise PeerError(f"smtp-source: {(p.stderr or p.stdout).strip()[-300:]}")
    return start, [end]


def run_load(args, port, messages, rcpt, conns=None):
    conns = conns or args.conns
    if args.client == "smtp-source":
        return load_smtp_source(port, messages, args.size, conns, rcpt)
    if args.client == "lean":
        return load_lean(port, messages, args.size, conns, rcpt)
    return asyncio.run(load(port, messages, args.size, conns, rcpt))


async def load(port, messages, size, conns, rcpt):
    replies = []
    shares = [list(range(i, messages, conns)) for i in range(conns)]
    start = time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(*(one_connection(port, s, size, rcpt, replies) for s in shares if s)),
        timeout=max(600, messages / 5))
    return start, replies


# ---- servers ---------------------------------------------------------------------------------

def run_tern(args, trash):
    with TernServer(listeners=("smtp",), sections={"smtp": {"max_message_size": 50 << 20}},
                    keep_dir=True) as t:
        trash.append(t.dir)
        t.add_user(USER, PASSWORD)
        t.start()
        pid = t.proc.pid
        maildir = os.path.join(t.data_dir, "mail", "bench.test", "bench")
        # Warm-up (first delivery creates the user's folders), not timed.
        run_load(args, t.port("smtp"), 20, USER, conns=4)
        before = count_files(maildir)
        cpu0 = cpu_seconds([pid], children=False)
        client0 = sum(os.times()[:4])  # own + reaped children (smtp-source)
        start, replies = run_load(args, t.port("smtp"), args.messages, USER)
        elapsed = max(replies) - start
        cpu = cpu_seconds([pid], children=False) - cpu0
        client_cpu = sum(os.times()[:4]) - client0
        stored = count_files(maildir) - before
        if stored != args.messages:
            raise PeerError(f"only {stored} of {args.messages} messages in the Maildir after 250")
        # Index overhead (issue 20): index.db + its WAL against the mail's bytes, at the last
        # 250 and once ternd's idle upkeep (1 s after the last write) has run.
        mail_bytes = tree_bytes(maildir)
        at_end = index_bytes(t.data_dir)
        idle = wait_index_settled(t.data_dir, timeout=10.0)
        return {"rate": args.messages / elapsed, "seconds": elapsed,
                "cpu_ms": 1000 * cpu / args.messages, "rss_mib": vm_hwm_kib(pid) / 1024,
                "what": "last 250 (durable)",
                "client_cpu_pct": 100 * client_cpu / elapsed,
                "index": (at_end, idle, mail_bytes, stored + 20)}


def tree_bytes(root):
    total = 0
    for d, _, names in os.walk(root):
        for n in names:
            try:
                total += os.lstat(os.path.join(d, n)).st_size
            except OSError:
                pass
    return total


def index_bytes(data_dir):
    total = 0
    for n in ("index.db", "index.db-wal"):
        try:
            total += os.stat(os.path.join(data_dir, n)).st_size
        except OSError:
            pass
    return total


def wait_index_settled(data_dir, timeout):
    """index.db + WAL once the WAL is truncated (idle upkeep) or after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.stat(os.path.join(data_dir, "index.db-wal")).st_size == 0:
                break
        except OSError:
            break
        time.sleep(0.1)
    return index_bytes(data_dir)


def sh(*cmd, timeout=120):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise PeerError(f"{os.path.basename(cmd[0])} {cmd[1]}: {(p.stderr or p.stdout).strip()[-300:]}")
    return dict(kv.split("=", 1) for kv in p.stdout.split() if "=" in kv)


def run_postfix(args, trash):
    peers = os.path.join(HERE, "peers")
    base = tempfile.mkdtemp(prefix="tern-ingest-peer-")
    trash.append(base)
    os.chmod(base, 0o755)
    dov_dir, pf_dir, root = (os.path.join(base, d) for d in ("dovecot", "postfix", "mail"))
    for d in (dov_dir, pf_dir, root):
        os.makedirs(d)
        os.chmod(d, 0o755)
    started = []
    try:
        dov = sh(os.path.join(peers, "dovecot.sh"), "start", dov_dir, root, USER, PASSWORD,
                 timeout=300)
        started.append(("dovecot.sh", dov_dir))
        pf = sh(os.path.join(peers, "postfix.sh"), "start", pf_dir, "lmtp",
                f"127.0.0.1:{dov['lmtp']}", "bench.test", timeout=300)
        started.append(("postfix.sh", pf_dir))
        masters = [int(dov["pid"]), int(pf["pid"])]
        maildir = os.path.join(root, "bench", "Maildir")

        def all_pids():
            out = []
            for m in masters:
                out += descendants(m)
            return out

        def wait_count(n, timeout):
            deadline = time.monotonic() + timeout
            while count_files(maildir) < n:
                if time.monotonic() > deadline:
                    raise PeerError(f"only {count_files(maildir)} of {n} delivered in time")
                time.sleep(0.02)
            return time.monotonic()

        run_load(args, int(pf["smtp"]), 20, USER, conns=4)  # warm-up
        wait_count(20, 120)
        before = count_files(maildir)
        cpu0 = cpu_seconds(all_pids())
        start, replies = run_load(args, int(pf["smtp"]), args.messages, USER)
        done = wait_count(before + args.messages, max(600, args.messages / 5))
        elapsed = done - start
        pids = all_pids()
        cpu = cpu_seconds(pids) - cpu0
        rss = sum(vm_hwm_kib(p) for p in pids) / 1024
        return {"rate": args.messages / elapsed, "seconds": elapsed,
                "cpu_ms": 1000 * cpu / args.messages, "rss_mib": rss,
                "what": "all in Maildir (delivered)",
                "queued_rate": args.messages / (max(replies) - start)}
    finally:
        for script, d in reversed(started):
            subprocess.run([os.path.join(peers, script), "stop", d], capture_output=True,
                           timeout=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=4000)
    ap.add_argument("--size", type=int, default=4096, help="message size in bytes")
    ap.add_argument("--conns", type=int, default=20)
    ap.add_argument("--only", choices=("tern", "postfix"))
    ap.add_argument("--disk-seconds", type=float, default=10.0)
    ap.add_argument("--disk-threads", type=int, default=None,
                    help="writer threads for the disk limit (default: --conns, the number of "
                         "deliveries Tern has in flight at once)")
    ap.add_argument("--client", choices=("lean", "python", "smtp-source"), default="lean",
                    help="load generator: ours, pipelined MAIL/RCPT/DATA, on one selectors loop "
                         "(lean, the default) or on asyncio (python: the same conversation at "
                         "several times the client CPU), or Postfix's C smtp-source (no "
                         "pipelining)")
    args = ap.parse_args()
    # Every store and the probe's files go under one run directory that ext4 spreads over
    # fresh block groups (scratch.py says why: earlier runs' deletions slowed creations 2x).
    with run_scratch("tb-ingest-") as (_, spread):
        return run(args, spread)


def run(args, spread):
    disk_threads = args.disk_threads or args.conns
    raise_nofile(4 * args.conns + 256)
    print(f"smtp ingest: {args.messages} messages x {args.size} B over {args.conns} connections"
          f" (client: {args.client})")
    if not spread:
        print("note: this file system did not take ext4's TOPDIR flag; on ext4 without a "
              "journal, files deleted in the last minutes (an earlier run's) slow every phase")
    # Nothing is deleted until every phase has run. On ext4 without a journal (this kind of
    # machine's file system), creating a file skips every inode of its block group deleted in
    # the last 60-360 s (scratch.py): a phase that ran right after an earlier phase's
    # clean-up paid for it (Tern measured 1,145 msg/s after the disk probe's 57,000
    # deletions, ~2,400 without them). What a server deletes itself (Postfix its queue
    # files) is its own cost.
    trash = []
    results = {}
    try:
        # The disk limit first, on the file system the mail stores use (both servers keep
        # their data under the temp dir), so it is measured on a file system no phase of
        # this run has deleted from.
        def probe():
            files, secs = disk_limit.measure(directory=tempfile.gettempdir(),
                                             threads=disk_threads, files=100000,
                                             seconds=args.disk_seconds, trash=trash)
            return files / secs
        # The probe is CPU-bound itself on a small VM and follows the host's load, which
        # drifts within minutes (4,100 to 6,500 creations/s between runs here): it is taken
        # again right after Tern's phase, and Tern is compared with the mean of the two.
        disks = [probe()]
        for name, fn in (("tern", run_tern), ("postfix+dovecot-lmtp", run_postfix)):
            if args.only and not name.startswith(args.only):
                continue
            try:
                results[name] = fn(args, trash)
            except (PeerError, OSError, RuntimeError, asyncio.TimeoutError,
                    subprocess.TimeoutExpired) as e:
                results[name] = None
                print(f"{name}: not available ({e})")
            if name == "tern":
                disks.append(probe())
        disk = sum(disks) / len(disks)
    finally:
        for d in trash:
            shutil.rmtree(d, ignore_errors=True)
    print(f"{'server':<22} {'msg/s':>8} {'cpu ms/msg':>11} {'peak RSS MiB':>13}  timed until")
    for name, r in results.items():
        if r is None:
            print(f"{name:<22} {'n/a':>8}")
            continue
        print(f"{name:<22} {r['rate']:>8.0f} {r['cpu_ms']:>11.2f} {r['rss_mib']:>13.1f}  {r['what']}")
        if "client_cpu_pct" in r:
            print(f"{'':<22} (load generator {args.client} busy {r['client_cpu_pct']:.0f}% of one core)")
        if "index" in r:
            at_end, idle, mail, n = r["index"]
            print(f"{'':<22} index overhead (index.db + WAL) for {mail / 2**20:.1f} MiB of mail: "
                  f"{at_end / 2**20:.1f} MiB at the last 250 ({100 * at_end / mail:.1f} %, "
                  f"{at_end / n:.0f} B/msg), {idle / 2**20:.2f} MiB once idle "
                  f"({100 * idle / mail:.1f} %, {idle / n:.0f} B/msg)")
        if "queued_rate" in r:
            print(f"{'':<22} ({r['queued_rate']:.0f} msg/s until Postfix's last 250 = queued)")
    print(f"disk limit: {disk:.0f} durable 4 KB creations/s ({disk_threads} threads, "
          f"{args.disk_seconds:.0f} s; " +
          (f"before Tern {disks[0]:.0f}, after {disks[1]:.0f})" if len(disks) > 1 else "once)"))
    tern, peer = results.get("tern"), results.get("postfix+dovecot-lmtp")
    if tern:
        print(f"tern / disk limit: {100 * tern['rate'] / disk:.0f}%")
    if tern and peer:
        print(f"tern / peer delivered rate: {tern['rate'] / peer['rate']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
