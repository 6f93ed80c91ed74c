#!/usr/bin/python3
"""SMTP on the MX listener, as a sending MTA sees it: delivery into the Maildir (Received +
Return-Path, exact body bytes), aliases, unknown users, relay refusal, size limit, smuggling."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, recv_until  # noqa: E402
from smtp_fixture import (ALIAS, index_rows, maildir_messages, make_message, populate,  # noqa: E402
                          smtp, split_stored, wait_messages)

MAX_SIZE = 20000


def find(msgs, marker):
    return [data for data in msgs.values() if marker in data]


class MxDelivery(TernCase):
    tern_options = {"listeners": ("smtp", "submission"),
                    "extra_toml": f"[smtp]\nmax_message_size = {MAX_SIZE}\n"}

    @classmethod
    def prepare(cls, t):
        populate(t)

    def test_plain_delivery_to_local_user(self):
        body = b"Hello Bob.\r\n.leading dot line\r\nTrailing spaces   \r\n\xc3\xa9 8bit\r\n"
        msg = make_message("sender@remote.test", "bob@example.test", "plain delivery", body)
        with smtp(self.t) as c:
            c.ehlo()
            self.assertIn("pipelining", c.esmtp_features)
            self.assertIn("size", c.esmtp_features)
            self.assertEqual(c.esmtp_features["size"], str(MAX_SIZE))
            refused = c.sendmail("sender@remote.test", ["Bob@Example.TEST"], msg)
            self.assertEqual(refused, {})
        stored = find(wait_messages(self.t, "bob@example.test", 1), b"Subject: plain delivery")
        self.assertEqual(len(stored), 1)
        return_path, received, rest = split_stored(stored[0])
        self.assertEqual(return_path, "<sender@remote.test>")
        self.assertIn("client.test", received)
        self.assertIn("127.0.0.1", received)
        self.assertIn("mail.example.test", received)
        self.assertIn("ESMTP", received)
        # The message itself is stored byte for byte (dot-unstuffed by the protocol).
        self.assertEqual(rest, msg)
        self.assertRegex(self.t.log(), r"msg id=\S+ from=<sender@remote.test> rcpt=Bob@Example.TEST "
                                       r"size=\d+ outcome=delivered proto=smtp")
        # The index has a row for it with the file's size.
        rows = index_rows(self.t, "bob@example.test")
        sizes = {size for _, _, size in rows}
        self.assertIn(len(stored[0]), sizes)

    def test_alias_with_two_targets(self):
        msg = make_message("sender@remote.test", ALIAS, "to the team", b"Hi team\r\n")
        with smtp(self.t) as c:
            self.assertEqual(c.sendmail("sender@remote.test", [ALIAS], msg), {})
        for user in ("bob@example.test", "alice@example.test"):
            got = find(wait_messages(self.t, user, 1), b"Subject: to the team")
            self.assertEqual(len(got), 1, user)
            self.assertTrue(got[0].endswith(msg))

    def test_alias_and_member_get_one_copy(self):
        msg = make_message("sender@remote.test", ALIAS, "dedup", b"once\r\n")
        with smtp(self.t) as c:
            self.assertEqual(c.sendmail("sender@remote.test", [ALIAS, "bob@example.test",
                                                               "bob+tag@example.test"], msg), {})
        for user in ("bob@example.test", "alice@example.test"):
            got = find(wait_messages(self.t, user, 1), b"Subject: dedup")
            self.assertEqual(len(got), 1, user)

    def test_unknown_user(self):
        with smtp(self.t) as c:
            c.ehlo()
            c.mail("sender@remote.test")
            code, text = c.rcpt("nobody@example.test")
            self.assertEqual(code, 550)
            self.assertTrue(text.startswith(b"5.1.1"), text)

    def test_relay_refused(self):
        with smtp(self.t) as c:
            c.ehlo()
            c.mail("sender@remote.test")
            code, text = c.rcpt("victim@elsewhere.test")
            self.assertEqual(code, 554)
            self.assertTrue(text.startswith(b"5.7.1"), text)
            # The transaction continues for local recipients.
            self.assertEqual(c.rcpt("bob@example.test")[0], 250)
            c.rset()

    def test_oversized_message(self):
        big = make_message("sender@remote.test", "bob@example.test", "too big",
                           b"x" * 70 + b"\r\n") + (b"y" * 98 + b"\r\n") * (MAX_SIZE // 100 + 10)
        with smtp(self.t) as c:
            c.ehlo()
            # Declared too big: refused at MAIL.
            code, text = c.mail("sender@remote.test", [f"SIZE={MAX_SIZE * 2}"])
            self.assertEqual(code, 552)
            self.assertTrue(text.startswith(b"5.3.4"), text)
            # Undeclared (sendmail would declare it): refused after the data.
            self.assertEqual(c.mail("sender@remote.test")[0], 250)
            self.assertEqual(c.rcpt("bob@example.test")[0], 250)
            code, text = c.data(big)
            self.assertEqual(code, 552, text)
            self.assertTrue(text.startswith(b"5.3.4"), text)
            # The session goes on.
            self.assertEqual(c.noop()[0], 250)
        self.assertEqual(find(maildir_messages(self.t, "bob@example.test"), b"Subject: too big"), [])

    def test_smuggling_does_not_make_two_messages(self):
        s = self.t.connect("smtp")
        try:
            def cmd(line, want):
                s.sendall(line)
                reply = recv_until(s, lambda d: b"\r\n" in d and d.split(b"\r\n")[-2][3:4] == b" ")
                self.assertTrue(reply.startswith(want), (line, reply))
                return reply

            recv_until(s, lambda d: d.endswith(b"\r\n"))
            cmd(b"EHLO client.test\r\n", b"250")
            cmd(b"MAIL FROM:<sender@remote.test>\r\n", b"250")
            cmd(b"RCPT TO:<alice@example.test>\r\n", b"250")
            cmd(b"DATA\r\n", b"354")
            payload = (b"Subject: smuggle outer\r\n\r\nouter\r\n"
                       b"\n.\nMAIL FROM:<evil@remote.test>\nRCPT TO:<alice@example.test>\nDATA\n"
                       b"Subject: smuggled inner\n\ninner\n.\n"
                       b"more outer\r\n.\r\n")
            reply = cmd(payload, b"")
            # Either refused (bare LF policy "reject") or one message; never a second one.
            self.assertTrue(reply[:1] in (b"2", b"5"), reply)
            cmd(b"QUIT\r\n", b"221")
        finally:
            s.close()
        msgs = maildir_messages(self.t, "alice@example.test")
        self.assertEqual(find(msgs, b"Subject: smuggled inner\r\n"), [])
        inner_first = [d for d in msgs.values() if split_stored(d)[2].startswith(b"Subject: smuggled")]
        self.assertEqual(inner_first, [])
        self.assertLessEqual(len(find(msgs, b"smuggle outer")), 1)

    def test_null_sender_accepted_on_mx(self):
        msg = make_message("mailer-daemon@remote.test", "alice@example.test", "bounce", b"b\r\n")
        with smtp(self.t) as c:
            self.assertEqual(c.sendmail("<>", ["alice@example.test"], msg), {})
        got = find(wait_messages(self.t, "alice@example.test", 1), b"Subject: bounce")
        self.assertEqual(len(got), 1)
        self.assertEqual(split_stored(got[0])[0], "<>")

    def test_bdat_delivery(self):
        msg = make_message("sender@remote.test", "bob@example.test", "chunked", b"bdat body\r\n")
        s = self.t.connect("smtp")
        try:
            recv_until(s, lambda d: d.endswith(b"\r\n"))
            s.sendall(b"EHLO client.test\r\n")
            ehlo = recv_until(s, lambda d: b"250 " in d)
            self.assertIn(b"CHUNKING", ehlo)
            half = len(msg) // 2
            # Pipelined: MAIL, RCPT and both chunks in one write.
            s.sendall(b"MAIL FROM:<sender@remote.test>\r\nRCPT TO:<bob@example.test>\r\n" +
                      b"BDAT %d\r\n" % half + msg[:half] +
                      b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
            replies = recv_until(s, lambda d: d.count(b"\r\n") >= 4, timeout=20)
            lines = replies.split(b"\r\n")
            self.assertEqual([line[:3] for line in lines[:4]], [b"250"] * 4, replies)
        finally:
            s.close()
        got = find(wait_messages(self.t, "bob@example.test", 1), b"Subject: chunked")
        self.assertEqual(len(got), 1)
        self.assertTrue(got[0].endswith(msg))

    def test_unauthenticated_submission_refused(self):
        with smtp(self.t, "submission") as c:
            c.ehlo()
            code, _ = c.mail("bob@example.test")
            self.assertEqual(code, 530)


if __name__ == "__main__":
    unittest.main(verbosity=2)
