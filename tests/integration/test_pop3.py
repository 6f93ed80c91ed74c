#!/usr/bin/python3
"""POP3 against a running ternd, as Python's poplib and a raw socket see it.

STLS and implicit TLS, logins refused before TLS, AUTH PLAIN, LIST/UIDL/TOP/RETR against the
stored bytes, DELE+QUIT, RSET, a dropped connection deleting nothing, [IN-USE], wrong
password, \\Seen after RETR, UIDL stable across a restart, and deletions reaching the store;
sizes measured at the first STAT after a restart (login answers without them), cached after.
"""
import base64
import os
import poplib
import re
import socket
import sqlite3
import ssl
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("TERN_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "support"))
import mailfill  # noqa: E402
from ternlib import Checks, Tern, client_tls_context  # noqa: E402

USER = "bob@example.test"
PASSWORD = "bob-secret-1"
OTHER = "carol@example.test"
OTHER_PASSWORD = "carol-secret-2"

check = Checks()


class Raw:
    """A line-level POP3 client over a socket, for exact bytes."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def line(self, timeout=60):
        while b"\r\n" not in self.buf:
            self.s.settimeout(timeout)
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin-1")

    def send(self, text):
        self.s.sendall(text.encode() + b"\r\n")

    def cmd(self, text):
        self.send(text)
        return self.line()

    def multiline(self, timeout=60):
        """The body of a multi-line response, dot-unstuffed, CRLF kept."""
        while b"\r\n.\r\n" not in b"\r\n" + self.buf:
            self.s.settimeout(timeout)
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data = b"\r\n" + self.buf
        end = data.index(b"\r\n.\r\n")
        body, self.buf = data[2:end + 2], data[end + 5:]
        out = []
        for ln in body.split(b"\r\n")[:-1]:
            out.append(ln[1:] if ln.startswith(b".") else ln)
        return b"".join(x + b"\r\n" for x in out)

    def close(self):
        self.s.close()


def tls_ctx():
    return client_tls_context()


def pop3s(t, user=USER, password=PASSWORD):
    p = poplib.POP3_SSL("127.0.0.1", t.port("pop3s"), context=tls_ctx(), timeout=60)
    p.user(user)
    p.pass_(password)
    return p


def raw_pop3s(t, user=USER, password=PASSWORD):
    r = Raw(t.connect_tls("pop3s", timeout=60))
    assert r.line().startswith("+OK")
    r.cmd(f"USER {user}")
    resp = r.cmd(f"PASS {password}")
    return r, resp


def err_text(exc):
    return exc.args[0].decode("latin-1", "replace") if exc.args and isinstance(exc.args[0], bytes) \
        else str(exc)


def login_when_free(t, timeout=15):
    """Logs in, retrying while the previous session's Release is still on its way."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return pop3s(t)
        except poplib.error_proto as e:
            if "[IN-USE]" not in err_text(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def raw_login_when_free(t, timeout=15):
    """raw_pop3s, retrying while the previous session's Release is still on its way."""
    deadline = time.monotonic() + timeout
    while True:
        r, resp = raw_pop3s(t)
        if "[IN-USE]" not in resp or time.monotonic() > deadline:
            return r, resp
        r.close()
        time.sleep(0.1)


def uidl_map(p):
    out = {}
    for entry in p.uidl()[1]:
        n, u = entry.decode().split(" ", 1)
        out[int(n)] = u
    return out


def list_map(p):
    out = {}
    for entry in p.list()[1]:
        n, size = entry.decode().split(" ", 1)
        out[int(n)] = int(size)
    return out


def index_uids(t, user):
    """UIDs in the store index (sqlite3, read-only) for user's INBOX."""
    db = sqlite3.connect(f"file:{os.path.join(t.data_dir, 'index.db')}?mode=ro", uri=True,
                         timeout=10)
    try:
        rows = db.execute(
            "SELECT m.uid FROM messages m JOIN mailboxes b ON m.mailbox_id = b.id "
            "WHERE b.user = ? AND b.name = 'INBOX' ORDER BY m.uid", (user,)).fetchall()
        return [r[0] for r in rows]
    finally:
        db.close()


def relaxed_auth(t):
    # The wrong-password cases must not trip the throttle's delay for everything after them.
    text = t.config_text().replace(
        "[auth]\n", "[auth]\ndelay_after_failures = 100\nmax_failures_per_ip = 1000\n"
                    "max_failures_per_account = 1000\n", 1)
    t.write_config(text)


def main():
    with Tern() as t:
        relaxed_auth(t)
        t.start()
        for args, pw in ((["domain", "add", "example.test"], None),
                         (["user", "add", USER], PASSWORD), (["user", "add", OTHER], OTHER_PASSWORD)):
            p = t.ctl(*args, input=(pw + "\n") if pw else None)
            if p.returncode != 0:
                raise RuntimeError(f"ternctl {args}: {p.stderr}")

        # -- greeting, CAPA, refusals before TLS ---------------------------------------------
        r = Raw(t.connect("pop3", timeout=30))
        greet = r.line()
        check("greeting", greet.startswith("+OK") and t.hostname in greet, greet)
        check("capa ok", r.cmd("CAPA").startswith("+OK"))
        capa = r.multiline().decode()
        check("capa stls", "STLS" in capa.split("\r\n"), capa)
        resp = r.cmd(f"USER {USER}")
        check("USER before TLS refused", resp.startswith("-ERR [AUTH]"), resp)
        resp = r.cmd("AUTH PLAIN " + base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode())
        check("AUTH before TLS refused", resp.startswith("-ERR [AUTH]"), resp)
        check("QUIT in AUTHORIZATION", r.cmd("QUIT").startswith("+OK"))
        r.close()

        # -- STLS then login on the plain listener --------------------------------------------
        p = poplib.POP3("127.0.0.1", t.port("pop3"), timeout=60)
        p.stls(context=tls_ctx())
        check("STLS: TLS active", isinstance(p.sock, ssl.SSLSocket))
        check("STLS: no STLS in CAPA after", "STLS" not in p.capa())
        check("STLS: USER", p.user(USER).startswith(b"+OK"))
        resp = p.pass_(PASSWORD)
        check("STLS: PASS", resp.startswith(b"+OK"), resp)
        check("STLS: empty maildrop", p.stat() == (0, 0), p.stat())
        p.quit()

        # -- wrong password ------------------------------------------------------------------
        try:
            pop3s(t, USER, "wrong")
            check("wrong password refused", False, "login succeeded")
        except poplib.error_proto as e:
            check("wrong password -ERR [AUTH]", err_text(e).startswith("-ERR [AUTH]"), err_text(e))
        check("auth fail logged", t.wait_log(r"auth fail proto=pop3 user=bob@example.test") is not None)

        # -- AUTH PLAIN over implicit TLS ------------------------------------------------------
        r = Raw(t.connect_tls("pop3s", timeout=60))
        r.line()
        resp = r.cmd("AUTH PLAIN " + base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode())
        check("AUTH PLAIN", resp.startswith("+OK"), resp)
        check("AUTH PLAIN QUIT", r.cmd("QUIT").startswith("+OK"))
        r.close()

        # -- messages -------------------------------------------------------------------------
        msgs = [mailfill.make_message(i, body_lines=5 + i) for i in range(4)]
        how = mailfill.fill(t, USER, PASSWORD, msgs)
        print(f"messages delivered by {how}")
        files = mailfill.maildir_files(t.data_dir, USER)
        check("4 messages stored", len(files) == 4 and all(isinstance(k, int) for k in files),
              list(files))
        uids = sorted(k for k in files if isinstance(k, int))

        p = login_when_free(t)
        count, octets = p.stat()
        check("STAT count", count == 4, count)
        check("STAT octets", octets == sum(len(files[u]) for u in uids), (octets, [len(files[u]) for u in uids]))
        sizes = list_map(p)
        ids = uidl_map(p)
        uidvalidity = None
        for n, uid in enumerate(uids, start=1):
            check(f"LIST {n} = stored size", sizes.get(n) == len(files[uid]), (sizes.get(n), len(files[uid])))
            m = re.fullmatch(r"(\d+)\.(\d+)", ids.get(n, ""))
            check(f"UIDL {n} form", m is not None and int(m.group(2)) == uid, (ids.get(n), uid))
            if m:
                uidvalidity = uidvalidity or m.group(1)
                check(f"UIDL {n} one uidvalidity", m.group(1) == uidvalidity)
        check("LIST 2 single", p._shortcmd("LIST 2").split()[2] == str(len(files[uids[1]])).encode())
        check("UIDL 3 single", p._shortcmd("UIDL 3").split()[2].decode() == ids[3])
        p.quit()

        # RETR/TOP exact bytes (raw), and the session end log line.
        r, resp = raw_pop3s(t)
        check("raw login", resp.startswith("+OK"), resp)
        for n, uid in enumerate(uids, start=1):
            resp = r.cmd(f"RETR {n}")
            check(f"RETR {n} +OK", resp.startswith("+OK"), resp)
            body = r.multiline()
            check(f"RETR {n} bytes = stored", body == files[uid], (body[:200], files[uid][:200]))
            check(f"RETR {n} CRLF only", b"\n" not in body.replace(b"\r\n", b""))
        resp = r.cmd("TOP 1 2")
        check("TOP +OK", resp.startswith("+OK"), resp)
        top = r.multiline()
        head, _, rest = files[uids[0]].partition(b"\r\n\r\n")
        want = head + b"\r\n\r\n" + b"".join(ln + b"\r\n" for ln in rest.split(b"\r\n")[:2])
        check("TOP 1 2 = headers + 2 lines", top == want, (top, want))
        # The daemon's read-ahead window: backwards, skipping, repeated and pipelined RETR/TOP
        # are each answered with their own message's bytes, in order.
        for n in (3, 1, 2, 4, 4, 2):
            resp = r.cmd(f"RETR {n}")
            body = r.multiline()
            check(f"out of order RETR {n}", resp.startswith("+OK") and body == files[uids[n - 1]],
                  (resp, body[:120]))
        r.s.sendall(b"RETR 4\r\nTOP 1 2\r\nRETR 1\r\nRETR 3\r\n")
        for n, want_body in ((4, files[uids[3]]), (1, want), (1, files[uids[0]]), (3, files[uids[2]])):
            resp = r.line()
            body = r.multiline()
            check(f"pipelined answer for {n}", resp.startswith("+OK") and body == want_body,
                  (resp, body[:120]))
        check("RETR 99", r.cmd("RETR 99").startswith("-ERR"))
        check("raw QUIT", r.cmd("QUIT").startswith("+OK"))
        r.close()
        check("quit logged", t.wait_log(r"pop3 quit user=bob@example.test ip=127\.0\.0\.1 retr=15 dele=0") is not None)

        # RETR set \Seen (RFC 1939 says nothing; our issue does): the flag reaches the files.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            names = os.listdir(os.path.join(mailfill.user_dir(t.data_dir, USER), "cur"))
            if sum(1 for nm in names if re.search(r":2,[A-Z]*S", nm)) == 4:
                break
            time.sleep(0.1)
        check("RETR sets \\Seen", sum(1 for nm in names if re.search(r":2,[A-Z]*S", nm)) == 4, names)

        # -- RSET undoes DELE -----------------------------------------------------------------
        p = login_when_free(t)
        check("DELE 1", p.dele(1).startswith(b"+OK"))
        check("deleted message hidden", p.stat()[0] == 3)
        check("RSET", p.rset().startswith(b"+OK"))
        check("RSET restores", p.stat()[0] == 4)
        p.quit()
        check("RSET: nothing removed", len(mailfill.maildir_files(t.data_dir, USER)) == 4)

        # -- dropped connection after DELE deletes nothing -------------------------------------
        r, resp = raw_pop3s(t)
        check("drop: login", resp.startswith("+OK"), resp)
        check("drop: DELE 1", r.cmd("DELE 1").startswith("+OK"))
        check("drop: DELE 2", r.cmd("DELE 2").startswith("+OK"))
        r.s.shutdown(socket.SHUT_RDWR)
        r.close()
        check("drop logged", t.wait_log(r"pop3 quit user=bob@example.test .*how=dropped") is not None)
        p = login_when_free(t)  # the lock was released although the client never said QUIT
        check("drop: all 4 still there", p.stat()[0] == 4, p.stat())
        p.quit()
        check("drop: files intact", len(mailfill.maildir_files(t.data_dir, USER)) == 4)

        # -- IN-USE ---------------------------------------------------------------------------
        first = login_when_free(t)
        try:
            pop3s(t)
            check("second session refused", False, "second login succeeded")
        except poplib.error_proto as e:
            check("second session -ERR [IN-USE]", err_text(e).startswith("-ERR [IN-USE]"), err_text(e))
        # Another user is not affected by bob's lock.
        other = pop3s(t, OTHER, OTHER_PASSWORD)
        check("other user logs in meanwhile", other.stat() == (0, 0))
        other.quit()
        first.quit()
        p = login_when_free(t)
        check("after QUIT the maildrop is free", p.stat()[0] == 4)

        # -- UIDL stable across a restart --------------------------------------------------------
        before = uidl_map(p)
        p.quit()
        t.stop()
        t.start()
        p = login_when_free(t)
        check("UIDL stable across restart", uidl_map(p) == before, (uidl_map(p), before))

        # -- DELE + QUIT removes, from the files and the index -----------------------------------
        gone_uid = int(before[2].split(".")[1])
        check("DELE 2", p.dele(2).startswith(b"+OK"))
        check("QUIT after DELE", p.quit().startswith(b"+OK"))
        check("dele logged", t.wait_log(r"pop3 quit user=bob@example.test .*dele=1") is not None)
        files = mailfill.maildir_files(t.data_dir, USER)
        check("DELE+QUIT: file removed", gone_uid not in files and len(files) == 3, list(files))
        idx = index_uids(t, USER)
        check("DELE+QUIT: index row removed", gone_uid not in idx and len(idx) == 3, idx)
        p = login_when_free(t)
        left = uidl_map(p)
        check("DELE+QUIT: 3 left", len(left) == 3 and before[2] not in left.values(), left)
        check("remaining UIDLs unchanged", sorted(left.values()) == sorted(v for k, v in before.items() if k != 2))
        p.quit()

        # -- sizes after a restart: none at login, measured at the first STAT, then cached -----
        t.stop()
        t.start()
        files = mailfill.maildir_files(t.data_dir, USER)
        kept = sorted(k for k in files if isinstance(k, int))
        total = sum(len(files[u]) for u in kept)
        r, resp = raw_login_when_free(t)
        check("fresh login: count, no octets yet", resp == f"+OK maildrop has {len(kept)} messages", resp)
        resp = r.cmd("RETR 2")
        body = r.multiline()
        check("RETR before any size was asked for", resp == f"+OK {len(files[kept[1]])} octets" and
              body == files[kept[1]], (resp, body[:120]))
        r.send("STAT")
        r.send("LIST 1")
        check("STAT measures the sizes", r.line() == f"+OK {len(kept)} {total}")
        check("LIST 1 behind it", r.line() == f"+OK 1 {len(files[kept[0]])}")
        check("QUIT", r.cmd("QUIT").startswith("+OK"))
        r.close()
        r, resp = raw_login_when_free(t)
        check("next login: sizes cached", resp == f"+OK maildrop has {len(kept)} messages ({total} octets)",
              resp)
        r.cmd("QUIT")
        r.close()

        rc = t.stop()
        check("ternd exits 0", rc == 0, rc)

    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
