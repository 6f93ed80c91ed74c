#!/usr/bin/python3
"""imaptest-style consistency check: several IMAP clients at once on one mailbox.

Each client runs a bounded random mix of APPEND, STORE (+/-FLAGS, .SILENT), EXPUNGE,
UID EXPUNGE, UID COPY, UID MOVE (and MOVE back from the other mailbox), FETCH BODY.PEEK[],
SEARCH, NOOP and IDLE, and keeps its own model of the mailbox (sequence number -> UID, and
each UID's flags) built ONLY from what the server tells it: untagged EXISTS, EXPUNGE, FETCH,
VANISHED (one client enables QRESYNC), APPENDUID and COPYUID. Every response is checked
against that model; at the end all clients NOOP and every model must equal the server's
state and each other. Raw sockets and a small parser: imaplib hides untagged responses.

Found so far (fixed in imapd/, the prelude replays the deterministic one): a silent STORE
hid another session's earlier change to the same message for good; UID FETCH / UID SEARCH
left out a message expunged by another session a moment before without announcing the
expunge (the store's watch fires after its lock is released).

Seed: TERN_STRESS_SEED (default: random, printed). Bounded: per-client operation count,
a wall-clock cap and socket timeouts.
"""
import os
import random
import re
import select
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern  # noqa: E402
from smtp_fixture import USERS, ctl_ok, make_message  # noqa: E402

USER = "bob@example.test"
PASSWORD = USERS[USER]
CLIENTS = 6
OPS_PER_CLIENT = 200
WALL_CAP = 25.0  # seconds for the random phase (all clients together)
IO_TIMEOUT = 20.0


class Inconsistency(AssertionError):
    pass


# ---- a small IMAP response reader / tokenizer ------------------------------------------------

LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


class Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.log = []  # last lines, for failure reports

    def _fill(self):
        self.sock.settimeout(IO_TIMEOUT)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Inconsistency("server closed the connection")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n") + 2
        ln, self.buf = self.buf[:i], self.buf[i:]
        return ln

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self):
        """One whole response: its line(s) with literals inline."""
        out = self.line()
        while True:
            m = LITERAL_AT_END.search(out)
            if not m:
                break
            out += self.exact(int(m.group(1)))
            out += self.line()
        self.log.append(out[:200])
        del self.log[:-40]
        return out

    def pending(self):
        """True when the server sent something no command asked for yet."""
        if self.buf:
            return True
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def send(self, data):
        self.sock.sendall(data)


def tokenize(data, pos=0):
    """Parses a parenthesised list starting at data[pos] == '(' or a run of tokens up to the
    end; returns (list, next position). Atoms are str, quoted strings and literals bytes."""
    out = []
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c == b" ":
            pos += 1
        elif c == b"(":
            sub, pos = tokenize(data, pos + 1)
            out.append(sub)
        elif c == b")":
            return out, pos + 1
        elif c == b'"':
            j = pos + 1
            s = bytearray()
            while data[j:j + 1] != b'"':
                if data[j:j + 1] == b"\\":
                    j += 1
                s += data[j:j + 1]
                j += 1
            out.append(bytes(s))
            pos = j + 1
        elif c == b"{":
            m = re.match(rb"\{(\d+)\+?\}\r\n", data[pos:])
            size = int(m.group(1))
            start = pos + m.end()
            out.append(data[start:start + size])
            pos = start + size
        elif c in (b"\r", b"\n"):
            pos += 1
        elif c == b"[":  # a response code, kept whole: "[COPYUID 1 2:3 7:8]"
            j = data.index(b"]", pos)
            out.append(data[pos:j + 1].decode("latin-1"))
            pos = j + 1
        else:
            m = re.match(rb"[^ ()\r\n\[]+(\[[^\]]*\](<\d+>)?)?", data[pos:])
            out.append(m.group(0).decode("latin-1"))
            pos += m.end()
    return out, pos


def parse_set(text):
    """'1:3,7' -> [1, 2, 3, 7] (ranges in either order)."""
    out = []
    for part in text.split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(min(a, b), max(a, b) + 1))
        else:
            out.append(int(part))
    return out


