#!/usr/bin/python3
"""The cost of the content stage (issue 17), in one run, stdlib only.

    bench/spam_filter.py [--messages 2000] [--size 4096] [--conns 20] [--rounds 2]
                         [--latency-messages 200]

Ingest: the load of bench/smtp_ingest.py (lean client: C connections, pipelined
MAIL/RCPT/DATA, one local recipient, ternd's 250 = durable) against a private Release ternd
(bench/peers/tern.py) with the built-in filter off (`spam.enabled = false`) and on (the
default: X-Spam-* fields, one MIME parse, header/attachment/GTUBE rules, the per-user
threshold lookup), alternated `--rounds` times; the on/off ratio of the median rates is
printed (issue 17 target: >= 70 %).
Latency: one connection sending `--latency-messages` one after another, filter on, without
and then with clamd (Debian's clamav-daemon started here on a loopback port with a one-line
signature database, no download): the mean time per message (MAIL to 250) and the added
latency. Memory per trained user: `--trained-users` users each teach their own classifier over IMAP,
the way a mail client does (`--train-each` messages moved into Junk, as many marked
$NotJunk; every message ~200 words of a random vocabulary, so each user learns thousands of
tokens); printed: the classifier's bytes on disk (data_dir/classifier.db and its WAL) and
the growth of ternd's memory (PSS), each per trained user, and the tokens per user.
A server that cannot be run prints "not available (<reason>)".
"""
import argparse
import imaplib
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import smtplib
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
sys.path.insert(0, HERE)
from tern import PeerError, TernServer, free_port, pss_kib  # noqa: E402
from smtp_ingest import load_lean  # noqa: E402

USER = "bench@bench.test"
PASSWORD = "bench-secret-1"


