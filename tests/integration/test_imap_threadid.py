#!/usr/bin/python3
"""RFC 8474 THREADID through Python's smtplib and imaplib against a running ternd: a message
and its reply delivered by SMTP share a THREADID, an unrelated message has another, SEARCH
THREADID finds the thread, COPY keeps it, and the ids are the same after ternd restarts."""
import imaplib
import os
import re
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

USER = "bob@example.test"
OBJECTID = rb"[A-Za-z0-9_-]{1,255}"  # RFC 8474 §4


def mail(subject, msgid, extra=b""):
    return (b"From: Carol <carol@example.net>\r\nTo: " + USER.encode() + b"\r\nSubject: " + subject +
            b"\r\nMessage-ID: <" + msgid + b">\r\n" + extra + b"\r\nHello\r\n")


class ImapThreadId(TernCase):
    tern_options = {"listeners": ("smtp", "imaps")}

    @classmethod
    def prepare(cls, t):
        populate(t)

    def login(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        m.login(USER, USERS[USER])
        return m

    def deliver(self, message):
        with smtplib.SMTP("127.0.0.1", self.t.port("smtp"), timeout=30) as s:
            s.sendmail("carol@example.net", [USER], message)

    def threads(self, m):
        """{uid: threadid} of the selected mailbox."""
        typ, data = m.uid("FETCH", "1:*", "(THREADID)")
        self.assertEqual(typ, "OK", data)
        out = {}
        for line in data:
            found = re.search(rb"UID (\d+) THREADID \((" + OBJECTID + rb")\)|THREADID \((" + OBJECTID +
                              rb")\) UID (\d+)", line)
            self.assertIsNotNone(found, line)
            uid, tid = (found.group(1), found.group(2)) if found.group(1) else (found.group(4), found.group(3))
            out[int(uid)] = tid.decode()
        return out

    def search_thread(self, m, tid):
        typ, data = m.uid("SEARCH", "THREADID", tid)
        self.assertEqual(typ, "OK", data)
        return sorted(int(u) for u in data[0].split())

    def test_rfc8474_threadid(self):
        self.deliver(mail(b"Lunch?", b"lunch@example.net"))
        self.deliver(mail(b"Re: Lunch?", b"re-lunch@example.test", b"In-Reply-To: <lunch@example.net>\r\n"
                          b"References: <lunch@example.net>\r\n"))
        self.deliver(mail(b"Lunch?", b"unrelated@example.net"))  # same subject, no link
        m = self.login()
        self.assertIn("OBJECTID", m.capabilities)
        self.assertEqual(m.select("INBOX")[0], "OK")
        before = self.threads(m)
        self.assertEqual(sorted(before), [1, 2, 3], before)
        self.assertEqual(before[1], before[2])
        self.assertNotEqual(before[1], before[3])
        self.assertEqual(self.search_thread(m, before[1]), [1, 2])
        self.assertEqual(self.search_thread(m, before[3]), [3])
        self.assertEqual(self.search_thread(m, "Tnosuchthread"), [])
        # A copy is the same email: same THREADID in the other mailbox.
        self.assertEqual(m.uid("COPY", "2", "Archive")[0], "OK")
        self.assertEqual(m.select("Archive")[0], "OK")
        self.assertEqual(list(self.threads(m).values()), [before[1]])
        m.logout()

        # RFC 8474 §5.2: the ids are the same after a restart, and new mail joins its thread.
        self.t.stop()
        self.t.start()
        self.deliver(mail(b"Re: Re: Lunch?", b"again@example.net", b"References: <lunch@example.net>\r\n"
                          b" <re-lunch@example.test>\r\n"))
        m = self.login()
        self.assertEqual(m.select("INBOX")[0], "OK")
        after = self.threads(m)
        self.assertEqual({u: after[u] for u in (1, 2, 3)}, before)
        self.assertEqual(after[4], before[1])
        self.assertEqual(self.search_thread(m, before[1]), [1, 2, 4])
        m.logout()


if __name__ == "__main__":
    unittest.main()