def flagset(tokens):
    # \Recent is per session (RFC 3501 §2.3.2): not part of the shared state compared here.
    return frozenset(t for t in tokens if t.lower() != "\\recent")


# ---- one client and its model --------------------------------------------------------------

class Shared:
    def __init__(self):
        self.lock = threading.Lock()
        self.bodies = {}  # (mailbox, uid) -> bytes, from APPENDUID / COPYUID
        self.counter = 0
        self.links = {}  # (mailbox, uid) -> (mailbox, uid) it was copied from (COPYUID)
        self.later = []  # (client, mailbox, uid, bytes) fetched before the UID was known

    def put(self, key, data):
        with self.lock:
            old = self.bodies.get(key)
            if old is not None and old != data:
                raise Inconsistency(f"UID {key} given to two different messages")
            self.bodies[key] = data

    def link(self, key, source):
        with self.lock:
            if self.links.setdefault(key, source) != source:
                raise Inconsistency(f"UID {key} given to two different copies")

    def get(self, key):
        with self.lock:
            for _ in range(1000):  # bounded walk along COPYUID links
                if key in self.bodies:
                    return self.bodies[key]
                if key not in self.links:
                    return None
                key = self.links[key]
            return None

    def next_id(self):
        with self.lock:
            self.counter += 1
            return self.counter


class Slot:
    __slots__ = ("uid", "flags")

    def __init__(self):
        self.uid = None
        self.flags = None


