#!/usr/bin/python3
"""SORT, THREAD and ESORT (RFC 5256, RFC 5267 §3, RFC 5957) through Python's imaplib against a
running ternd: imaplib's own sort()/thread() (which refuse to run unless the server
advertises SORT / THREAD=...), the UID forms, and a raw ESORT whose ESEARCH answer imaplib
hands back untouched."""
import imaplib
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

USER = "bob@example.test"
PASSWORD = USERS[USER]


def mail(frm, subject, date, msgid, extra=b"", body=b"x\r\n"):
    return (b"From: " + frm + b"\r\nTo: bob@example.test\r\nSubject: " + subject + b"\r\nDate: " + date +
            b"\r\nMessage-ID: <" + msgid + b">\r\n" + extra + b"\r\n" + body)


MESSAGES = [
    # 1: a reply to 3, with every subject artifact RFC 5256 §2.1 strips.
    mail(b"Zoe <zoe@z.test>", b"Re: Fwd: [list] Plans (fwd)", b"Tue, 14 Nov 2023 10:00:00 +0000", b"p2@x",
         b"In-Reply-To: <p1@x>\r\nReferences: <p1@x>\r\n"),
    # 2: encoded words in the subject and the display name.
    mail(b"=?UTF-8?Q?=C3=89mile?= <emile@e.test>", b"=?UTF-8?Q?Caf=C3=A9?=", b"Mon, 13 Nov 2023 10:00:00 +0000",
         b"c1@x", body=b"x" * 200 + b"\r\n"),
    # 3: the thread's first message; its zone puts it after 2.
    mail(b"Adam <adam@a.test>", b"Plans", b"Mon, 13 Nov 2023 09:00:00 -0500", b"p1@x"),
    # 4: replies to 1 by References only.
    mail(b"bob <bob@b.test>", b"[list] plans", b"Wed, 15 Nov 2023 10:00:00 +0000", b"p3@x",
         b"References: <p1@x> <p2@x>\r\n"),
]


class ImapSort(TernCase):
    tern_options = {"listeners": ("smtp", "imaps")}

    @classmethod
    def prepare(cls, t):
        populate(t)

    @classmethod
    def started(cls):
        m = cls.connect()
        m.create("Sorted")
        for msg in MESSAGES:
            typ, data = m.append("Sorted", None, None, msg)
            assert typ == "OK", data
        m.logout()

    @classmethod
    def connect(cls):
        m = imaplib.IMAP4_SSL("127.0.0.1", cls.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        m.login(USER, PASSWORD)
        return m

    def setUp(self):
        self.m = self.connect()
        typ, data = self.m.select("Sorted")
        self.assertEqual(typ, "OK", data)

    def tearDown(self):
        self.m.logout()
        super().tearDown()

    def test_rfc5256_capabilities_advertised(self):
        caps = self.m.capabilities
        for c in ("SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES"):
            self.assertIn(c, caps)

    def test_rfc5256_sort(self):
        self.assertEqual(self.m.sort("(SUBJECT)", "UTF-8", "ALL"), ("OK", [b"2 1 3 4"]))
        self.assertEqual(self.m.sort("(DATE)", "US-ASCII", "ALL"), ("OK", [b"2 3 1 4"]))
        self.assertEqual(self.m.sort("(REVERSE SIZE)", "UTF-8", "ALL")[1][0].split()[0], b"2")
        self.assertEqual(self.m.sort("(FROM)", "UTF-8", "NOT", "FROM", "zoe"), ("OK", [b"3 4 2"]))
        self.assertEqual(self.m.sort("(DISPLAYFROM)", "UTF-8", "ALL"), ("OK", [b"3 4 1 2"]))
        typ, data = self.m.uid("SORT", "(SUBJECT)", "UTF-8", "ALL")
        self.assertEqual(typ, "OK")
        uids = data[0].split()
        typ, fetched = self.m.fetch("2", "(UID)")
        self.assertIn(b"UID " + uids[0], fetched[0])

    def test_rfc5256_sort_bad_charset(self):
        typ, data = self.m.sort("(DATE)", "KOI8-R", "ALL")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[BADCHARSET (US-ASCII UTF-8)]", data[0])

    def test_rfc5256_thread(self):
        self.assertEqual(self.m.thread("ORDEREDSUBJECT", "UTF-8", "ALL"), ("OK", [b"(2)(3 (1)(4))"]))
        self.assertEqual(self.m.thread("REFERENCES", "UTF-8", "ALL"), ("OK", [b"(2)(3 1 4)"]))
        typ, data = self.m.uid("THREAD", "REFERENCES", "UTF-8", "SUBJECT", "plans")
        self.assertEqual(typ, "OK")
        self.assertRegex(data[0], rb"^\(\d+ \d+ \d+\)$")

    def test_rfc5267_esort(self):
        typ, data = self.m._simple_command("SORT", "RETURN", "(MIN", "MAX", "COUNT", "ALL)", "(SUBJECT)",
                                           "UTF-8", "ALL")
        self.assertEqual(typ, "OK", data)
        typ, data = self.m._untagged_response(typ, data, "ESEARCH")
        self.assertEqual(len(data), 1, data)
        self.assertRegex(data[0], rb'^\(TAG "[A-Z0-9]+"\) MIN 2 MAX 4 ALL 2,1,3:4 COUNT 4$')


if __name__ == "__main__":
    unittest.main(verbosity=2)
