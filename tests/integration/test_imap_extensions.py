#!/usr/bin/python3
"""IMAP extensions through Python's imaplib (raw commands) against a running ternd: SAVEDATE
(RFC 8514), OBJECTID (RFC 8474), METADATA and METADATA-SERVER (RFC 5464)."""
import imaplib
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

USER = "bob@example.test"
PASSWORD = USERS[USER]
# imaplib refuses commands it does not know.
for _name in ("GETMETADATA", "SETMETADATA"):
    imaplib.Commands.setdefault(_name, ("AUTH", "SELECTED"))
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def day_text(t):
    g = time.gmtime(t)
    return "%d-%s-%d" % (g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year)


def mail(subject, msgid, extra=b""):
    return (b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: " + subject +
            b"\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <" + msgid + b">\r\n" + extra +
            b"\r\nHello\r\n")


class ImapExtensions(TernCase):
    tern_options = {"listeners": ("smtp", "imaps")}

    @classmethod
    def prepare(cls, t):
        populate(t)

    @classmethod
    def connect(cls):
        m = imaplib.IMAP4_SSL("127.0.0.1", cls.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        m.login(USER, PASSWORD)
        return m

    def setUp(self):
        self.m = self.connect()

    def tearDown(self):
        try:
            self.m.logout()
        finally:
            super().tearDown()

    def fresh_mailbox(self, name, count=2):
        typ, data = self.m.create(name)
        self.assertEqual(typ, "OK", data)
        for i in range(count):
            # An internal date long ago: the save date must not be it.
            typ, data = self.m.append(name, None, imaplib.Time2Internaldate(1000000000),
                                      mail(b"m%d" % i, b"m%d.%s@x" % (i, name.encode())))
            self.assertEqual(typ, "OK", data)

    def test_rfc8514_savedate(self):
        self.assertIn("SAVEDATE", self.m.capabilities)
        self.fresh_mailbox("Saved")
        typ, data = self.m.select("Saved")
        self.assertEqual(typ, "OK", data)
        now = time.time()
        typ, data = self.m.fetch("1:2", "(SAVEDATE INTERNALDATE)")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(len(data), 2, data)
        for line in data:
            saved = re.search(rb'SAVEDATE "([^"]+)"', line)
            self.assertIsNotNone(saved, line)
            # The save date is now (within the minute), the internal date 2001's.
            t = time.mktime(imaplib.Internaldate2tuple(b'INTERNALDATE "' + saved.group(1) + b'"'))
            self.assertLess(abs(t - now), 120, line)
            self.assertIn(b'INTERNALDATE " 9-Sep-2001', line)  # date-day-fixed
        today = day_text(now)
        self.assertEqual(self.m.search(None, "SAVEDON", today), ("OK", [b"1 2"]))
        self.assertEqual(self.m.search(None, "SAVEDBEFORE", today), ("OK", [b""]))
        self.assertEqual(self.m.search(None, "SAVEDSINCE", day_text(now - 86400 * 400)), ("OK", [b"1 2"]))
        self.assertEqual(self.m.search(None, "SINCE", day_text(now - 86400 * 400)), ("OK", [b""]))
        self.assertEqual(self.m.search(None, "SAVEDATESUPPORTED"), ("OK", [b"1 2"]))
        # ESEARCH and SORT take the same keys.
        typ, data = self.m._simple_command("SEARCH", "RETURN", "(COUNT)", "SAVEDON", today)
        self.assertEqual(typ, "OK", data)
        typ, data = self.m._untagged_response(typ, data, "ESEARCH")
        self.assertRegex(data[0], rb'COUNT 2$')
        self.assertEqual(self.m.sort("(REVERSE SUBJECT)", "UTF-8", "SAVEDON", today), ("OK", [b"2 1"]))
        # MOVE saves anew into the destination.
        self.assertEqual(self.m.create("SavedMoved")[0], "OK")
        typ, data = self.m._simple_command("MOVE", "1", "SavedMoved")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(self.m.select("SavedMoved")[0], "OK")
        typ, data = self.m.fetch("1", "(SAVEDATE)")
        self.assertRegex(data[0], rb'^1 \(SAVEDATE "[ \d]\d-[A-Z][a-z]{2}-\d{4} ')
        # Bad input is BAD, the connection goes on.
        with self.assertRaises(imaplib.IMAP4.error):
            self.m.search(None, "SAVEDON", "yesterday")
        self.assertEqual(self.m.noop()[0], "OK")

    def test_rfc8474_objectid(self):
        self.assertIn("OBJECTID", self.m.capabilities)
        typ, data = self.m.create("Objects")
        self.assertEqual(typ, "OK", data)
        created = re.search(rb"\[MAILBOXID \(([A-Za-z0-9_-]{1,255})\)\]", data[0])
        self.assertIsNotNone(created, data)
        box_id = created.group(1)
        self.assertEqual(self.m.rename("Objects", "Objects2")[0], "OK")
        typ, data = self.m.status("Objects2", "(MAILBOXID MESSAGES)")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"MAILBOXID (" + box_id + b")", data[0])
        typ, data = self.m.append("Objects2", None, None, mail(b"obj", b"obj@x"))
        self.assertEqual(typ, "OK", data)
        typ, data = self.m.select("Objects2")
        self.assertEqual(typ, "OK", data)
        # imaplib files the untagged OK's response code under its name.
        self.assertEqual(self.m.response("MAILBOXID")[1], [b"(" + box_id + b")"])
        typ, data = self.m.fetch("1", "(EMAILID THREADID)")
        self.assertEqual(typ, "OK", data)
        found = re.search(rb"EMAILID \(([A-Za-z0-9_-]+)\) THREADID \([A-Za-z0-9_-]+\)", data[0])
        self.assertIsNotNone(found, data)
        email_id = found.group(1)
        typ, data = self.m._simple_command("MOVE", "1", "Trash")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(self.m.select("Trash")[0], "OK")
        typ, data = self.m.search(None, "EMAILID", email_id.decode())
        self.assertEqual(typ, "OK", data)
        self.assertEqual(len(data[0].split()), 1, data)
        typ, fetched = self.m.fetch(data[0].decode(), "(EMAILID)")
        self.assertIn(b"EMAILID (" + email_id + b")", fetched[0])

    def metadata(self, *args):
        typ, data = self.m._simple_command(*args)
        untagged = self.m.untagged_responses.pop("METADATA", [])
        return typ, data, untagged

    def test_rfc5464_metadata(self):
        for cap in ("METADATA", "METADATA-SERVER"):
            self.assertIn(cap, self.m.capabilities)
        self.assertEqual(self.m.create("Annotated")[0], "OK")
        typ, data, _ = self.metadata("SETMETADATA", "Annotated", '(/private/comment "My comment" /shared/comment "Ours")')
        self.assertEqual(typ, "OK", data)
        typ, data, untagged = self.metadata("GETMETADATA", "Annotated", "(/private/comment /shared/comment)")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(untagged, [b'Annotated (/private/comment "My comment" /shared/comment "Ours")'])
        # MAXSIZE leaves the long value out and says how long it was.
        typ, data, untagged = self.metadata("GETMETADATA", "(MAXSIZE 5)", "Annotated", "/private/comment")
        self.assertEqual(typ, "OK")
        self.assertIn(b"[METADATA LONGENTRIES 10]", data[0])
        self.assertNotIn(b"My comment", b"".join(untagged))
        # Follows RENAME, NIL removes.
        self.assertEqual(self.m.rename("Annotated", "Annotated2")[0], "OK")
        typ, data, untagged = self.metadata("GETMETADATA", "(DEPTH infinity)", "Annotated2", "/private")
        self.assertEqual(untagged, [b'Annotated2 (/private/comment "My comment")'])
        self.assertEqual(self.metadata("SETMETADATA", "Annotated2", "(/private/comment NIL)")[0], "OK")
        typ, data, untagged = self.metadata("GETMETADATA", "Annotated2", "/private/comment")
        self.assertEqual(untagged, [b"Annotated2 (/private/comment NIL)"])
        # The server: /private entries of the user; /shared is the administrator's.
        typ, data, _ = self.metadata("SETMETADATA", '""', '(/private/vendor/test/x "1")')
        self.assertEqual(typ, "OK", data)
        typ, data, untagged = self.metadata("GETMETADATA", '""', "/private/vendor/test/x")
        self.assertEqual(untagged, [b'"" (/private/vendor/test/x "1")'])
        typ, data, _ = self.metadata("SETMETADATA", '""', '(/shared/admin "mailto:x@example.test")')
        self.assertEqual(typ, "NO")
        self.assertIn(b"[NOPERM]", data[0])
        # ... which ternctl sets, while ternd runs; every user then reads it.
        r = self.t.ctl("server-metadata", "set", "/shared/admin", "mailto:pm@example.test")
        self.assertEqual(r.returncode, 0, r.stderr)
        typ, data, untagged = self.metadata("GETMETADATA", '""', "/shared/admin")
        self.assertEqual(untagged, [b'"" (/shared/admin "mailto:pm@example.test")'])
        r = self.t.ctl("server-metadata", "list")
        self.assertEqual(r.stdout, "/shared/admin\tmailto:pm@example.test\n")
        self.assertNotEqual(self.t.ctl("server-metadata", "set", "/private/x", "1").returncode, 0)
        self.assertEqual(self.t.ctl("server-metadata", "unset", "/shared/admin").returncode, 0)
        typ, data, untagged = self.metadata("GETMETADATA", '""', "/shared/admin")
        self.assertEqual(untagged, [b'"" (/shared/admin NIL)'])
        # Limits: the whole command fails with the limit.
        big = "x" * (64 * 1024 + 1)
        typ, data, _ = self.metadata("SETMETADATA", "INBOX", "(/private/big {%d+}\r\n%s)" % (len(big), big))
        self.assertEqual(typ, "NO")
        self.assertIn(b"[METADATA MAXSIZE 65536]", data[0])
        with self.assertRaises(imaplib.IMAP4.error):
            self.metadata("GETMETADATA", "INBOX", "/nothing/here")
        self.assertEqual(self.m.noop()[0], "OK")


if __name__ == "__main__":
    unittest.main(verbosity=2)
