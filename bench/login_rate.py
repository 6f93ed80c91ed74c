#!/usr/bin/python3
"""Login rate, Tern vs Dovecot (issue 18 defect 8), stdlib only, loopback only.

    bench/login_rate.py [--clients 10] [--logins 50] [--quick] [--only tern|dovecot]

C client threads each run N times: connect, read the greeting, LOGIN, LOGOUT (one user, the
right password). Printed: logins per second over the whole run, and the latency of a NOOP sent
every 20 ms on one already logged-in connection meanwhile (p50/p99): what every other command
pays when logins saturate the hashing workers.
Tern is run twice, with the verified-credential cache on (auth.credential_cache_ttl = 60, the
default) and off (0: argon2id on every LOGIN, as before the cache). Dovecot runs as shipped
(bench/peers/dovecot.sh: passwords stored {ARGON2ID} like Tern's; auth_cache_size is 0 by
default, so it hashes on every login). A server that cannot be run prints "not available".
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
sys.path.insert(0, HERE)
from tern import PeerError, TernServer  # noqa: E402
from imap_bench import ImapError, Raw  # noqa: E402

USER, PASSWORD = "bench@bench.test", "bench-secret-1"


def measure(port, user, password, clients, logins):
    errors = []
    done = threading.Event()
    lat = []

    def worker():
        try:
            for _ in range(logins):
                c = Raw(port, timeout=120)
                c.login(user, password)
                c.cmd(b"LOGOUT")
                c.sock.close()
        except (ImapError, OSError) as e:
            errors.append(str(e))

    def prober():
        try:
            c = Raw(port, timeout=120)
            c.login(user, password)
            while not done.is_set():
                t0 = time.perf_counter()
                c.cmd(b"NOOP")
                lat.append(time.perf_counter() - t0)
                time.sleep(0.02)
            c.close()
        except (ImapError, OSError) as e:
            errors.append("noop: " + str(e))

    probe = threading.Thread(target=prober)
    probe.start()
    time.sleep(0.2)
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    done.set()
    probe.join()
    if errors:
        raise ImapError(f"{len(errors)} client errors, first: {errors[0]}")
    lat.sort()
    return {
        "rate": clients * logins / elapsed,
        "noop_p50": statistics.median(lat) if lat else float("nan"),
        "noop_p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
    }


def bench_tern(args, ttl):
    with TernServer(listeners=("imap",), sections={"auth": {"credential_cache_ttl": ttl}}) as t:
        t.start()
        t.add_user(USER, PASSWORD)
        return measure(t.port("imap"), USER, PASSWORD, args.clients, args.logins)


def bench_dovecot(args):
    script = os.path.join(HERE, "peers", "dovecot.sh")
    tmp = tempfile.mkdtemp(prefix="dovecot-login-")
    os.chmod(tmp, 0o755)
    inst = os.path.join(tmp, "inst")
    try:
        p = subprocess.run([script, "start", inst, os.path.join(tmp, "mail"), "bench", PASSWORD],
                           capture_output=True, text=True, timeout=180)
        if p.returncode != 0:
            raise PeerError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "start failed")
        info = dict(kv.split("=", 1) for kv in p.stdout.split())
        return measure(int(info["imap"]), "bench", PASSWORD, args.clients, args.logins)
    finally:
        subprocess.run([script, "stop", inst], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="IMAP login rate: Tern vs Dovecot")
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--logins", type=int, default=50, help="logins per client")
    ap.add_argument("--quick", action="store_true", help="10 logins per client")
    ap.add_argument("--only", choices=["tern", "dovecot"])
    args = ap.parse_args()
    if args.quick:
        args.logins = 10
    args.clients = max(1, min(args.clients, 200))
    args.logins = max(1, min(args.logins, 10000))

    runs = [("tern (cache on)", "tern", lambda: bench_tern(args, 60)),
            ("tern (cache off)", "tern", lambda: bench_tern(args, 0)),
            ("dovecot", "dovecot", lambda: bench_dovecot(args))]
    results = {}
    for label, server, fn in runs:
        if args.only and args.only != server:
            continue
        print(f"{label}: running", file=sys.stderr)
        try:
            results[label] = fn()
        except (PeerError, ImapError, OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
            results[label] = f"not available ({e})"

    print(f"\nIMAP login rate: {args.clients} clients x {args.logins} LOGIN/LOGOUT, one user")
    print(f"{'server':<18} {'logins/s':>10} {'NOOP p50':>10} {'NOOP p99':>10}")
    for label, r in results.items():
        if isinstance(r, str):
            print(f"{label:<18} {r}")
        else:
            print(f"{label:<18} {r['rate']:>10.1f} {r['noop_p50'] * 1000:>8.1f}ms "
                  f"{r['noop_p99'] * 1000:>8.1f}ms")
    return 0 if any(not isinstance(r, str) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