def start_clamd(directory):
    """(process, port) of a clamd knowing one signature, or raises PeerError."""
    exe = "/usr/sbin/clamd"
    if not os.access(exe, os.X_OK):
        raise PeerError("clamd not installed (Debian package clamav-daemon)")
    os.makedirs(os.path.join(directory, "db"))
    eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    with open(os.path.join(directory, "db", "bench.ndb"), "w") as f:
        f.write(f"Bench.EICAR:0:*:{eicar.hex()}\n")
    port = free_port()
    conf = os.path.join(directory, "clamd.conf")
    with open(conf, "w") as f:
        f.write(f"DatabaseDirectory {directory}/db\nTCPSocket {port}\nTCPAddr 127.0.0.1\n"
                f"Foreground yes\nLogFile {directory}/clamd.log\nTemporaryDirectory {directory}\n"
                f"User {os.getenv('USER') or 'root'}\n")
    proc = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PeerError(f"clamd exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise PeerError("clamd did not start within 60 s")


def with_tern(sections, fn):
    with TernServer(listeners=("smtp",), sections=sections) as t:
        t.add_user(USER, PASSWORD)
        t.start()
        load_lean(t.port("smtp"), 20, 4096, 4, USER)  # warm-up: creates the user's folders
        return fn(t)


def ingest_rate(args, spam_on):
    def run(t):
        start, replies = load_lean(t.port("smtp"), args.messages, args.size, args.conns, USER)
        return args.messages / (max(replies) - start)
    return with_tern({"spam": {"enabled": spam_on}}, run)


def latency_ms(args, sections):
    """Mean ms per message over one connection (the 250 of each message to the next one's)."""
    def run(t):
        start, replies = load_lean(t.port("smtp"), args.latency_messages, args.size, 1, USER)
        times = [start] + sorted(replies)
        return 1000 * statistics.mean(b - a for a, b in zip(times, times[1:]))
    return with_tern(sections, run)


def trained_user_memory(args):
    """(classifier bytes on disk per user, ternd PSS growth in KiB per user, tokens per user)."""
    rng = random.Random(17)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(4, 10)))
                  for _ in range(20000)]
    half = len(vocabulary) // 2

    def message(user, kind, i):
        pool = vocabulary[:half] if kind == "spam" else vocabulary[half:]
        words = " ".join(rng.choice(pool) for _ in range(200))
        lines = "\r\n".join(words[k:k + 76] for k in range(0, len(words), 76))
        return (f"From: <{kind}@sender.bench>\r\nTo: <{user}>\r\nSubject: {kind} {i}\r\n"
                f"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{kind}{i}.{user}@bench>\r\n"
                f"\r\n{lines}\r\n")

    def classifier_bytes(t):
        base = os.path.join(t.data_dir, "classifier.db")
        return sum(os.path.getsize(base + ext) for ext in ("", "-wal") if os.path.exists(base + ext))

    users = [f"trainer{i}@bench.test" for i in range(args.trained_users)]
    with TernServer(listeners=("smtp", "imap"), sections={"spam": {"enabled": True}}) as t:
        for u in users:
            t.add_user(u, PASSWORD)
        t.start()
        with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=60) as s:
            for u in users:
                for i in range(args.train_each):
                    for kind in ("spam", "ham"):
                        s.sendmail(f"{kind}@sender.bench", [u], message(u, kind, i))
        time.sleep(0.5)
        pss_before, disk_before = pss_kib(t.pids()), classifier_bytes(t)
        for u in users:
            m = imaplib.IMAP4("127.0.0.1", t.port("imap"), timeout=60)
            m.login(u, PASSWORD)
            m.select("INBOX")
            spam = m.uid("SEARCH", None, "SUBJECT", '"spam "')[1][0].split()
            ham = m.uid("SEARCH", None, "SUBJECT", '"ham "')[1][0].split()
            if len(spam) != args.train_each or len(ham) != args.train_each:
                raise PeerError(f"{u}: {len(spam)} spam and {len(ham)} ham in INBOX, "
                                f"expected {args.train_each} each")
            m.uid("MOVE", b",".join(spam), "Junk")
            m.uid("STORE", b",".join(ham), "+FLAGS", "($NotJunk)")
            m.logout()
        # Lessons are learnt on ternd's workers after the replies: wait for the last user's.
        want = f"trained\t{args.train_each} spam\t{args.train_each} ham\n"
        deadline = time.monotonic() + 120
        while want not in t.ctl("spam", "show", users[-1]):
            if time.monotonic() > deadline:
                raise PeerError("the lessons were not all learnt within 120 s")
            time.sleep(0.2)
        time.sleep(0.5)
        pss_after, disk_after = pss_kib(t.pids()), classifier_bytes(t)
        tokens = [int(line.split("\t")[1]) for u in users for line in t.ctl("spam", "show", u).splitlines()
                  if line.startswith("tokens\t")]
        n = len(users)
        return (disk_after - disk_before) / n, (pss_after - pss_before) / n, statistics.mean(tokens)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--conns", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--latency-messages", type=int, default=200)
    ap.add_argument("--trained-users", type=int, default=10)
    ap.add_argument("--train-each", type=int, default=50)
    args = ap.parse_args()
    print(f"spam filter cost: {args.messages} x {args.size} B over {args.conns} connections, "
          f"{args.rounds} rounds alternated")
    try:
        off, on = [], []
        for r in range(args.rounds):
            off.append(ingest_rate(args, False))
            on.append(ingest_rate(args, True))
            print(f"  round {r + 1}: filter off {off[-1]:,.0f} msg/s, on {on[-1]:,.0f} msg/s")
        ratio = statistics.median(on) / statistics.median(off)
        verdict = "met" if ratio >= 0.70 else "NOT met"
        print(f"ingest with the built-in filter: {100 * ratio:.0f} % of the filter-off rate "
              f"(median {statistics.median(on):,.0f} vs {statistics.median(off):,.0f} msg/s; "
              f"target >= 70 %: {verdict})")
    except PeerError as e:
        print(f"ingest: not available ({e})")
    try:
        disk, pss, tokens = trained_user_memory(args)
        print(f"memory per trained user ({args.trained_users} users, {args.train_each} spam + "
              f"{args.train_each} ham lessons each over IMAP, {tokens:,.0f} tokens each): "
              f"{disk / 1024:,.0f} KiB on disk (classifier.db), "
              f"{pss:,.0f} KiB of ternd memory (PSS growth)")
    except (PeerError, OSError, imaplib.IMAP4.error, smtplib.SMTPException) as e:
        print(f"memory per trained user: not available ({e})")
    scratch = tempfile.mkdtemp(prefix="tb-clamd-")
    proc = None
    try:
        base = latency_ms(args, {"spam": {"enabled": True}})
        proc, port = start_clamd(scratch)
        with_clamd = latency_ms(args, {"spam": {"enabled": True},
                                       "clamav": {"address": f"127.0.0.1:{port}"}})
        print(f"latency per message, one connection, {args.latency_messages} messages: "
              f"{base:.2f} ms without clamd, {with_clamd:.2f} ms with clamd "
              f"(added {with_clamd - base:.2f} ms per message)")
    except PeerError as e:
        print(f"clamd latency: not available ({e})")
    finally:
        if proc and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