class Client:
    def __init__(self, name, sock, rng, shared, qresync=False):
        self.name = name
        self.c = Conn(sock)
        self.rng = rng
        self.shared = shared
        self.qresync = qresync
        self.keyword = f"$C{name}"  # only this client touches it: its STORE echo is exact
        self.tagn = 0
        self.mailbox = None
        self.msgs = []          # index = seq - 1
        self.uidvalidity = {}
        self.cur = None         # the command in progress ("FETCH", "UID FETCH", ...)
        self.hits = {}          # id(slot) -> FETCH items seen during this command (merged)
        self.gone = []          # slots removed during this command
        self.must_vanish = {}   # UID -> command that skipped it: expunged elsewhere, EXPUNGE due
        self.ops = 0
        self.status_line = None
        self.modseq = {}        # (mailbox, UID) -> highest MODSEQ seen (the QRESYNC client)

    def fail(self, msg):
        recent = b"".join(self.c.log[-int(os.environ.get("TERN_STRESS_TAIL", "12")):]).decode("latin-1", "replace")
        raise Inconsistency(f"client {self.name} [{self.cur}] in {self.mailbox}: {msg}\n"
                            f"last responses:\n{recent}")

    # -- model updates, from server responses only --

    def known_uids(self):
        return [s.uid for s in self.msgs if s.uid is not None]

    def check_order(self, i):
        """UIDs strictly ascend with the sequence numbers (RFC 9051 §2.3.1.1)."""
        u = self.msgs[i].uid
        for j in range(i - 1, -1, -1):
            if self.msgs[j].uid is not None:
                if self.msgs[j].uid >= u:
                    self.fail(f"UID {u} at seq {i + 1} not above UID {self.msgs[j].uid} at seq {j + 1}")
                break
        for j in range(i + 1, len(self.msgs)):
            if self.msgs[j].uid is not None:
                if self.msgs[j].uid <= u:
                    self.fail(f"UID {u} at seq {i + 1} not below UID {self.msgs[j].uid} at seq {j + 1}")
                break

    def remove(self, i):
        slot = self.msgs.pop(i)
        self.gone.append(slot)
        self.must_vanish.pop(slot.uid, None)

    def expunge_allowed(self):
        # RFC 9051 §7.5.1 (RFC 3501 §7.4.1): no EXPUNGE while responding to FETCH, STORE or
        # SEARCH; the UID forms are other commands and may carry them. RFC 7162 §3.2.10:
        # the same holds for VANISHED replacing EXPUNGE.
        if self.cur in ("FETCH", "STORE", "SEARCH"):
            self.fail("EXPUNGE/VANISHED sent during " + self.cur)

    def untagged(self, resp):
        toks, _ = tokenize(resp[2:])
        if not toks:
            self.fail(f"empty untagged response {resp!r}")
        if toks[0].isdigit() and len(toks) >= 2:
            n, what = int(toks[0]), toks[1].upper()
            if what == "EXISTS":
                # RFC 9051 §7.4.1: only EXPUNGE/VANISHED make the mailbox smaller.
                if n < len(self.msgs):
                    self.fail(f"EXISTS {n} below the {len(self.msgs)} messages known")
                self.msgs.extend(Slot() for _ in range(n - len(self.msgs)))
            elif what == "EXPUNGE":
                self.expunge_allowed()
                if self.qresync:
                    self.fail("EXPUNGE after ENABLE QRESYNC (RFC 7162 §3.2.10: VANISHED)")
                if not 1 <= n <= len(self.msgs):
                    self.fail(f"EXPUNGE {n} outside 1..{len(self.msgs)}")
                self.remove(n - 1)
            elif what == "FETCH":
                self.on_fetch(n, toks[2] if len(toks) > 2 else [])
            elif what == "RECENT":
                if n > len(self.msgs):
                    self.fail(f"RECENT {n} above EXISTS {len(self.msgs)}")
            else:
                self.fail(f"unknown untagged {resp!r}")
        elif toks[0].upper() == "VANISHED":
            if len(toks) > 1 and isinstance(toks[1], list):
                return  # (EARLIER): not used by this test
            self.expunge_allowed()
            for u in parse_set(toks[1]):
                self.vanish(u)
        elif toks[0].upper() == "BYE" and self.cur != "LOGOUT":
            self.fail(f"BYE: {resp!r}")
        elif toks[0].upper() == "OK" and len(toks) > 1 and toks[1].upper().startswith("[COPYUID"):
            self.copyuid(toks[1][1:-1].split()[1:], self.mailbox, self.pending_dest)
        elif toks[0].upper() == "OK" and len(toks) > 1 and toks[1].upper().startswith("[UIDVALIDITY"):
            v = int(toks[1][1:-1].split()[1])
            old = self.uidvalidity.setdefault(self.mailbox, v)
            if old != v:
                self.fail(f"UIDVALIDITY changed {old} -> {v}")
        elif toks[0].upper() in ("SEARCH", "ESEARCH"):
            self.search_result = [int(t) for t in toks[1:] if isinstance(t, str) and t.isdigit()]
        elif toks[0].upper() == "STATUS":
            self.status_line = resp.decode("latin-1")
        # FLAGS, OK [...], CAPABILITY, ENABLED, LIST...: nothing to model.

    def vanish(self, u):
        for i, s in enumerate(self.msgs):
            if s.uid == u:
                return self.remove(i)
        # Not known by UID: it must fit in a gap of unknown slots between known neighbours.
        lo = 0
        for i, s in enumerate(self.msgs):
            if s.uid is not None and s.uid < u:
                lo = i + 1
        for i in range(lo, len(self.msgs)):
            if self.msgs[i].uid is not None:
                break
            return self.remove(i)
        self.fail(f"VANISHED {u}: no such message in the model")

    def on_fetch(self, n, items):
        if not 1 <= n <= len(self.msgs):
            self.fail(f"FETCH for seq {n}, the client knows {len(self.msgs)} messages")
        if len(items) % 2:
            self.fail(f"odd FETCH item list {items!r}")
        d = {}
        for k in range(0, len(items), 2):
            d[items[k].upper() if isinstance(items[k], str) else items[k]] = items[k + 1]
        slot = self.msgs[n - 1]
        if "UID" in d:
            u = int(d["UID"])
            if slot.uid is None:
                slot.uid = u
                self.check_order(n - 1)
            elif slot.uid != u:
                self.fail(f"seq {n} is UID {slot.uid} in the model, server says UID {u}")
        if "FLAGS" in d:
            slot.flags = flagset(d["FLAGS"])
        if "MODSEQ" in d and slot.uid is not None:
            # RFC 7162 §3.1: a message's mod-sequence only grows; its responses never go back.
            m, key = int(d["MODSEQ"][0]), (self.mailbox, slot.uid)
            if m < self.modseq.get(key, 0):
                self.fail(f"UID {slot.uid}: MODSEQ {m} after {self.modseq[key]}")
            self.modseq[key] = m
        if "BODY[]" in d:
            if slot.uid is None:
                self.fail("BODY[] without UID for an unknown message")
            want = self.shared.get((self.mailbox, slot.uid))
            if want is None:
                # Another client's APPEND/MOVE whose APPENDUID/COPYUID it has not read yet:
                # compared at the end.
                self.shared.later.append((self.name, self.mailbox, slot.uid, d["BODY[]"]))
            elif d["BODY[]"] != want:
                self.fail(f"UID {slot.uid}: BODY[] differs from the bytes appended "
                          f"({len(d['BODY[]'])} vs {len(want)} bytes)")
        # Items seen for this message during the command, later ones win (an unsolicited
        # FETCH FLAGS may follow the one the command asked for).
        self.hits[id(slot)] = {**self.hits.get(id(slot), {}), **d}

    def copyuid(self, parts, src_box, dst_box):
        """RFC 4315 §3 COPYUID uidvalidity src-set dst-set: pairs in corresponding order."""
        src, dst = parse_set(parts[1]), parse_set(parts[2])
        if len(src) != len(dst):
            self.fail(f"COPYUID sets differ in size: {parts!r}")
        for s, d in zip(src, dst):
            # The source may be another client's copy whose COPYUID that client has not read
            # yet: then the bytes are found through the link later.
            self.shared.link((dst_box, d), (src_box, s))
        self.copied = src

    # -- commands --

    def cmd(self, text, kind, literal=None):
        """Sends one command; processes every response up to the tagged one."""
        if self.c.pending():
            self.fail("data arrived with no command in progress (RFC 9051 §7.5.1)")
        self.tagn += 1
        tag = f"{self.name}{self.tagn:04d}"
        self.cur, self.hits, self.gone, self.search_result, self.copied = kind, {}, [], None, None
        data = f"{tag} {text}".encode()
        self.last_cmd = data.decode()
        if literal is not None:
            data += b" {%d+}\r\n" % len(literal) + literal  # RFC 7888 LITERAL+
        self.c.send(data + b"\r\n")
        self.c.log.append(b"C: " + data[:200] + b"\r\n")
        while True:
            resp = self.c.response()
            if resp.startswith(b"* "):
                self.untagged(resp)
            elif resp.startswith(tag.encode() + b" "):
                status = resp.split(b" ", 2)[1].decode()
                return status, resp
            else:
                self.fail(f"unexpected response {resp[:100]!r}")

    def ok(self, text, kind, literal=None):
        status, resp = self.cmd(text, kind, literal)
        if status != "OK":
            self.fail(f"{text[:60]!r} -> {resp!r}")
        return resp

    def login_select(self, box="INBOX"):
        greeting = self.c.line()
        if not greeting.startswith(b"* OK"):
            self.fail(f"greeting {greeting!r}")
        self.ok(f"LOGIN {USER} {PASSWORD}", "LOGIN")
        if self.qresync:
            self.ok("ENABLE QRESYNC", "ENABLE")
        self.select(box)

    def select(self, box):
        self.mailbox, self.msgs = box, []
        self.ok(f"SELECT {box}", "SELECT")
        self.full_check()

    # -- checks --

    def full_check(self, exact_flags=False):
        """UID FETCH 1:* (UID FLAGS): every message known before (and not expunged meanwhile)
        is reported with the UID the model has; unknown UIDs get filled in."""
        before = list(self.msgs)
        old = {id(s): (s.uid, s.flags) for s in before}
        if not self.msgs:
            self.ok("NOOP", "NOOP")
            if not self.msgs:
                return
            before = list(self.msgs)
            old = {id(s): (s.uid, s.flags) for s in before}
        self.ok("UID FETCH 1:* (UID FLAGS)", "UID FETCH")
        gone = {id(s) for s in self.gone}
        for s in before:
            if id(s) in gone:
                continue
            if id(s) not in self.hits:
                self.fail(f"UID FETCH 1:* left out seq-known UID {s.uid}")
            if exact_flags and old[id(s)][1] != s.flags:
                self.fail(f"UID {s.uid}: model flags {sorted(old[id(s)][1] or [])} but server "
                          f"has {sorted(s.flags)}")

    def uid_search_check(self):
        start = list(self.msgs)
        self.ok("UID SEARCH ALL", "UID SEARCH")
        got = set(self.search_result or [])  # RFC 9051 §7.3.4: in no particular order
        gone = {id(s) for s in self.gone}
        known = {s.uid for s in start if s.uid is not None}
        unknown = sum(1 for s in start if s.uid is None)
        for s in start:
            if s.uid is not None and s.uid not in got and id(s) not in gone:
                self.fail(f"UID SEARCH ALL misses UID {s.uid}")
        extra = got - known
        if len(extra) > max(unknown, 0):
            self.fail(f"UID SEARCH ALL names UIDs {sorted(extra)} the model cannot hold")

    def seq_search_check(self):
        n = len(self.msgs)
        self.ok("SEARCH ALL", "SEARCH")
        got = self.search_result or []
        # No EXPUNGE may come during SEARCH (checked in untagged), so the numbers are 1..n or
        # fewer (messages expunged elsewhere are not matched).
        if any(not 1 <= x <= n for x in got):
            self.fail(f"SEARCH ALL returned {got} with {n} messages")

    # -- random operations --

    def pick(self, k):
        known = [i for i, s in enumerate(self.msgs) if s.uid is not None]
        return sorted(self.rng.sample(known, min(k, len(known))))

    def op_append(self):
        n = self.shared.next_id()
        body = b"".join(b"line %d of message %d from client %s\r\n" % (j, n, self.name.encode())
                        for j in range(self.rng.randint(1, 60)))
        msg = make_message("alice@example.test", USER, f"stress {n}", body)
        flags = [f for f in ("\\Seen", "\\Flagged", self.keyword) if self.rng.random() < 0.3]
        resp = self.ok(f"APPEND {self.mailbox} ({' '.join(flags)})", "APPEND", literal=msg)
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", resp)
        if not m:
            self.fail(f"no APPENDUID (RFC 4315 §3) in {resp!r}")
        self.shared.put((self.mailbox, int(m.group(2))), msg)

    def op_store(self):
        idx = self.pick(self.rng.randint(1, 3))
        if not idx:
            return
        flag = self.rng.choice(["\\Seen", "\\Flagged", "\\Deleted", self.keyword, self.keyword])
        add = self.rng.random() < 0.6
        # .SILENT only on the client's own keyword: the client then knows the result whatever
        # others do meanwhile (for shared flags an unsolicited FETCH during the STORE may show
        # the state before or after it, which no client can tell apart).
        silent = flag == self.keyword and self.rng.random() < 0.5
        by_uid = self.rng.random() < 0.5
        slots = [self.msgs[i] for i in idx]
        if by_uid:
            ids = ",".join(str(s.uid) for s in slots)
        else:
            ids = ",".join(str(i + 1) for i in idx)
        item = ("+" if add else "-") + "FLAGS" + (".SILENT" if silent else "")
        self.ok(f"{'UID ' if by_uid else ''}STORE {ids} {item} ({flag})", "UID STORE" if by_uid else "STORE")
        gone = {id(s) for s in self.gone}
        for s in slots:
            if id(s) in gone:
                continue
            if silent:
                # The client knows what it asked for; RFC 3501 §6.4.6: the server still tells
                # of changes made by others (checked at the end, when flags must match).
                if s.flags is not None:
                    s.flags = (s.flags | {flag}) if add else (s.flags - {flag})
                continue
            # RFC 9051 §6.4.6: FETCH FLAGS for every message of the set (unless expunged).
            d = self.hits.get(id(s))
            if d is None:
                self.must_vanish[s.uid] = self.last_cmd
                continue
            if flag == self.keyword and (flag in flagset(d["FLAGS"])) != add:
                self.fail(f"STORE {item} ({flag}) on UID {s.uid} echoed FLAGS {d['FLAGS']}")

    def op_expunge(self):
        if self.rng.random() < 0.5:
            self.ok("EXPUNGE", "EXPUNGE")
        else:
            idx = self.pick(self.rng.randint(1, 4))
            if not idx:
                return
            self.ok("UID EXPUNGE " + ",".join(str(self.msgs[i].uid) for i in idx), "UID EXPUNGE")

    def op_fetch_body(self):
        idx = self.pick(self.rng.randint(1, 3))
        if not idx:
            return
        slots = [self.msgs[i] for i in idx]
        status, resp = self.cmd("UID FETCH " + ",".join(str(s.uid) for s in slots) + " (UID BODY.PEEK[])",
                                "UID FETCH")
        # RFC 2180 §4.1 / RFC 9051 §7.4.1: a message expunged while its bytes were being read
        # leaves the FETCH successful (OK [EXPUNGEISSUED], RFC 5530 §3, says why).
        if status != "OK":
            self.fail(f"UID FETCH BODY.PEEK[] -> {resp!r}")
        gone = {id(s) for s in self.gone}
        for s in slots:
            if id(s) not in gone and "BODY[]" not in self.hits.get(id(s), {}):
                self.must_vanish[s.uid] = self.last_cmd

    def op_seq_fetch(self):
        if not self.msgs:
            return
        n = len(self.msgs)
        self.ok(f"FETCH 1:{n} (FLAGS)", "FETCH")
        # Numbers are stable during FETCH; every message not expunged elsewhere answers.
        for s in self.msgs:
            if id(s) not in self.hits and s.uid is not None:
                self.must_vanish[s.uid] = self.last_cmd

    def op_copy_move(self):
        idx = self.pick(self.rng.randint(1, 3))
        if not idx:
            return
        move = self.rng.random() < 0.4
        self.pending_dest = "Other"
        uids = [self.msgs[i].uid for i in idx]
        verb = "MOVE" if move else "COPY"
        resp = self.ok(f"UID {verb} {','.join(map(str, uids))} Other", "UID " + verb)
        if not move:
            m = re.search(rb"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", resp)
            if m:
                self.copyuid([m.group(1).decode(), m.group(2).decode(), m.group(3).decode()],
                             self.mailbox, "Other")
        if self.copied is not None and not set(self.copied) <= set(uids):
            self.fail(f"COPYUID names UIDs {self.copied} outside the set {uids}")
        if move:
            left = set(self.copied or []) & set(self.known_uids())
            if left:
                self.fail(f"MOVE left UIDs {sorted(left)} in the source (RFC 6851 §3.3)")

    def op_move_back(self):
        self.select("Other")
        idx = self.pick(self.rng.randint(1, 4))
        if idx:
            self.pending_dest = "INBOX"
            uids = [self.msgs[i].uid for i in idx]
            self.ok(f"UID MOVE {','.join(map(str, uids))} INBOX", "UID MOVE")
        if self.msgs and self.rng.random() < 0.5:
            self.ok("UID STORE 1:* +FLAGS.SILENT (\\Deleted)", "UID STORE")
            self.ok("EXPUNGE", "EXPUNGE")
        self.select("INBOX")
        self.check_vanished()

    def op_idle(self):
        if self.c.pending():
            self.fail("data arrived with no command in progress")
        self.tagn += 1
        tag = f"{self.name}{self.tagn:04d}"
        self.cur, self.hits, self.gone = "IDLE", {}, []
        self.c.send(f"{tag} IDLE\r\n".encode())
        first = self.c.response()
        while first.startswith(b"* "):
            self.untagged(first)
            first = self.c.response()
        if not first.startswith(b"+"):
            self.fail(f"IDLE answered {first!r}")
        end = time.monotonic() + self.rng.uniform(0.02, 0.2)
        while time.monotonic() < end:
            r, _, _ = select.select([self.c.sock], [], [], max(0.0, end - time.monotonic()))
            if r or self.c.buf:
                self.untagged(self.c.response())
        self.c.send(b"DONE\r\n")
        while True:
            resp = self.c.response()
            if resp.startswith(b"* "):
                self.untagged(resp)
            elif resp.startswith(tag.encode() + b" OK"):
                break
            else:
                self.fail(f"IDLE ended with {resp!r}")
        self.check_vanished()

    def check_vanished(self):
        # Messages the server skipped during FETCH/STORE were expunged by another session:
        # the EXPUNGE is due at the next point where one may be sent (RFC 9051 §7.5.1).
        known = set(self.known_uids())
        left = {u: c for u, c in self.must_vanish.items() if u in known}
        if left:
            self.fail(f"UIDs {left} were skipped by FETCH/STORE but never expunged")
        self.must_vanish.clear()

    def step(self):
        r = self.rng.random()
        if r < 0.22:
            self.op_append()
        elif r < 0.42:
            self.op_store()
        elif r < 0.50:
            self.op_expunge()
        elif r < 0.58:
            self.op_fetch_body()
        elif r < 0.63:
            self.op_seq_fetch()
        elif r < 0.70:
            self.op_copy_move()
        elif r < 0.72:
            self.op_move_back()
        elif r < 0.77:
            self.uid_search_check()
        elif r < 0.80:
            self.seq_search_check()
        elif r < 0.87:
            self.ok("NOOP", "NOOP")
            self.check_vanished()
        elif r < 0.92:
            self.op_idle()
        else:
            self.full_check()
        if any(s.uid is None for s in self.msgs) and self.rng.random() < 0.7:
            self.full_check()
        self.ops += 1


