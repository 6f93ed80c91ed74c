#!/usr/bin/python3
"""Relay throughput, Tern vs Postfix side by side (issue 6), stdlib + python3-aiosmtpd sink.

    bench/relay_bench.py [--messages 2000] [--submitters 20] [--size 4096] [--only tern|postfix]

Each server gets a fresh loopback SMTP sink (bench/peers/smtp_sink.py, counting messages) as
its only next hop: Tern through `[relay] smarthost = "127.0.0.1:<sink>"` (smarthost_tls =
"none"), Postfix (bench/peers/postfix.sh, private instance) through relayhost = [::1]:<sink>.
S submitter threads each open one connection, EHLO and AUTH PLAIN (Tern: the submission
port, plaintext allowed on loopback; Postfix: smtpd with Dovecot SASL from
bench/peers/dovecot.sh, or without AUTH from mynetworks when Dovecot is unavailable), then
send their share of the N messages (SIZE bytes each, one non-local recipient each, spread over
50 remote domains) one after another.
Measured: from the first MAIL FROM until the sink has received all N messages
(end-to-end msg/s), and until the last submission was accepted (submission msg/s).
Retry schedules and concurrency limits are each server's shipped defaults.
Every wait is bounded; a server that cannot be run prints "not available (<reason>)".
"""
import argparse
import base64
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
from tern import PeerError, TernServer  # noqa: E402
from scratch import run_scratch  # noqa: E402

PASSWORD = "relay-secret-1"


