#!/usr/bin/python3
"""IMAP benchmark, Tern vs Dovecot side by side (issue 4), stdlib only, loopback only.

    bench/imap_bench.py [--messages 10000] [--idle-conns 1000] [--fetches 500] [--seed 4]
                        [--only tern|dovecot] [--tls] [--dovecot-idle-conns N] [--search-only]
    bench/imap_bench.py --mixed [--clients 10] [--duration 30] [--mixed-messages 300]
                        (the mixed load of many clients: see bench/imap_mixed.py)

Generates a deterministic mailbox (sizes 1-100 KB log-uniform; text/plain, quoted-printable,
multipart/alternative, multipart/mixed with base64 attachments, RFC 2047/2231 names), APPENDs
the same messages in the same order to a fresh ternd and a private Dovecot
(bench/peers/dovecot.sh), then measures on each:
  append      APPEND of every message, one connection, one at a time (LITERAL+ when offered)
  select      LOGIN + SELECT INBOX on a new connection (median of 5)
  envelope    FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE), first on a new connection, then again
  bodystruct  FETCH 1:* BODYSTRUCTURE
  search      UID SEARCH TEXT "<word in ~1% of the messages>", then again
              (--search-only: right after the APPENDs, skipping every other phase, and
              again after --search-settle seconds)
  bodies      N x FETCH <random seq> BODY.PEEK[] (same sequence for both servers)
  idle        PSS per IDLE connection: C connections each LOGIN, SELECT INBOX, IDLE; PSS summed
              over the server's processes (/proc/PID/smaps_rollup) minus the idle server, / C.
              With --tls the IDLE connections use implicit TLS (imaps, TLS 1.3) on both servers
              (Dovecot gets the same kind of self-signed P-256 certificate), so the figure
              includes the TLS state. Dovecot runs a process per connection (two over TLS):
              it is measured on min(C, --dovecot-idle-conns) connections (default 5000).
Timings are wall clock on the client, from sending the command to reading its tagged reply
(a raw-socket client, so Python parsing is not measured). A server that cannot be run prints
"not available (<reason>)" instead of figures.
"""
import argparse
import base64
import ssl
import math
import os
import quopri
import random
import re
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
from tern import PeerError, TernServer, descendants, pss_kib, raise_nofile  # noqa: E402
from scratch import run_scratch  # noqa: E402

SEARCH_WORD = "quixotically"
PHASE_TIMEOUT = 600.0  # seconds, per phase


# ---------------------------------------------------------------------------------------------
# Deterministic message corpus

FIRST = ["Anna", "Bjørn", "Chloé", "Dmitri", "Émile", "Fatima", "Günther", "Hiroshi", "Inés",
         "José", "Kalinda", "Łukasz", "Mårten", "Noor", "Oğuz", "Priya", "Quentin", "Renée"]
LAST = ["Müller", "O'Brien", "Søndergaard", "Nakamura", "García", "Kowalski", "Dubois", "Smith",
        "Ivanova", "Øster", "Çelik", "Novák"]
TOPICS = ["Quarterly report", "Réunion de projet", "Übersicht der Änderungen", "Lunch?",
          "Invoice #{n}", "Re: build failure on main", "Fwd: holiday photos", "会议纪要",
          "Встреча в пятницу", "Draft v{n} attached", "Status update", "¿Vienes mañana?"]


