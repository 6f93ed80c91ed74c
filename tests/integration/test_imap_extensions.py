#!/usr/bin/python3
"""IMAP extensions through Python's imaplib (raw commands) against a running ternd: SAVEDATE
(RFC 8514)."""
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
            self.assertIn(b'INTERNALDATE "09-Sep-2001', line)
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
        self.assertRegex(data[0], rb'^1 \(SAVEDATE "\d')
        # Bad input is BAD, the connection goes on.
        with self.assertRaises(imaplib.IMAP4.error):
            self.m.search(None, "SAVEDON", "yesterday")
        self.assertEqual(self.m.noop()[0], "OK")


if __name__ == "__main__":
    unittest.main(verbosity=2)