class Sink:
    """bench/peers/smtp_sink.py as a child; arrival times of every message."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable if sys.executable.startswith("/usr/bin")
                                      else "/usr/bin/python3",
                                      os.path.join(HERE, "peers", "smtp_sink.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("port="):
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            raise PeerError("sink did not start: " + (err.strip().splitlines() or ["?"])[-1])
        self.port = int(line.strip().split("=")[1])
        self.count = 0
        self.offset = 0  # messages before reset() (probes)
        self.last = None
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("msg "):
                with self.cond:
                    self.count = int(line.split()[1])
                    self.last = time.perf_counter()
                    self.cond.notify_all()

    def reset(self):
        with self.cond:
            self.offset = self.count

    def wait_for(self, n, deadline):
        """Waits until n messages arrived since reset(); returns (count, last arrival)."""
        with self.cond:
            while self.count - self.offset < n and time.perf_counter() < deadline:
                self.cond.wait(timeout=0.5)
            return self.count - self.offset, self.last

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (subprocess.TimeoutExpired, OSError):
            self.proc.kill()
            self.proc.wait(timeout=10)


def make_message(i, size, sender, rcpt):
    head = (f"From: Bench Sender <{sender}>\r\nTo: <{rcpt}>\r\nSubject: relay bench {i}\r\n"
            f"Date: Sat, 22 Nov 2025 12:00:00 +0000\r\nMessage-ID: <relay.{i}@bench.test>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
    filler = base64.b64encode(bytes((i * 7 + k) % 256 for k in range(size))).decode()
    body, left = [], size - len(head)
    while left > 0:
        line = filler[(len(body) * 76) % (len(filler) - 76):][:min(76, max(1, left - 2))]
        body.append(line)
        left -= len(line) + 2
    return (head + "\r\n".join(body) + "\r\n").encode()


def submit_all(port, user, password, n, submitters, size, sink, timeout):
    """Returns dict with submit and end-to-end seconds, or raises."""
    per = [n // submitters + (1 if k < n % submitters else 0) for k in range(submitters)]
    conns, errors = [], []
    for k in range(submitters):
        s = smtplib.SMTP("127.0.0.1", port, timeout=60)
        s.ehlo("submitter%d.bench.test" % k)
        if user:
            s.login(user, password)
        conns.append(s)
    sender = user if user and "@" in user else "sender@bench.test"
    barrier = threading.Barrier(submitters + 1)
    done_at = [0.0] * submitters
    deadline_holder = {}

    def run(k):
        s = conns[k]
        barrier.wait()
        base = sum(per[:k])
        try:
            for j in range(per[k]):
                i = base + j
                if time.perf_counter() > deadline_holder["d"]:
                    errors.append(f"submitter {k}: time limit")
                    break
                rcpt = f"user{i}@dest{i % 50}.remote.example"
                s.sendmail(sender, [rcpt], make_message(i, size, sender, rcpt))
        except (smtplib.SMTPException, OSError) as e:
            errors.append(f"submitter {k}: {e}")
        done_at[k] = time.perf_counter()

    threads = [threading.Thread(target=run, args=(k,)) for k in range(submitters)]
    for t in threads:
        t.start()
    t0 = time.perf_counter()
    deadline_holder["d"] = t0 + timeout
    barrier.wait()
    for t in threads:
        t.join(timeout=timeout + 30)
    submit = max(done_at) - t0
    for s in conns:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass
    if errors:
        raise PeerError(f"{len(errors)} submitter errors, first: {errors[0]}")
    got, last = sink.wait_for(n, t0 + timeout)
    if got < n:
        raise PeerError(f"sink received {got}/{n} within {timeout:.0f} s")
    return {"submit": submit, "e2e": last - t0, "received": got}


def bench_tern(args):
    sink = Sink()
    try:
        user = "sender@bench.test"
        with TernServer(listeners=("submission",),
                        sections={"relay": {"smarthost": f"127.0.0.1:{sink.port}",
                                            "smarthost_tls": "none"}}) as t:
            t.start()
            t.add_user(user, PASSWORD)
            # Probe: one message must reach the sink, or relaying is not wired in this build.
            try:
                s = smtplib.SMTP("127.0.0.1", t.port("submission"), timeout=30)
                s.ehlo("probe.bench.test")
                s.login(user, PASSWORD)
                s.sendmail(user, ["probe@probe.remote.example"], make_message(0, 512, user, "p"))
                s.quit()
            except (smtplib.SMTPException, OSError) as e:
                raise PeerError(f"submission/relay not working in this ternd build: {e}")
            got, _ = sink.wait_for(1, time.perf_counter() + 30)
            if got < 1:
                raise PeerError("relay did not deliver a probe message to the sink in 30 s "
                                f"(log: {t.log()[-300:]!r})")
            time.sleep(0.5)  # a duplicate probe delivery would still count as a probe
            sink.reset()
            return submit_all(t.port("submission"), user, PASSWORD, args.messages,
                              args.submitters, args.size, sink, args.timeout)
    finally:
        sink.close()


def bench_postfix(args):
    if os.geteuid() != 0:
        raise PeerError("Postfix needs root to run its master")
    tmp = tempfile.mkdtemp(prefix="postfix-bench-")
    os.chmod(tmp, 0o755)
    peers = os.path.join(HERE, "peers")
    sink = None
    auth_note = ""
    try:
        sink = Sink()
        sasl, user = "", None
        p = subprocess.run([os.path.join(peers, "dovecot.sh"), "start", os.path.join(tmp, "dovecot"),
                            os.path.join(tmp, "mail"), "sender", PASSWORD],
                           capture_output=True, text=True, timeout=180)
        if p.returncode == 0:
            info = dict(kv.split("=", 1) for kv in p.stdout.split())
            sasl, user = info["auth"], "sender"
        else:
            auth_note = "no AUTH (Dovecot SASL unavailable: relaying allowed from mynetworks)"
        p = subprocess.run([os.path.join(peers, "postfix.sh"), "start", os.path.join(tmp, "postfix"),
                            "relay", f"127.0.0.1:{sink.port}"] + ([sasl] if sasl else []),
                           capture_output=True, text=True, timeout=180)
        if p.returncode != 0:
            raise PeerError((p.stderr.strip().splitlines() or ["postfix.sh start failed"])[-1])
        port = int(dict(kv.split("=", 1) for kv in p.stdout.split())["smtp"])
        r = submit_all(port, user, PASSWORD, args.messages, args.submitters, args.size, sink,
                       args.timeout)
        if auth_note:
            r["note"] = auth_note
        return r
    finally:
        if sink:
            sink.close()
        subprocess.run([os.path.join(peers, "postfix.sh"), "stop", os.path.join(tmp, "postfix")],
                       capture_output=True, timeout=60)
        subprocess.run([os.path.join(peers, "dovecot.sh"), "stop", os.path.join(tmp, "dovecot")],
                       capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="relay throughput: Tern vs Postfix")
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--submitters", type=int, default=20)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per server run")
    ap.add_argument("--only", choices=["tern", "postfix"])
    args = ap.parse_args()
    args.messages = max(1, min(args.messages, 100000))
    args.submitters = max(1, min(args.submitters, 200, args.messages))
    args.size = max(512, min(args.size, 1 << 20))
    args.timeout = max(10.0, min(args.timeout, 3600.0))

    results = {}
    for name, fn in (("tern", bench_tern), ("postfix", bench_postfix)):
        if args.only and args.only != name:
            results[name] = "skipped (--only)"
            continue
        print(f"{name}: running", file=sys.stderr)
        try:
            results[name] = fn(args)
        except (PeerError, OSError, smtplib.SMTPException, subprocess.SubprocessError,
                KeyError, ValueError) as e:
            results[name] = f"not available ({e})"

    print(f"\nRelay benchmark: {args.messages} messages of {args.size} bytes, "
          f"{args.submitters} submitters, loopback sink")
    print(f"{'measure':<40} {'tern':>16} {'postfix':>16}")

    def cell(r, key, rate):
        if isinstance(r, str):
            return "-"
        v = r[key]
        return f"{args.messages / v:.0f} msg/s" if rate else f"{v:.2f} s"
    for key, label in (("e2e", "end-to-end (submit -> sink)"), ("submit", "submission accepted")):
        print(f"{label + ' time':<40} {cell(results['tern'], key, False):>16} "
              f"{cell(results['postfix'], key, False):>16}")
        print(f"{label + ' rate':<40} {cell(results['tern'], key, True):>16} "
              f"{cell(results['postfix'], key, True):>16}")
    for name, r in results.items():
        if isinstance(r, str):
            print(f"{name}: {r}")
        elif "note" in r:
            print(f"{name}: {r['note']}")
    return 0 if any(not isinstance(r, str) for r in results.values()) else 1


if __name__ == "__main__":
    # Stores under one run directory ext4 spreads over fresh block groups (scratch.py).
    with run_scratch("tb-relay-"):
        sys.exit(main())
