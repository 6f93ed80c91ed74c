#!/usr/bin/python3
"""IMAP against a running ternd with real clients: Python's imaplib (imaps and STARTTLS):
login, capabilities, LIST, CREATE, APPEND, SELECT, FETCH of every item class, SEARCH, STORE,
COPY, MOVE, EXPUNGE, two connections on one mailbox, IDLE woken by an SMTP delivery (timed),
bad input; and curl's IMAP support (imaps:// listing, fetching, EXAMINE)."""
import imaplib
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context, recv_line, recv_until  # noqa: E402
from smtp_fixture import USERS, make_message, populate, smtp  # noqa: E402

USER = "bob@example.test"
PASSWORD = USERS[USER]

MULTIPART = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: Bob <bob@example.test>\r\n"
    b"Subject: =?UTF-8?Q?caf=C3=A9?= report\r\n"
    b"Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
    b"Message-ID: <multi@example.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=C3=A9 numbers inside\r\n"
    b"--b1\r\n"
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAECAwQ=\r\n"
    b"--b1--\r\n"
)


def simple(subject, body=b"Hello there\r\n"):
    return make_message("alice@example.test", USER, subject, body)


class Imap(TernCase):
    tern_options = {"listeners": ("smtp", "imap", "imaps")}

    @classmethod
    def prepare(cls, t):
        populate(t)

    def imaps(self, login=True):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(),
                              timeout=30)
        if login:
            typ, _ = m.login(USER, PASSWORD)
            self.assertEqual(typ, "OK")
        return m

    def ok(self, res):
        typ, data = res
        self.assertEqual(typ, "OK", data)
        return data

    # -------------------------------------------------------------------------------------

    def test_capabilities_and_starttls(self):
        m = imaplib.IMAP4("127.0.0.1", self.t.port("imap"), timeout=30)
        caps = m.capabilities
        self.assertIn("IMAP4REV2", caps)
        self.assertIn("STARTTLS", caps)
        self.assertIn("LOGINDISABLED", caps)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(USER, PASSWORD)
        self.ok(m.starttls(ssl_context=client_tls_context()))
        self.assertIn("AUTH=PLAIN", m.capabilities)
        self.assertNotIn("LOGINDISABLED", m.capabilities)
        self.ok(m.login(USER, PASSWORD))
        self.assertEqual(m.logout()[0], "BYE")  # RFC 9051 §6.1.3: BYE, then OK
        self.t.wait_log(r"auth ok proto=imap user=bob@example\.test ip=127\.0\.0\.1")

    def test_bad_login_and_bad_input(self):
        m = self.imaps(login=False)
        with self.assertRaises(imaplib.IMAP4.error):
            m.login(USER, "wrong")
        self.ok(m.login(USER, PASSWORD))
        imaplib.Commands.setdefault("FROBNICATE", ("AUTH", "SELECTED"))
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD"):  # unknown command: BAD
            m._simple_command("FROBNICATE")
        self.ok(m.noop())
        self.assertEqual(m.create('"a/../b"')[0], "NO")  # never a path outside the Maildir
        self.assertEqual(m.create('"bad\x01name"')[0], "NO")
        with self.assertRaises(imaplib.IMAP4.error):
            m.fetch("99", "(FLAGS)")  # no mailbox selected
        m.logout()

    def test_mailbox_management(self):
        m = self.imaps()
        data = self.ok(m.list())
        names = b"\n".join(data)
        self.assertIn(b'"/" INBOX', names)
        self.assertIn(b"\\Sent", names)
        self.assertIn(b"\\Trash", names)
        self.ok(m.create("Projects/Tern"))
        data = b"\n".join(self.ok(m.list('""', "Projects*")))
        self.assertIn(b"(\\HasChildren) \"/\" Projects", data)
        self.ok(m.rename("Projects", "Work"))
        data = b"\n".join(self.ok(m.list('""', "*")))
        self.assertIn(b"Work/Tern", data)
        self.assertNotIn(b"Projects", data)
        self.ok(m.subscribe("Work"))
        self.assertIn(b"Work", b"\n".join(self.ok(m.lsub())))
        st = self.ok(m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)"))
        self.assertRegex(st[0], rb"MESSAGES \d+ UIDNEXT \d+ UIDVALIDITY \d+ UNSEEN \d+ SIZE \d+")
        self.ok(m.delete("Work/Tern"))
        self.ok(m.delete("Work"))
        typ, _ = m._simple_command("NAMESPACE")
        self.assertEqual(typ, "OK")
        self.assertIn(b'(("" "/"))', m.untagged_responses.pop("NAMESPACE", [b""])[0])
        m.logout()

    def test_append_select_fetch_every_item(self):
        m = self.imaps()
        self.ok(m.create("Fetch"))
        typ, data = m.append("Fetch", "(\\Flagged)", imaplib.Time2Internaldate(time.time()), MULTIPART)
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0], rb"\[APPENDUID \d+ 1\]")
        typ, data = m.append("Nope", None, None, b"Subject: x\r\n\r\nx\r\n")
        self.assertEqual(typ, "NO")
        self.assertIn(b"TRYCREATE", data[0])
        typ, data = m.select("Fetch")
        self.assertEqual((typ, data[0]), ("OK", b"1"))
        data = self.ok(m.fetch("1", "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"))
        line = data[0]
        self.assertIn(b"UID 1", line)
        self.assertIn(b"\\Flagged", line)
        self.assertIn(b"INTERNALDATE \"", line)
        self.assertIn(b"RFC822.SIZE %d" % len(MULTIPART), line)
        self.assertIn(b"<multi@example.test>", line)
        data = self.ok(m.fetch("1", "(BODYSTRUCTURE)"))
        self.assertRegex(data[0].upper(), rb"BODYSTRUCTURE \(\(\"TEXT\" \"PLAIN\".*\"MIXED\"")
        data = self.ok(m.fetch("1", "(BODY)"))
        self.assertIn(b"BODY ((", data[0])
        data = self.ok(m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        self.assertIn(b"Subject: =?UTF-8?Q?caf=C3=A9?= report", data[0][1])
        data = self.ok(m.fetch("1", "(BODY.PEEK[1])"))
        self.assertEqual(data[0][1], b"Caf=C3=A9 numbers inside")
        data = self.ok(m.fetch("1", "(BODY.PEEK[2.MIME])"))
        self.assertIn(b"application/octet-stream", data[0][1])
        data = self.ok(m.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])"))
        flat = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
        self.assertIn(b"\x00\x01\x02\x03\x04", flat)
        self.assertIn(b"BINARY.SIZE[2] 5", flat)
        data = self.ok(m.fetch("1", "(BODY.PEEK[TEXT]<0.4>)"))
        self.assertEqual(data[0][1], b"--b1")
        data = self.ok(m.fetch("1", "(FLAGS)"))
        self.assertNotIn(b"\\Seen", data[0])
        data = self.ok(m.fetch("1", "(RFC822)"))
        self.assertEqual(data[0][1], MULTIPART)
        self.assertIn(b"\\Seen", b"".join(x if isinstance(x, bytes) else x[0] for x in data))
        data = self.ok(m.fetch("1", "(RFC822.HEADER RFC822.TEXT)"))
        flat = b"".join(x if isinstance(x, bytes) else b"".join(x) for x in data)
        self.assertIn(b"Message-ID: <multi@example.test>", flat)
        self.assertIn(b"numbers inside", flat)
        typ, data = m.uid("FETCH", "1", "(MODSEQ)")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0], rb"MODSEQ \(\d+\)")
        m.logout()

    def test_search_store_copy_move_expunge(self):
        m = self.imaps()
        self.ok(m.create("Work2"))
        for subj in ("apple", "banana", "cherry", "damson"):
            self.ok(m.append("Work2", None, None, simple(subj, f"body of {subj}\r\n".encode())))
        self.ok(m.select("Work2"))
        self.assertEqual(self.ok(m.search(None, "SUBJECT", "banana"))[0], b"2")
        self.assertEqual(self.ok(m.search("UTF-8", "BODY", "cherry"))[0], b"3")
        self.assertEqual(self.ok(m.search(None, "UNSEEN"))[0], b"1 2 3 4")
        typ, data = m.search("KOI8-R", "BODY", "x")
        self.assertEqual(typ, "NO")
        self.assertIn(b"BADCHARSET", data[0])
        typ, data = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
        self.assertEqual(typ, "OK")
        self.assertIn(b"MIN 1 MAX 4 COUNT 4", m.untagged_responses.pop("ESEARCH", [b""])[0])
        data = self.ok(m.store("1:2", "+FLAGS", "(\\Seen $Label1)"))
        self.assertTrue(all(b"\\Seen" in d and b"$Label1" in d for d in data), data)
        self.assertEqual(self.ok(m.search(None, "KEYWORD", "$Label1"))[0], b"1 2")
        self.ok(m.store("2", "-FLAGS", "($Label1)"))
        self.assertEqual(self.ok(m.search(None, "SEEN"))[0], b"1 2")
        typ, data = m.uid("COPY", "1:2", "Archive")
        self.assertEqual(typ, "OK")
        code, copyuid = m.response("COPYUID")  # imaplib files response codes by name
        self.assertRegex(copyuid[0], rb"^\d+ 1:2 \d+:\d+$")
        typ, data = m._simple_command("MOVE", "3", "Trash")
        self.assertEqual(typ, "OK")
        self.assertIn(b"3", m.untagged_responses.pop("EXPUNGE", [b""]))
        typ, data = m.uid("SEARCH", None, "ALL")
        self.assertEqual(data[0], b"1 2 4")
        self.ok(m.store("1", "+FLAGS", "(\\Deleted)"))
        data = self.ok(m.expunge())
        self.assertEqual(data, [b"1"])
        typ, data = m.uid("SEARCH", None, "ALL")
        self.assertEqual(data[0], b"2 4")
        self.ok(m.close())
        st = self.ok(m.status("Trash", "(MESSAGES)"))
        self.assertIn(b"MESSAGES 1", st[0])
        m.logout()

    def test_two_connections_see_each_other(self):
        a, b = self.imaps(), self.imaps()
        self.ok(a.create("Shared"))
        for subj in ("one", "two"):
            self.ok(a.append("Shared", None, None, simple(subj)))
        self.ok(a.select("Shared"))
        self.ok(b.select("Shared"))
        self.ok(a.store("2", "+FLAGS", "(\\Flagged)"))
        self.ok(b.noop())
        fetches = b.untagged_responses.pop("FETCH", [])
        self.assertTrue(any(b"\\Flagged" in f for f in fetches), fetches)
        self.ok(a.store("1", "+FLAGS", "(\\Deleted)"))
        self.ok(a.expunge())
        # RFC 9051 §7.5.1: no EXPUNGE for b during FETCH; b's numbers are unchanged.
        data = self.ok(b.fetch("2", "(UID)"))
        self.assertIn(b"UID 2", data[0])
        self.assertNotIn("EXPUNGE", b.untagged_responses)
        self.ok(b.noop())
        self.assertEqual(b.untagged_responses.pop("EXPUNGE", []), [b"1"])
        self.ok(a.append("Shared", None, None, simple("three")))
        self.ok(b.noop())
        self.assertEqual(b.untagged_responses.pop("EXISTS", [])[-1], b"2")
        a.logout()
        b.logout()

    def test_idle_woken_by_smtp_delivery(self):
        # Raw TLS socket: imaplib has no IDLE before Python 3.14.
        s = self.t.connect_tls("imaps", timeout=30)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))

        def cmd(tag, text):
            s.sendall(f"{tag} {text}\r\n".encode())
            lines = []
            while True:
                ln = f.readline()
                self.assertTrue(ln, "connection closed")
                lines.append(ln)
                if ln.startswith(tag.encode() + b" "):
                    return lines

        self.assertIn(b"i1 OK", cmd("i1", f"LOGIN {USER} {PASSWORD}")[-1])
        sel = b"".join(cmd("i2", "SELECT INBOX"))
        exists = int(re.search(rb"\* (\d+) EXISTS", sel).group(1))
        s.sendall(b"i3 IDLE\r\n")
        self.assertEqual(f.readline(), b"+ idling\r\n")
        with smtp(self.t) as c:
            c.sendmail("alice@remote.test", [USER], simple("idle wake-up"))
            sent = time.monotonic()
        s.settimeout(5)
        line = f.readline()
        woke = time.monotonic() - sent
        self.assertEqual(line, b"* %d EXISTS\r\n" % (exists + 1))
        self.assertLess(woke, 1.0, "IDLE must wake within one second of the delivery")
        # RFC 3501 §7.3.2: the only session with INBOX selected is the first told of the new
        # message: it is \Recent here, and RECENT follows EXISTS.
        recent = f.readline()
        self.assertRegex(recent, rb"^\* \d+ RECENT\r\n$")
        self.assertGreaterEqual(int(recent.split()[1]), 1)
        s.sendall(b"DONE\r\n")
        self.assertTrue(f.readline().startswith(b"i3 OK"))
        out = b"".join(cmd("i4", f"FETCH {exists + 1} (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        self.assertIn(b"Subject: idle wake-up", out)
        cmd("i5", "LOGOUT")
        s.close()

    def test_tls_idlers_after_big_fetch_all_woken(self):
        # Connections that moved a large message over TLS, then idle (their TLS buffers are
        # released while idle), must still decrypt/encrypt correctly and all wake up together.
        big = simple("big one", b"".join(b"line %06d of a large body.........\r\n" % i
                                         for i in range(6000)))
        m = self.imaps()
        self.ok(m.create("Big"))
        self.ok(m.append("Big", None, None, big))
        m.logout()
        socks = []
        try:
            for n in range(8):
                s = self.t.connect_tls("imaps", timeout=30)
                f = s.makefile("rb")
                self.assertTrue(f.readline().startswith(b"* OK"))
                s.sendall(f"a LOGIN {USER} {PASSWORD}\r\nb SELECT Big\r\n"
                          f"c FETCH 1 BODY.PEEK[]\r\n".encode())
                data = recv_until(s, lambda d: b"\r\nc OK" in d, timeout=30, limit=1 << 22)
                self.assertIn(b"{%d}\r\n" % len(big), data)
                self.assertIn(big, data)
                s.sendall(b"d IDLE\r\n")
                self.assertEqual(recv_line(s, timeout=10), b"+ idling\r\n")
                socks.append(s)
            time.sleep(0.5)
            a = self.imaps()
            self.ok(a.append("Big", None, None, simple("wake")))
            sent = time.monotonic()
            for s in socks:
                # EXISTS, then RECENT (rev1): the new message is \Recent in one session only.
                got = recv_until(s, lambda d: b" RECENT\r\n" in d, timeout=5)
                self.assertRegex(got, rb"^\* 2 EXISTS\r\n\* [0-2] RECENT\r\n$")
            self.assertLess(time.monotonic() - sent, 2.0)
            for s in socks:
                s.sendall(b"DONE\r\ne FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n")
                out = recv_until(s, lambda d: b"\r\ne OK" in d, timeout=10)
                self.assertIn(b"Subject: wake", out)
            a.logout()
        finally:
            for s in socks:
                s.close()

    def test_large_fetch_streamed_in_order(self):
        # A FETCH whose output passes the daemon's stream threshold (256 KiB) is written in
        # chunks while it renders: every message's bytes must arrive whole, in order, with the
        # tagged OK last, and a pipelined command after it must be answered after it.
        bodies = [b"".join(b"msg %02d line %05d ...............................\r\n" % (k, i)
                           for i in range(900 + 50 * k)) for k in range(12)]
        msgs = [simple(f"stream {k}", b) for k, b in enumerate(bodies)]
        m = self.imaps()
        self.ok(m.create("Stream"))
        for msg in msgs:
            self.ok(m.append("Stream", None, None, msg))
        m.logout()
        s = self.t.connect_tls("imaps", timeout=30)
        try:
            f = s.makefile("rb")
            self.assertTrue(f.readline().startswith(b"* OK"))
            s.sendall(f"a LOGIN {USER} {PASSWORD}\r\nb SELECT Stream\r\n"
                      f"c FETCH 1:* (UID BODY.PEEK[])\r\nd NOOP\r\n".encode())
            data = recv_until(s, lambda d: b"\r\nd OK" in d, timeout=60, limit=1 << 24)
            self.assertGreater(sum(len(x) for x in msgs), 256 * 1024)
            pos = 0
            for k, msg in enumerate(msgs):
                head = b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (k + 1, k + 1, len(msg))
                at = data.find(head + msg + b")\r\n", pos)
                self.assertGreaterEqual(at, pos, f"message {k + 1} missing or out of order")
                pos = at + len(head) + len(msg)
            self.assertLess(pos, data.find(b"\r\nc OK"))
            self.assertLess(data.find(b"\r\nc OK"), data.find(b"\r\nd OK"))
        finally:
            s.close()

    def test_curl(self):
        if not shutil_which("curl"):
            self.skipTest("curl not installed")
        m = self.imaps()
        self.ok(m.create("Curl"))
        self.ok(m.append("Curl", None, None, simple("via curl", b"curl body line\r\n")))
        m.logout()
        base = f"imaps://127.0.0.1:{self.t.port('imaps')}"
        common = ["curl", "-s", "-S", "-k", "--max-time", "60", "-u", f"{USER}:{PASSWORD}"]
        p = subprocess.run(common + [base + "/"], capture_output=True, timeout=90)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"INBOX", p.stdout)
        self.assertIn(b"Curl", p.stdout)
        p = subprocess.run(common + [base + "/Curl;UID=1"], capture_output=True, timeout=90)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"Subject: via curl", p.stdout)
        self.assertIn(b"curl body line", p.stdout)
        p = subprocess.run(common + ["-X", "EXAMINE Curl", base + "/"], capture_output=True, timeout=90)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"1 EXISTS", p.stdout)
        # STARTTLS on the plain port (curl --ssl-reqd).
        p = subprocess.run(common + ["--ssl-reqd", f"imap://127.0.0.1:{self.t.port('imap')}/Curl;UID=1"],
                           capture_output=True, timeout=90)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"curl body line", p.stdout)


def shutil_which(name):
    import shutil
    return shutil.which(name)


if __name__ == "__main__":
    unittest.main(verbosity=2)