def prelude(p, q):
    """Deterministic cases first (each once found by the random phase)."""
    p.op_append()
    for cl in (p, q):
        cl.full_check()
    slot_p, slot_q = p.msgs[-1], q.msgs[-1]
    u = slot_p.uid
    if slot_q.uid != u:
        q.fail(f"last message is UID {slot_q.uid}, the other client says {u}")
    p.ok(f"UID STORE {u} -FLAGS (\\Seen \\Flagged)", "UID STORE")
    q.ok("NOOP", "NOOP")
    # RFC 3501 §6.4.6: whether or not .SILENT is used, the server SHOULD send a FETCH when a
    # message's flags were changed by others. q's silent STORE once hid p's \Flagged for good:
    # q then believed ($Cc) forever.
    p.ok(f"UID STORE {u} +FLAGS (\\Flagged)", "UID STORE")
    q.ok(f"UID STORE {u} +FLAGS.SILENT ({q.keyword})", "UID STORE")
    slot_q.flags = slot_q.flags | {q.keyword}  # what a client computes after .SILENT
    q.ok("NOOP", "NOOP")
    want = {"\\Flagged", q.keyword}
    if not want <= slot_q.flags:
        q.fail(f"after another's +\\Flagged and a silent +{q.keyword}, the model has {sorted(slot_q.flags)}")
    q.full_check(exact_flags=True)
    # An expunge by p while q is in FETCH / SEARCH (no EXPUNGE allowed there, RFC 9051 §7.5.1)
    # and then in UID SEARCH (allowed): q's model must follow.
    p.ok(f"UID STORE {u} +FLAGS.SILENT (\\Deleted)", "UID STORE")
    p.ok(f"UID EXPUNGE {u}", "UID EXPUNGE")
    q.op_seq_fetch()
    q.seq_search_check()
    q.uid_search_check()
    if u in q.known_uids():
        q.fail(f"UID {u} expunged by another session, still in the model after UID SEARCH")
    q.check_vanished()


