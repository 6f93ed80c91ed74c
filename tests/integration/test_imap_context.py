#!/usr/bin/python3
"""Paged and live searches and composed APPENDs through Python's imaplib raw commands against a
running ternd: PARTIAL (RFC 9394) for UID SEARCH, ESORT and UID FETCH; APPEND with CATENATE
(RFC 4469) from TEXT literals and IMAP URLs, with MULTIAPPEND; live searches (RFC 5267 §4
CONTEXT=SEARCH/SORT) updated by another connection's changes, after NOOP and during IDLE."""
import imaplib
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

imaplib.Commands.setdefault("CANCELUPDATE", ("SELECTED",))  # RFC 5267 §4.3.5

USER = "bob@example.test"
PASSWORD = USERS[USER]


def mail(n, body=b"x\r\n"):
    return (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: m%02d\r\n"
            b"Date: Tue, 14 Nov 2023 10:00:00 +0000\r\nMessage-ID: <m%d@x>\r\n\r\n" % (n, n)) + body


class ImapContext(TernCase):
    tern_options = {"listeners": ("smtp", "imaps")}

    @classmethod
    def prepare(cls, t):
        populate(t)

    @classmethod
    def started(cls):
        m = cls.connect()
        m.create("Paged")
        for n in range(1, 21):
            typ, data = m.append("Paged", "(\\Flagged)" if n % 4 == 0 else None, None, mail(n))
            assert typ == "OK", data
        m.logout()

    @classmethod
    def connect(cls):
        m = imaplib.IMAP4_SSL("127.0.0.1", cls.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        m.login(USER, PASSWORD)
        return m

    def setUp(self):
        self.m = self.connect()

    def tearDown(self):
        self.m.logout()
        super().tearDown()

    def esearch(self, *args, uid=True):
        """One ESEARCH line of a raw (UID) SEARCH/SORT, without its (TAG "..") prefix."""
        cmd = ("UID", *args) if uid else args
        typ, data = self.m._simple_command(*cmd)
        self.assertEqual(typ, "OK", data)
        typ, data = self.m._untagged_response(typ, data, "ESEARCH")
        self.assertEqual(len(data), 1, data)
        return re.sub(rb'^\(TAG "[^"]+"\) ', b"", data[0])

    def select_paged(self):
        typ, data = self.m.select("Paged")
        self.assertEqual(typ, "OK", data)
        typ, data = self.m.uid("SEARCH", "ALL")
        return [int(u) for u in data[0].split()]

    def test_rfc9394_partial_advertised(self):
        self.assertIn("PARTIAL", self.m.capabilities)

    def test_rfc9394_paged_uid_search(self):
        uids = self.select_paged()
        self.assertEqual(len(uids), 20)
        flagged = [u for i, u in enumerate(uids) if (i + 1) % 4 == 0]

        def uidset(vals):
            return ",".join(str(v) for v in vals).encode()

        # Pages of two from the oldest and from the newest, and past the end.
        line = self.esearch("SEARCH", "RETURN", "(PARTIAL", "1:2)", "FLAGGED")
        self.assertEqual(line, b"UID PARTIAL (1:2 " + uidset(flagged[:2]) + b")")
        line = self.esearch("SEARCH", "RETURN", "(COUNT", "PARTIAL", "-1:-2)", "FLAGGED")
        self.assertEqual(line, b"UID COUNT 5 PARTIAL (-1:-2 " + uidset(flagged[-2:]) + b")")
        line = self.esearch("SEARCH", "RETURN", "(PARTIAL", "6:10)", "FLAGGED")
        self.assertEqual(line, b"UID PARTIAL (6:10 NIL)")
        # Paging all 20 five at a time gives each UID once, in order.
        seen = []
        for first in range(1, 21, 5):
            line = self.esearch("SEARCH", "RETURN", "(PARTIAL", "%d:%d)" % (first, first + 4), "ALL")
            mo = re.match(rb"UID PARTIAL \(\d+:\d+ (\d+):(\d+)\)$", line)
            self.assertIsNotNone(mo, line)
            seen.extend(range(int(mo.group(1)), int(mo.group(2)) + 1))
        self.assertEqual(seen, uids)

    def test_rfc9394_partial_esort_and_fetch(self):
        uids = self.select_paged()
        line = self.esearch("SORT", "RETURN", "(PARTIAL", "1:3)", "(REVERSE", "SUBJECT)", "UTF-8", "ALL")
        self.assertEqual(line, b"UID PARTIAL (1:3 %d,%d,%d)" % (uids[19], uids[18], uids[17]))
        typ, data = self.m.uid("FETCH", "1:*", "(FLAGS)", "(PARTIAL", "-1:-3)")
        self.assertEqual(typ, "OK", data)
        got = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data if d]
        self.assertEqual(got, uids[-3:])

    def raw(self, tag, command):
        """Sends a raw command (LITERAL+ literals inline); returns its lines up to the tagged one."""
        self.m.send(tag + b" " + command + b"\r\n")
        lines = []
        while True:
            line = self.m.readline()
            self.assertTrue(line, lines)
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def test_rfc4469_catenate(self):
        self.assertIn("CATENATE", self.m.capabilities)
        self.m.create("Compose")
        typ, data = self.m.append("Compose", None, None,
                                  b"Subject: source\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
                                  b"boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\npart one\r\n"
                                  b"--b1--\r\n")
        self.assertEqual(typ, "OK", data)
        validity, uid = re.search(rb"APPENDUID (\d+) (\d+)", data[0]).groups()
        base = b'"/Compose;UIDVALIDITY=' + validity + b"/;UID=" + uid
        text = b"Subject: composed\r\n\r\nquoted: "
        lines = self.raw(b"c1", b"APPEND Compose (\\Draft) CATENATE (TEXT {%d+}\r\n%s URL %s/;SECTION=1\")" %
                         (len(text), text, base))
        self.assertRegex(lines[-1], rb"^c1 OK \[APPENDUID \d+ \d+\]")
        new_uid = re.search(rb"APPENDUID \d+ (\d+)", lines[-1]).group(1)
        typ, data = self.m.select("Compose")
        typ, data = self.m.uid("FETCH", new_uid, "(BODY.PEEK[] FLAGS)")
        self.assertEqual(data[0][1], text + b"part one")
        self.assertIn(b"\\Draft", data[0][0] + data[1])
        # A bad URL in the second message of a MULTIAPPEND: nothing is appended.
        count = int(self.m.select("Compose")[1][0])
        lines = self.raw(b"c2", b"APPEND Compose CATENATE (URL %s\") CATENATE (URL %s9999\")" % (base, base[:-len(uid)]))
        self.assertIn(b"c2 NO [BADURL " + base[:-len(uid)] + b'9999"]', lines[-1])
        self.assertEqual(int(self.m.select("Compose")[1][0]), count)

    def test_rfc5267_context_updates(self):
        for cap in ("CONTEXT=SEARCH", "CONTEXT=SORT", "ESORT"):
            self.assertIn(cap, self.m.capabilities)
        self.m.create("Live")
        for n in range(1, 4):
            self.assertEqual(self.m.append("Live", None, None, mail(n))[0], "OK")
        typ, data = self.m.select("Live")
        uids = [int(u) for u in self.m.uid("SEARCH", "ALL")[1][0].split()]
        line = self.esearch("SEARCH", "RETURN", "(UPDATE)", "FLAGGED")
        self.assertEqual(line, b"UID")
        line = self.esearch("SORT", "RETURN", "(UPDATE", "COUNT)", "(REVERSE", "SUBJECT)", "UTF-8", "UNFLAGGED")
        self.assertEqual(line, b"UID COUNT 3")
        other = self.connect()
        try:
            other.select("Live")
            other.uid("STORE", str(uids[1]), "+FLAGS", "(\\Flagged)")
            self.m.untagged_responses.pop("ESEARCH", None)
            self.assertEqual(self.m.noop()[0], "OK")
            updates = self.m.untagged_responses.pop("ESEARCH", [])
            joined = b"\n".join(updates)
            self.assertRegex(joined, rb'\(TAG "[A-Z0-9]+"\) UID ADDTO \(0 %d\)' % uids[1])
            # RFC 5267 §4.3: UPDATE does not interact with COUNT; the sorted context gets
            # REMOVEFROM (position, uid), and COUNT is not sent again.
            self.assertRegex(joined, rb'\(TAG "[A-Z0-9]+"\) UID REMOVEFROM \(\d+ %d\)' % uids[1])
            self.assertNotIn(b"COUNT", joined)
            # During IDLE: a new flagged message arrives through another connection.
            tag = b"I1"
            self.m.send(tag + b" IDLE\r\n")
            self.assertTrue(self.m.readline().startswith(b"+"))
            typ, data = other.append("Live", "(\\Flagged)", None, mail(4))
            self.assertEqual(typ, "OK", data)
            new_uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
            seen = []
            while not any(b"ADDTO" in s for s in seen):
                line = self.m.readline()
                self.assertTrue(line, seen)
                seen.append(line)
            self.m.send(b"DONE\r\n")
            while not self.m.readline().startswith(tag + b" OK"):
                pass
            self.assertRegex(b"".join(seen), rb"(?s)\* 4 EXISTS\r\n.*\* ESEARCH \(TAG \"[A-Z0-9]+\"\) UID ADDTO \(0 %d\)" % new_uid)
        finally:
            other.logout()
        # CANCELUPDATE of a live search's tag; an unknown tag is refused.
        typ, data = self.m._simple_command("UID", "SEARCH", "RETURN", "(UPDATE)", "ALL")
        typ, data = self.m._untagged_response(typ, data, "ESEARCH")
        live_tag = re.match(rb'\(TAG "([^"]+)"\)', data[-1]).group(1).decode()
        self.assertEqual(self.m._simple_command("CANCELUPDATE", '"%s"' % live_tag)[0], "OK")
        with self.assertRaises(imaplib.IMAP4.error):
            self.m._simple_command("CANCELUPDATE", '"nope"')

    def test_rfc9394_partial_errors(self):
        self.select_paged()
        for bad in (("(ALL", "PARTIAL", "1:5)"), ("(PARTIAL", "0:5)"), ("(PARTIAL", "-1:5)")):
            with self.assertRaises(imaplib.IMAP4.error):
                self.m._simple_command("UID", "SEARCH", "RETURN", *bad, "ALL")
        self.assertEqual(self.m.noop()[0], "OK")


if __name__ == "__main__":
    unittest.main(verbosity=2)
