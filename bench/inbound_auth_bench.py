#!/usr/bin/python3
"""SMTP ingest with the MX sender checks on and off, in the same run (issue 16).

    bench/inbound_auth_bench.py [--messages 2000] [--size 4096] [--conns 20] [--rounds 2]
                                [--key-bits 2048]

One ternd per phase, the same load generator as bench/smtp_ingest.py (its lean client:
EHLO once per connection, then MAIL+RCPT+DATA pipelined, the body after 354), the same
pre-built messages in both phases: each one DKIM-signed (rsa-sha256, relaxed/relaxed, by
dkimpy) for the sending domain before any clock starts.
- checks off: [inbound_auth] spf/dkim/dmarc/iprev = "off" (what bench/peers/tern.py does).
- checks on: all four "enforce", [dns] servers = a loopback dnslib server
  (tests/support/relay_harness.py ZoneDns) answering for the sending domain: SPF
  (ip4:127.0.0.1 -all), the DKIM key, DMARC p=reject, and the client's PTR and A (iprev).
  A warm-up of 20 messages fills ternd's DNS cache first (TTL 60 s); the queries the server
  sees during the timed part, divided by the messages, are "DNS queries per message with a
  warm cache". The run is checked: every message must be in the INBOX (not Junk) and a
  sampled stored message must carry spf=pass dkim=pass dmarc=pass iprev=pass from ternd.
Phases alternate (off, on, off, on ... `--rounds` times each); the best rate of each is
printed, with ternd's CPU per message, and the ratio on/off (issue 16's target: >= 80 %).
Debian: python3-dkim, python3-dnslib.
"""
import argparse
import importlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "support"))
from tern import PeerError, TernServer, raise_nofile  # noqa: E402
from smtp_ingest import count_files, cpu_seconds, load_lean  # noqa: E402

USER = "bench@bench.test"
PASSWORD = "bench-secret-1"
SENDER_DOMAIN = "sender.bench"
MAIL_FROM = "load@" + SENDER_DOMAIN
SELECTOR = "s1"