def make_pool(rng, nbytes=1 << 20):
    """~nbytes of wrapped pseudo-English lines (CRLF), sliced by messages for their text."""
    syll = ["ka", "lo", "mi", "ne", "ra", "to", "su", "vi", "de", "an", "or", "el", "is", "um",
            "pe", "qu", "str", "th", "ch", "ber", "ing", "ion", "ex", "al"]
    words = ["".join(rng.choice(syll) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    words += ["the", "and", "of", "to", "in", "is", "for", "with", "meeting", "report", "mail"]
    lines, size = [], 0
    while size < nbytes:
        line, n = [], 0
        while n < 68:
            w = rng.choice(words)
            line.append(w)
            n += len(w) + 1
        s = " ".join(line)
        if rng.random() < 0.1:
            s = s.capitalize() + "."
        lines.append(s)
        size += len(s) + 2
    return lines


def take_text(rng, pool, nbytes, marker=False):
    start = rng.randrange(len(pool))
    out, size, i = [], 0, start
    while size < nbytes:
        out.append(pool[i % len(pool)])
        size += len(out[-1]) + 2
        i += 1
    if marker:
        k = rng.randrange(len(out))
        out[k] = out[k][:40] + " " + SEARCH_WORD + " " + out[k][40:]
    return "\r\n".join(out) + "\r\n"


def enc_word(rng, text):
    """RFC 2047 encoded word(s) for a non-ASCII phrase (B or Q), plain when ASCII."""
    if all(ord(c) < 128 for c in text):
        return text
    if rng.random() < 0.5:
        return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="
    q = "".join(c if c.isalnum() and ord(c) < 128 else
                "".join(f"={b:02X}" for b in c.encode()) if c != " " else "_" for c in text)
    return "=?UTF-8?Q?" + q + "?="


def b64_lines(data):
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76)) + "\r\n"