def main():
    seed = int(os.environ.get("TERN_STRESS_SEED") or random.SystemRandom().randrange(1 << 30))
    print(f"seed {seed} (rerun with TERN_STRESS_SEED={seed})", flush=True)
    master = random.Random(seed)
    with Tern(listeners=("imap",), allow_plaintext_without_tls=True) as t:
        ctl_ok(t, "domain", "add", "example.test")
        ctl_ok(t, "user", "add", USER, input=PASSWORD + "\n")
        t.start()
        shared = Shared()
        clients = []
        for k in range(CLIENTS):
            sock = t.connect("imap", timeout=IO_TIMEOUT)
            cl = Client(chr(ord("a") + k), sock, random.Random(master.random()), shared, qresync=(k == 0))
            clients.append(cl)
        clients[0].login_select()
        clients[0].ok("CREATE Other", "CREATE")
        for cl in clients[1:]:
            cl.login_select()
        for _ in range(8):  # some mail to start with
            clients[1].op_append()

        prelude(clients[1], clients[2])

        errors = []
        deadline = time.monotonic() + WALL_CAP

        def run(cl):
            try:
                while cl.ops < OPS_PER_CLIENT and time.monotonic() < deadline and not errors:
                    cl.step()
            except Exception as e:  # noqa: BLE001 - reported by the main thread
                errors.append(e)

        threads = [threading.Thread(target=run, args=(cl,)) for cl in clients]
        started = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(WALL_CAP + 3 * IO_TIMEOUT)
            if th.is_alive():
                errors.append(Inconsistency("a client thread did not finish"))
        if errors:
            raise errors[0]
        ops = sum(cl.ops for cl in clients)
        print(f"{ops} operations by {CLIENTS} clients in {time.monotonic() - started:.1f} s", flush=True)

        # Quiescence: every client hears of everything, then models == server == each other.
        for cl in clients:
            cl.ok("NOOP", "NOOP")
            cl.check_vanished()
        states = []
        for cl in clients:
            if any(s.uid is None for s in cl.msgs):
                cl.full_check()
            cl.full_check(exact_flags=True)
            cl.uid_search_check()
            uids = cl.known_uids()
            if uids != sorted(set(uids)) or len(uids) != len(cl.msgs):
                cl.fail(f"final model not strictly ascending/complete: {uids}")
            if set(uids) != set(cl.search_result or []):
                cl.fail(f"UID SEARCH ALL {cl.search_result} != model {uids}")
            states.append([(s.uid, tuple(sorted(s.flags))) for s in cl.msgs])
        for cl, st in zip(clients[1:], states[1:]):
            if st != states[0]:
                diff = [(a, b) for a, b in zip(states[0], st) if a != b][:5]
                cl.fail(f"model differs from client a's: {len(st)} vs {len(states[0])} messages, "
                        f"first differences {diff}")
        # STATUS (RFC 9051 §6.3.11) agrees with the models once nothing moves.
        clients[1].ok("UNSELECT", "UNSELECT")  # RFC 3691
        clients[1].mailbox, clients[1].msgs = None, []
        clients[1].ok("STATUS INBOX (MESSAGES UIDNEXT)", "STATUS")
        st = clients[1].status_line or ""
        m = re.search(r"MESSAGES (\d+) UIDNEXT (\d+)", st)
        if not m or int(m.group(1)) != len(states[0]) or \
                (states[0] and int(m.group(2)) <= states[0][-1][0]):
            clients[1].fail(f"STATUS {st!r} disagrees with the {len(states[0])} messages modelled")
        final = clients[2]
        if final.msgs:
            final.ok("UID FETCH 1:* (UID BODY.PEEK[])", "UID FETCH")
            if len(final.hits) != len(final.msgs):
                final.fail("final BODY.PEEK[] did not return every message")
        for name, box, uid, data in shared.later:
            want = shared.get((box, uid))
            if want is None or want != data:
                raise Inconsistency(f"client {name} fetched {box} UID {uid}: "
                                    f"{'never appended' if want is None else 'bytes differ'}")
        print(f"final mailbox: {len(states[0])} messages; all {CLIENTS} models agree", flush=True)
        for cl in clients:
            cl.ok("LOGOUT", "LOGOUT")
            cl.c.sock.close()
        if re.search(r"(?m)^\S+ (error|critical) ", t.log()) or "Sanitizer" in t.log():
            raise Inconsistency("ternd logged an error:\n" + t.log()[-3000:])
        t.stop()


if __name__ == "__main__":
    main()