def make_key(directory, bits):
    """(private PEM bytes, base64 SubjectPublicKeyInfo for p=)."""
    import base64
    path = os.path.join(directory, "dkim.pem")
    subprocess.run(["openssl", "genrsa", "-out", path, str(bits)], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    with open(path, "rb") as f:
        return f.read(), base64.b64encode(der).decode()


def signed_bodies(count, size, key, first=0):
    """Message n (first <= n < first+count): a From: in SENDER_DOMAIN, DKIM-signed, as DATA
    bytes ending with CRLF.CRLF. No line starts with '.' (no dot-stuffing needed)."""
    import dkim
    line = b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz012\r\n"
    out = {}
    for n in range(first, first + count):
        head = (f"From: <{MAIL_FROM}>\r\nTo: <{USER}>\r\nSubject: bench {n}\r\n"
                f"Message-ID: <bench.{n}@{SENDER_DOMAIN}>\r\n"
                "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n\r\n").encode()
        msg = head
        while len(msg) + len(line) <= size - 5 - 400:  # room for the signature field
            msg += line
        sig = dkim.sign(msg, SELECTOR.encode(), SENDER_DOMAIN.encode(), key,
                        canonicalize=(b"relaxed", b"relaxed"),
                        include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
        out[n - first] = sig + msg + b".\r\n"
    return out


def zone(pub):
    from dnslib import PTR, TXT, A

    def txt(text):
        return ("TXT", TXT([text[i:i + 255] for i in range(0, len(text), 255)]))
    return {
        SENDER_DOMAIN: [txt("v=spf1 ip4:127.0.0.1 -all")],
        f"{SELECTOR}._domainkey.{SENDER_DOMAIN}": [txt("v=DKIM1; k=rsa; p=" + pub)],
        f"_dmarc.{SENDER_DOMAIN}": [txt("v=DMARC1; p=reject")],
        "1.0.0.127.in-addr.arpa": [("PTR", PTR(f"out.{SENDER_DOMAIN}."))],
        f"out.{SENDER_DOMAIN}": [("A", A("127.0.0.1"))],
    }


def phase(args, checks_on, dns, warm, timed):
    sections = {"smtp": {"max_message_size": 50 << 20}}
    if checks_on:
        sections["dns"] = {"servers": [f"127.0.0.1:{dns.port}"]}
        sections["inbound_auth"] = {k: "enforce" for k in ("spf", "dkim", "dmarc", "iprev")}
    with TernServer(listeners=("smtp",), sections=sections) as t:
        t.add_user(USER, PASSWORD)
        t.start()
        pid = t.proc.pid
        port = t.port("smtp")
        maildir = os.path.join(t.data_dir, "mail", "bench.test", "bench")
        # Warm-up, not timed: the user's folders, and (checks on) the DNS cache.
        load_lean(port, len(warm), args.size, 4, USER, bodies=warm, mail_from=MAIL_FROM)
        before = count_files(maildir)
        asked0 = len(dns.queries)
        cpu0 = cpu_seconds([pid], children=False)
        start, replies = load_lean(port, args.messages, args.size, args.conns, USER,
                                   bodies=timed, mail_from=MAIL_FROM)
        elapsed = max(replies) - start
        cpu = cpu_seconds([pid], children=False) - cpu0
        asked = len(dns.queries) - asked0
        stored = count_files(maildir) - before
        if stored != args.messages:
            raise PeerError(f"only {stored} of {args.messages} messages in the INBOX after 250 "
                            f"(checks {'on' if checks_on else 'off'}: Junk or refused?)")
        if checks_on:
            verify_results(maildir, t.log)
        return {"rate": args.messages / elapsed, "cpu_ms": 1000 * cpu / args.messages,
                "dns_per_msg": asked / args.messages}


def verify_results(maildir, log):
    """One stored message carries ternd's passing verdicts (the bench measures real checks)."""
    name = sorted(os.listdir(os.path.join(maildir, "new")))[-1]
    with open(os.path.join(maildir, "new", name), "rb") as f:
        head = f.read(4096).split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    unfolded = head.replace("\r\n\t", " ").replace("\r\n ", " ").split("\r\n")
    ours = [f for f in unfolded if f.startswith("Authentication-Results: tern.bench.test")]
    if len(ours) != 1:
        raise PeerError("no Authentication-Results from ternd in a stored message:\n" + head)
    ar = ours[0]
    for want in ("spf=pass", "dkim=pass", "dmarc=pass", "iprev=pass"):
        if want not in ar:
            raise PeerError(f"{want} missing in the stored message's A-R:\n{head}\n{log()[-2000:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--conns", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2, help="phases of each kind, alternating")
    ap.add_argument("--key-bits", type=int, default=2048)
    args = ap.parse_args()
    raise_nofile(4 * args.conns + 256)
    try:
        from relay_harness import ZoneDns
        importlib.import_module("dkim")  # signed_bodies() needs it: fail early
    except ImportError as e:
        print(f"inbound auth bench: not available ({e}; Debian: python3-dnslib python3-dkim)")
        return 0
    with tempfile.TemporaryDirectory(prefix="tern-authbench-") as keydir:
        key, pub = make_key(keydir, args.key_bits)
        print(f"signing {args.messages + 20} messages of {args.size} bytes "
              f"(rsa-sha256, {args.key_bits} bits, dkimpy) before timing ...", flush=True)
        warm = signed_bodies(20, args.size, key, first=10 ** 6)
        timed = signed_bodies(args.messages, args.size, key)
        dns = ZoneDns(zone(pub))
        try:
            results = {False: [], True: []}
            for _ in range(args.rounds):
                for on in (False, True):
                    r = phase(args, on, dns, warm, timed)
                    results[on].append(r)
                    print(f"  checks {'on ' if on else 'off'}: {r['rate']:7.0f} msg/s  "
                          f"cpu {r['cpu_ms']:.3f} ms/msg"
                          + (f"  dns {r['dns_per_msg']:.3f} queries/msg" if on else ""),
                          flush=True)
        except PeerError as e:
            print(f"inbound auth bench: not available ({e})")
            return 1
        finally:
            dns.close()
    off = max(results[False], key=lambda r: r["rate"])
    on = max(results[True], key=lambda r: r["rate"])
    print()
    print(f"SMTP ingest, {args.messages} messages x {args.size} B, {args.conns} connections, "
          f"best of {args.rounds}:")
    print(f"  checks off : {off['rate']:7.0f} msg/s   ternd cpu {off['cpu_ms']:.3f} ms/msg")
    print(f"  checks on  : {on['rate']:7.0f} msg/s   ternd cpu {on['cpu_ms']:.3f} ms/msg   "
          f"(SPF+DKIM+DMARC+iprev, enforce)")
    print(f"  ratio on/off: {100 * on['rate'] / off['rate']:.0f} %  (target >= 80 %)")
    print(f"  DNS queries per message, warm cache: {on['dns_per_msg']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
