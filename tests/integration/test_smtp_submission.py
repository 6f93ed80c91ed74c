#!/usr/bin/python3
"""SMTP submission as a mail client sees it: STARTTLS + AUTH PLAIN/LOGIN (smtplib and swaks),
implicit TLS on submissions, wrong password, sender not owned, AUTH refused before TLS."""
import os
import shutil
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern, TernCase, client_tls_context, free_port  # noqa: E402
from smtp_fixture import USERS, make_message, populate, smtp, split_stored, wait_messages  # noqa: E402
from relay_harness import Sink, ZoneDns  # noqa: E402

BOB = "bob@example.test"
ALICE = "alice@example.test"


def find(msgs, marker):
    return [data for data in msgs.values() if marker in data]


class Submission(TernCase):
    @classmethod
    def make_tern(cls):
        # The relay routes elsewhere.test through a loopback DNS to a loopback sink.
        sink_port = free_port()
        cls.dns = ZoneDns({"elsewhere.test.": [("MX", (10, "mx.elsewhere.test."))],
                           "mx.elsewhere.test.": [("A", "127.0.0.1")]})
        cls.addClassCleanup(cls.dns.close)
        cls.sink = Sink("127.0.0.1", sink_port, behaviour=Sink.accept)
        cls.addClassCleanup(cls.sink.stop)
        return Tern(listeners=("smtp", "submission", "submissions"),
                    sections={"relay": {"dns": [f"127.0.0.1:{cls.dns.port}"],
                                        "smtp_port": sink_port}})

    @classmethod
    def prepare(cls, t):
        populate(t)

    def starttls_client(self):
        c = smtp(self.t, "submission")
        c.ehlo()
        self.assertIn("starttls", c.esmtp_features)
        c.starttls(context=client_tls_context())
        c.ehlo()
        return c

    def test_auth_refused_before_tls(self):
        with smtp(self.t, "submission") as c:
            c.ehlo()
            # Not advertised without TLS (plaintext auth is off), and refused if tried.
            self.assertNotIn("auth", c.esmtp_features)
            code, text = c.docmd("AUTH", "PLAIN AGJvYkBleGFtcGxlLnRlc3QAYm9iLXNlY3JldC0x")
            self.assertEqual(code, 538, text)

    def test_starttls_auth_plain(self):
        msg = make_message(BOB, ALICE, "submitted plain", b"via STARTTLS + PLAIN\r\n")
        with self.starttls_client() as c:
            self.assertIn("PLAIN", c.esmtp_features.get("auth", ""))
            c.login(BOB, USERS[BOB], initial_response_ok=True)  # AUTH PLAIN (first choice)
            self.assertEqual(c.sendmail(BOB, [ALICE], msg), {})
        got = find(wait_messages(self.t, ALICE, 1), b"Subject: submitted plain")
        self.assertEqual(len(got), 1)
        return_path, received, rest = split_stored(got[0])
        self.assertEqual(return_path, "<bob@example.test>")
        self.assertIn("ESMTPSA", received)
        self.assertIn("TLS", received)
        self.assertEqual(rest, msg)

    def test_starttls_auth_login(self):
        msg = make_message(ALICE, BOB, "submitted login", b"via STARTTLS + LOGIN\r\n")
        with self.starttls_client() as c:
            c.user, c.password = ALICE, USERS[ALICE]
            code, text = c.auth("LOGIN", c.auth_login, initial_response_ok=False)
            self.assertEqual(code, 235, text)
            self.assertEqual(c.sendmail(ALICE, [BOB], msg), {})
        self.assertEqual(len(find(wait_messages(self.t, BOB, 1), b"Subject: submitted login")), 1)

    def test_implicit_tls_submissions(self):
        msg = make_message(BOB, BOB, "implicit tls", b"port 465 style\r\n")
        with smtplib.SMTP_SSL("127.0.0.1", self.t.port("submissions"), local_hostname="client.test",
                              context=client_tls_context(), timeout=30) as c:
            c.ehlo()
            self.assertNotIn("starttls", c.esmtp_features)
            c.login(BOB, USERS[BOB])
            self.assertEqual(c.sendmail(BOB, [BOB], msg), {})
        got = find(wait_messages(self.t, BOB, 1), b"Subject: implicit tls")
        self.assertEqual(len(got), 1)
        self.assertIn("ESMTPSA", split_stored(got[0])[1])

    def test_wrong_password(self):
        with self.starttls_client() as c:
            with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
                c.login(BOB, "not-the-password")
            self.assertEqual(cm.exception.smtp_code, 535)
        self.assertRegex(self.t.log(), r"auth fail proto=smtp user=bob@example.test ip=127.0.0.1")

    def test_sender_not_owned(self):
        with self.starttls_client() as c:
            c.login(BOB, USERS[BOB])
            code, text = c.mail(ALICE)
            self.assertEqual(code, 553, text)
            self.assertTrue(text.startswith(b"5.7.1"), text)
            # An alias that reaches bob is his to use.
            self.assertEqual(c.mail("team@example.test")[0], 250)
            c.rset()

    def test_remote_recipient_goes_to_relay_or_is_deferred(self):
        msg = make_message(BOB, "someone@elsewhere.test", "outbound", b"for the relay\r\n")
        with self.starttls_client() as c:
            c.login(BOB, USERS[BOB])
            self.assertEqual(c.mail(BOB)[0], 250)
            code, text = c.rcpt("someone@elsewhere.test")
            # The relay accepts it, and 250 after DATA means it is in the queue.
            self.assertEqual(code, 250, text)
            code, text = c.data(msg)
            self.assertEqual(code, 250, text)
        self.assertRegex(self.t.log(), r"relay queued id=")
        # The remote MX (the sink) receives it.
        deadline = time.monotonic() + 20
        while not any(b"Subject: outbound" in m[2] for m in self.sink.messages):
            self.assertLess(time.monotonic(), deadline, "the relay did not deliver to the sink")
            time.sleep(0.05)
        got = [m for m in self.sink.messages if b"Subject: outbound" in m[2]]
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0][0], BOB)
        self.assertEqual(got[0][1], ["someone@elsewhere.test"])

    @unittest.skipUnless(shutil.which("swaks"), "swaks not installed")
    def test_swaks(self):
        cases = [("PLAIN", ["--tls"], "submission", "swaks plain"),
                 ("LOGIN", ["--tls"], "submission", "swaks login"),
                 ("PLAIN", ["--tls-on-connect"], "submissions", "swaks implicit")]
        for mech, tls, listener, subject in cases:
            with self.subTest(mech=mech, listener=listener):
                p = subprocess.run(
                    ["swaks", "--server", "127.0.0.1", "--port", str(self.t.port(listener)),
                     "--helo", "client.test", "--from", BOB, "--to", ALICE, *tls,
                     "--auth", mech, "--auth-user", BOB, "--auth-password", USERS[BOB],
                     "--header", f"Subject: {subject}", "--body", "sent by swaks",
                     "--timeout", "30"],
                    capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertRegex(p.stdout, r"<~  250 2\.0\.0 Ok: queued as")
                got = find(wait_messages(self.t, ALICE, 1), f"Subject: {subject}".encode())
                self.assertEqual(len(got), 1, subject)


if __name__ == "__main__":
    unittest.main(verbosity=2)