def make_message(rng, pool, i):
    target = int(math.exp(rng.uniform(math.log(1024), math.log(100 * 1024))))
    marker = rng.random() < 0.01
    fn, ln = rng.choice(FIRST), rng.choice(LAST)
    tn, tl = rng.choice(FIRST), rng.choice(LAST)
    subject = rng.choice(TOPICS).format(n=rng.randint(1, 999))
    t = 1700000000 + i * 617 + rng.randint(0, 600)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
    hdr = [
        f"Return-Path: <{fn.lower()}@example.org>",
        f"Received: from mx.example.org (mx.example.org [192.0.2.{i % 250 + 1}]) by bench.test;"
        f" {date}",
        f"From: {enc_word(rng, fn + ' ' + ln)} <sender{i % 97}@example.org>",
        f"To: {enc_word(rng, tn + ' ' + tl)} <bench@bench.test>",
    ]
    if rng.random() < 0.3:
        hdr.append(f"Cc: team{i % 7}@example.net, \"Someone, Else\" <else{i % 13}@example.com>")
    hdr += [f"Subject: {enc_word(rng, subject)}", f"Date: {date}",
            f"Message-ID: <bench.{i}.{rng.randrange(1 << 30)}@example.org>", "MIME-Version: 1.0"]
    if i % 10 == 3:
        hdr.append(f"In-Reply-To: <bench.{i - 1}@example.org>")
    kind = rng.random()
    if kind < 0.35:
        text = take_text(rng, pool, target, marker)
        if rng.random() < 0.3:
            hdr += ["Content-Type: text/plain; charset=utf-8",
                    "Content-Transfer-Encoding: quoted-printable"]
            body = quopri.encodestring(text.replace("\r\n", "\n").encode(), quotetabs=False)
            body = body.decode().replace("\n", "\r\n")
        else:
            hdr += ["Content-Type: text/plain; charset=us-ascii; format=flowed"]
            body = text
    elif kind < 0.65:
        b = f"=_alt_{i}_{rng.randrange(1 << 20)}"
        text = take_text(rng, pool, target // 2, marker)
        html = "<html><body>" + "".join(f"<p>{ln}</p>\r\n" for ln in
                                        take_text(rng, pool, target // 2).split("\r\n")[:-1])
        html += "</body></html>\r\n"
        hdr.append(f'Content-Type: multipart/alternative; boundary="{b}"')
        body = (f"This is a multi-part message in MIME format.\r\n--{b}\r\n"
                f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}--{b}\r\n"
                f"Content-Type: text/html; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: 8bit\r\n\r\n{html}--{b}--\r\n")
    else:
        b = f"=_mix_{i}_{rng.randrange(1 << 20)}"
        text = take_text(rng, pool, min(4096, target // 4), marker)
        parts = [f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}"]
        natt = 1 if rng.random() < 0.7 else 2
        for a in range(natt):
            size = max(256, (target - len(text)) * 3 // 4 // natt)
            ctype, name = rng.choice([("application/pdf", "report.pdf"), ("image/png", "photo.png"),
                                      ("application/zip", "archive.zip")])
            if rng.random() < 0.3:
                disp = f"attachment; filename*=UTF-8''%C3%9Cbersicht-{a}.pdf"
            else:
                disp = f'attachment; filename="{name}"'
            parts.append(f"--{b}\r\nContent-Type: {ctype}; name=\"{name}\"\r\n"
                         f"Content-Disposition: {disp}\r\nContent-Transfer-Encoding: base64\r\n"
                         f"\r\n{b64_lines(rng.randbytes(size))}")
        hdr.append(f'Content-Type: multipart/mixed; boundary="{b}"')
        body = "".join(parts) + f"--{b}--\r\n"
    return ("\r\n".join(hdr) + "\r\n\r\n" + body).encode("utf-8")


def make_corpus(n, seed):
    rng = random.Random(seed)
    pool = make_pool(rng)
    msgs = [make_message(rng, pool, i) for i in range(n)]
    expected = sum(1 for m in msgs if SEARCH_WORD.encode() in m)
    return msgs, expected


# ---------------------------------------------------------------------------------------------
# Raw IMAP client (timing without imaplib's parsing)

class ImapError(Exception):
    pass


class Raw:
    def __init__(self, port, timeout=120.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.n = 0
        greeting = self._line()
        if not greeting.startswith(b"* OK"):
            raise ImapError("greeting: " + greeting.decode(errors="replace").strip())
        self.caps = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ImapError("connection closed by server")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def send(self, text):
        self.n += 1
        tag = b"b%05d" % self.n
        self.sock.sendall(tag + b" " + text + b"\r\n")
        return tag

    def wait(self, tag):
        """Reads until the tagged reply; returns (status line, everything before it)."""
        needle = b"\r\n" + tag + b" "
        chunks = [self.buf]
        self.buf = b""
        total = chunks[0]
        scanned = 0  # bytes of `total` already searched for the needle

        def find():
            if total.startswith(tag + b" "):
                return 0
            i = total.find(needle, max(0, scanned - len(needle)))
            return -1 if i < 0 else i + 2

        pos = find()
        while pos < 0 or b"\r\n" not in total[pos:]:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ImapError("connection closed by server")
            if pos < 0:
                scanned = len(total)
            chunks.append(chunk)
            total = b"".join(chunks)
            chunks = [total]
            if pos < 0:
                pos = find()
        end = total.index(b"\r\n", pos) + 2
        self.buf = total[end:]
        return total[pos:end], total[:pos]

    def cmd(self, text, ok=True):
        status, body = self.wait(self.send(text))
        if ok and b" OK" not in status[:20]:
            raise ImapError(f"{text[:60]!r}: {status.decode(errors='replace').strip()}")
        return status, body

    def login(self, user, password):
        st, body = self.cmd(b"CAPABILITY")
        self.caps = body.upper()
        q = lambda s: b'"' + s.encode().replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
        self.cmd(b"LOGIN " + q(user) + b" " + q(password))

    def append(self, msg):
        if b"LITERAL+" in self.caps:
            tag = self.send(b"APPEND INBOX {%d+}" % len(msg))
            self.sock.sendall(msg + b"\r\n")
        else:
            tag = self.send(b"APPEND INBOX {%d}" % len(msg))
            line = self._line()
            if not line.startswith(b"+"):
                raise ImapError("APPEND: " + line.decode(errors="replace").strip())
            self.sock.sendall(msg + b"\r\n")
        status, _ = self.wait(tag)
        if b" OK" not in status[:20]:
            raise ImapError("APPEND: " + status.decode(errors="replace").strip())

    def close(self):
        try:
            self.sock.sendall(b"z LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Measurements

def timed(fn):
    t0 = time.perf_counter()
    r = fn()
    return time.perf_counter() - t0, r


def run_measurements(name, port, user, password, msgs, expected, args, server_pids,
                     tls_port=None, idle_conns=0):
    res = {}
    c = Raw(port)
    c.login(user, password)
    c.cmd(b"SELECT INBOX")
    t0 = time.perf_counter()
    deadline = t0 + PHASE_TIMEOUT
    for i, m in enumerate(msgs):
        c.append(m)
        if time.perf_counter() > deadline:
            raise ImapError(f"append: only {i + 1} messages in {PHASE_TIMEOUT:.0f} s")
    res["append"] = time.perf_counter() - t0
    c.close()
    print(f"  {name}: appended {len(msgs)} in {res['append']:.1f} s", file=sys.stderr)

    c = Raw(port)
    c.login(user, password)
    c.cmd(b"SELECT INBOX")
    if not args.search_only:
        sel = []
        for _ in range(5):
            def login_select():
                r = Raw(port)
                r.login(user, password)
                st, body = r.cmd(b"SELECT INBOX")
                return r, body
            t, (r, body) = timed(login_select)
            m = re.search(rb"\* (\d+) EXISTS", body)
            if not m or int(m.group(1)) != len(msgs):
                raise ImapError(f"SELECT: EXISTS {m.group(1) if m else None!r}, expected {len(msgs)}")
            sel.append(t)
            r.close()
        res["select"] = statistics.median(sel)

        t, (st, body) = timed(lambda: c.cmd(b"FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)"))
        n = len(re.findall(rb"(?m)^\* \d+ FETCH ", body))
        if n != len(msgs):
            raise ImapError(f"ENVELOPE fetch returned {n} responses")
        res["envelope"] = t
        # The same FETCH again: shows what a server computes on first access and then caches.
        t, (st, body) = timed(lambda: c.cmd(b"FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)"))
        res["envelope2"] = t
        t, (st, body) = timed(lambda: c.cmd(b"FETCH 1:* BODYSTRUCTURE"))
        n = len(re.findall(rb"(?m)^\* \d+ FETCH ", body))
        if n != len(msgs):
            raise ImapError(f"BODYSTRUCTURE fetch returned {n} responses")
        res["bodystruct"] = t
    t, (st, body) = timed(lambda: c.cmd(b'UID SEARCH TEXT "' + SEARCH_WORD.encode() + b'"'))
    m = re.search(rb"\* SEARCH([ \d]*)\r\n", body)
    hits = len(m.group(1).split()) if m else -1
    res["search"] = t
    res["search_hits"] = hits
    # Again: a server that indexes in the background may still have been busy the first time.
    res["search2"], _ = timed(lambda: c.cmd(b'UID SEARCH TEXT "' + SEARCH_WORD.encode() + b'"'))
    if args.search_only and args.search_settle > 0:
        # A server that indexes after the reply (Tern's fts.db) may still be catching up with
        # the APPENDs: once more after a pause, with both servers idle.
        time.sleep(args.search_settle)
        res["search3"], _ = timed(lambda: c.cmd(b'UID SEARCH TEXT "' + SEARCH_WORD.encode() + b'"'))
    if args.search_only:
        c.close()
        if hits != expected:
            print(f"  {name}: SEARCH found {hits}, corpus has {expected} messages with the word",
                  file=sys.stderr)
        return res
    rng = random.Random(args.seed + 1)
    seqs = [rng.randint(1, len(msgs)) for _ in range(args.fetches)]
    t0 = time.perf_counter()
    nbytes = 0
    for s in seqs:
        st, body = c.cmd(b"FETCH %d BODY.PEEK[]" % s)
        nbytes += len(body)
        if time.perf_counter() - t0 > PHASE_TIMEOUT:
            raise ImapError("body fetches exceeded the time limit")
    res["bodies"] = time.perf_counter() - t0
    res["bodies_mb"] = nbytes / 1e6
    c.close()
    if hits != expected:
        print(f"  {name}: SEARCH found {hits}, corpus has {expected} messages with the word",
              file=sys.stderr)

    if idle_conns > 0:
        if args.tls and not tls_port:
            print(f"  {name}: no implicit-TLS listener: IDLE connections measured in plaintext",
                  file=sys.stderr)
        res.update(measure_idle(name, tls_port or port, user, password, idle_conns, server_pids,
                                use_tls=bool(args.tls and tls_port)))
    return res


def client_tls_context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # our own self-signed loopback certificates
    return ctx


def measure_idle(name, port, user, password, count, server_pids, use_tls=False):
    """Opens `count` connections (non-blocking state machines): LOGIN, SELECT INBOX, IDLE.
    Returns idle_kib (PSS per connection) and idle_open (seconds to get them all idling).
    use_tls: implicit TLS (each connection connects and handshakes, bounded by a timeout,
    before joining the non-blocking state machine)."""
    time.sleep(1.0)  # let the previous connections' processes/sessions go away
    base = pss_kib(server_pids())
    tls_ctx = client_tls_context() if use_tls else None
    sel = selectors.DefaultSelector()
    login = (b'a LOGIN "%s" "%s"\r\nb SELECT INBOX\r\nc IDLE\r\n'
             % (user.encode(), password.encode()))
    conns = {}
    pending = list(range(count))
    idling = 0
    failed = []
    t0 = time.perf_counter()
    # Each LOGIN verifies an argon2id hash (tens of ms): allow for 10,000 of them, bounded.
    deadline = t0 + PHASE_TIMEOUT + 0.2 * count
    # Bounded login bursts: Dovecot's single auth process verifying argon2id hashes fails
    # logins that wait too long ("Auth process broken") at 200 in flight.
    max_inflight = 32

    def open_one():
        if tls_ctx:
            try:
                raw = socket.create_connection(("127.0.0.1", port), timeout=30)
                s = tls_ctx.wrap_socket(raw)  # handshake, blocking, bounded by the timeout
            except OSError as e:
                failed.append(f"tls connect: {e}")
                return False
        else:
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
        s.setblocking(False)
        conns[s] = {"buf": b"", "state": "greet"}
        sel.register(s, selectors.EVENT_READ)
        return True

    def recv_all(s):
        data = s.recv(65536)
        # TLS: records already decrypted wait inside the SSL object, invisible to select().
        while data and isinstance(s, ssl.SSLSocket) and s.pending():
            data += s.recv(65536)
        return data

    inflight = 0
    while (pending or inflight) and time.perf_counter() < deadline:
        while pending and inflight < max_inflight:
            pending.pop()
            if open_one():
                inflight += 1
        if not inflight:
            break
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            st = conns[s]
            try:
                data = recv_all(s)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                continue
            except OSError as e:
                data = b""
                st["err"] = str(e)
            if not data:
                failed.append(st.get("err", "closed: " + st["buf"][-200:].decode(errors="replace")))
                sel.unregister(s)
                s.close()
                del conns[s]
                inflight -= 1
                continue
            st["buf"] += data
            if st["state"] == "greet" and b"\r\n" in st["buf"]:
                st["state"] = "login"
                st["buf"] = b""
                s.setblocking(True)
                s.sendall(login)  # pipelined: the server answers in order
                s.setblocking(False)
            elif st["state"] == "login":
                if re.search(rb"(?m)^[ab] (NO|BAD)", st["buf"]):
                    failed.append(st["buf"][-200:].decode(errors="replace"))
                    sel.unregister(s)
                    s.close()
                    del conns[s]
                    inflight -= 1
                elif re.search(rb"(?m)^\+", st["buf"]):
                    st["state"] = "idle"
                    st["buf"] = b""
                    sel.unregister(s)
                    inflight -= 1
                    idling += 1
        if len(failed) > count // 10 + 5:
            break
    opened = time.perf_counter() - t0
    out = {"idle_open": opened, "idle_ok": idling, "idle_tls": use_tls}
    if idling:
        time.sleep(2.0)  # settle (Dovecot: login processes exit after handing off)
        after = pss_kib(server_pids())
        out["idle_kib"] = (after - base) / idling
        out["idle_base_kib"] = base
    if failed:
        print(f"  {name}: {len(failed)} IDLE connections failed, first: {failed[0]!r}",
              file=sys.stderr)
    for s in list(conns):
        try:
            s.setblocking(True)
            s.settimeout(2)
            s.sendall(b"DONE\r\nd LOGOUT\r\n")
        except OSError:
            pass
        s.close()
    sel.close()
    return out


# ---------------------------------------------------------------------------------------------
# Servers

def bench_tern(msgs, expected, args):
    user, password = "bench@bench.test", "bench-secret-1"
    listeners = ("imap", "imaps") if args.tls else ("imap",)
    with TernServer(listeners=listeners,
                    sections={"imap": {"max_literal_size": 64 << 20}}) as t:
        t.start()
        t.add_user(user, password)
        try:
            probe = Raw(t.port("imap"), timeout=10)
            probe.login(user, password)
            probe.close()
        except (ImapError, OSError) as e:
            raise PeerError(f"IMAP not served by this ternd build: {e}")
        return run_measurements("tern", t.port("imap"), user, password, msgs, expected, args,
                                t.pids, tls_port=t.port("imaps") if args.tls else None,
                                idle_conns=args.idle_conns)


def bench_dovecot(msgs, expected, args):
    script = os.path.join(HERE, "peers", "dovecot.sh")
    tmp = tempfile.mkdtemp(prefix="dovecot-bench-")
    os.chmod(tmp, 0o755)  # Dovecot's auth and mail processes must reach it
    inst = os.path.join(tmp, "inst")
    idle_conns = min(args.idle_conns, args.dovecot_idle_conns)
    env = dict(os.environ, DOVECOT_BENCH_MAX_CONNS=str(max(idle_conns, 1000)))
    try:
        if args.tls:
            cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
            p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                                "-days", "2", "-subj", "/CN=localhost"],
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                raise PeerError("openssl req failed: " + p.stderr)
            os.chmod(key, 0o644)  # read by Dovecot's config process
            env.update(DOVECOT_BENCH_TLS_CERT=cert, DOVECOT_BENCH_TLS_KEY=key)
        p = subprocess.run([script, "start", inst, os.path.join(tmp, "mail"), "bench",
                            "bench-secret-1"], capture_output=True, text=True, timeout=180,
                           env=env)
        if p.returncode != 0:
            raise PeerError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "start failed")
        info = dict(kv.split("=", 1) for kv in p.stdout.split())
        master = int(info["pid"])
        if idle_conns < args.idle_conns:
            print(f"  dovecot: IDLE measured on {idle_conns} connections "
                  f"(--dovecot-idle-conns; a process per connection)", file=sys.stderr)
        return run_measurements("dovecot", int(info["imap"]), "bench", "bench-secret-1", msgs,
                                expected, args, lambda: descendants(master),
                                tls_port=int(info["imaps"]) if "imaps" in info else None,
                                idle_conns=idle_conns)
    finally:
        subprocess.run([script, "stop", inst], capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


ROWS = [
    ("append", "APPEND all messages (1 conn)", "s"),
    ("select", "LOGIN + SELECT INBOX (median of 5)", "ms"),
    ("envelope", "FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)", "ms"),
    ("envelope2", "  the same FETCH again", "ms"),
    ("bodystruct", "FETCH 1:* BODYSTRUCTURE", "ms"),
    ("search", "UID SEARCH TEXT", "ms"),
    ("search2", "UID SEARCH TEXT (again)", "ms"),
    ("search3", "UID SEARCH TEXT (after --search-settle s)", "ms"),
    ("bodies", "full-body fetches (BODY.PEEK[])", "ms"),
    ("idle_open", "open+LOGIN+SELECT+IDLE all connections", "s"),
    ("idle_kib", "PSS per IDLE connection", "KiB"),
]


def fmt(res, key, unit):
    if isinstance(res, str):
        return "-"
    if key not in res:
        return "n/a"
    v = res[key]
    if unit == "ms":
        return f"{v * 1000:.1f} ms"
    if unit == "s":
        return f"{v:.2f} s"
    return f"{v:.0f} KiB"


def main():
    ap = argparse.ArgumentParser(description="IMAP benchmark: Tern vs Dovecot")
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--idle-conns", type=int, default=1000)
    ap.add_argument("--fetches", type=int, default=500)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--only", choices=["tern", "dovecot"])
    ap.add_argument("--tls", action="store_true",
                    help="IDLE connections over implicit TLS (imaps) on both servers")
    ap.add_argument("--search-settle", type=float, default=60,
                    help="--search-only: seconds to wait before a last SEARCH (0: none)")
    ap.add_argument("--search-only", action="store_true",
                    help="after the APPENDs measure only UID SEARCH TEXT (twice); no IDLE")
    ap.add_argument("--dovecot-idle-conns", type=int, default=5000,
                    help="cap on Dovecot's IDLE connections (a process each)")
    ap.add_argument("--mixed", action="store_true",
                    help="run the mixed-load mode instead (bench/imap_mixed.py; its options below)")
    import imap_mixed  # noqa: E402 (it imports this module: loaded only here)
    imap_mixed.add_options(ap)
    args = ap.parse_args()
    if args.mixed:
        return imap_mixed.run(args)
    args.messages = max(1, min(args.messages, 100000))
    args.idle_conns = 0 if args.search_only else max(0, min(args.idle_conns, 20000))
    raise_nofile(args.idle_conns * 2 + 1024)

    t0 = time.perf_counter()
    msgs, expected = make_corpus(args.messages, args.seed)
    total = sum(len(m) for m in msgs)
    print(f"corpus: {len(msgs)} messages, {total / 1e6:.1f} MB, {expected} contain "
          f"{SEARCH_WORD!r} (generated in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)

    results = {}
    for name, fn in (("tern", bench_tern), ("dovecot", bench_dovecot)):
        if args.only and args.only != name:
            results[name] = "skipped (--only)"
            continue
        print(f"{name}: running", file=sys.stderr)
        try:
            results[name] = fn(msgs, expected, args)
        except (PeerError, ImapError, OSError, subprocess.SubprocessError, KeyError,
                ValueError) as e:
            results[name] = f"not available ({e})"

    print(f"\nIMAP benchmark: {len(msgs)} messages ({total / 1e6:.1f} MB), "
          f"{args.fetches} body fetches, {args.idle_conns} IDLE connections"
          f"{' over TLS' if args.tls else ''}, seed {args.seed}")
    w = 44
    print(f"{'measure':<{w}} {'tern':>14} {'dovecot':>14}")
    for key, label, unit in ROWS:
        if key == "bodies":
            label = f"{args.fetches} {label}"
        print(f"{label:<{w}} {fmt(results['tern'], key, unit):>14} "
              f"{fmt(results['dovecot'], key, unit):>14}")
    for name in ("tern", "dovecot"):
        r = results[name]
        if isinstance(r, str):
            print(f"{name}: {r}")
        else:
            extra = f"search hits {r.get('search_hits')} (expected {expected})"
            if "idle_ok" in r:
                extra += (f"; {r['idle_ok']} IDLE connections"
                          f"{' over TLS' if r.get('idle_tls') else ' (plaintext)'}")
            if "idle_base_kib" in r:
                extra += f"; idle server {r['idle_base_kib']} KiB PSS"
            print(f"{name}: {extra}")
    ok = any(not isinstance(r, str) for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    # Stores under one run directory ext4 spreads over fresh block groups (scratch.py).
    with run_scratch("tb-imap-"):
        sys.exit(main())
