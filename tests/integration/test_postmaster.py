#!/usr/bin/python3
"""RFC 5321 §4.5.1 postmaster: `RCPT TO:<Postmaster>` (no domain), postmaster at every local
domain and at the server's hostname reach the configured `postmaster` address; without it,
ternd warns at start and refuses them like any unknown user."""
import os
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern  # noqa: E402
from smtp_fixture import make_message, maildir_messages, populate, wait_messages  # noqa: E402


class Postmaster(unittest.TestCase):
    def test_postmaster_reaches_the_configured_address(self):
        with Tern(listeners=("smtp",)) as t:
            t.write_config('postmaster = "alice@example.test"\n' + t.config_text())
            populate(t)
            t.start()
            self.assertNotIn("postmaster is not set", t.log())
            rcpts = ["Postmaster", "POSTMASTER@example.test", f"postmaster@{t.hostname}"]
            with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=30) as s:
                s.ehlo("client.test")
                s.mail("reporter@outside.test")
                for r in rcpts:
                    code, text = s.rcpt(r)
                    self.assertEqual(code, 250, f"{r}: {text}")
                code, text = s.data(make_message("reporter@outside.test", "postmaster@example.test",
                                                 "abuse report", b"see attached\r\n"))
                self.assertEqual(code, 250, text)
                # Only postmaster is special at the hostname.
                s.rset()
                s.mail("reporter@outside.test")
                code, _ = s.rcpt(f"bob@{t.hostname}")
                self.assertEqual(code, 554)
            msgs = wait_messages(t, "alice@example.test", 1)
            # Three RCPTs that all resolve to alice: one copy (recipients are de-duplicated).
            self.assertEqual(len(msgs), 1)
            self.assertIn(b"Subject: abuse report", next(iter(msgs.values())))
            self.assertEqual(maildir_messages(t, "bob@example.test"), {})

    def test_without_postmaster_ternd_warns_and_refuses(self):
        with Tern(listeners=("smtp",)) as t:
            populate(t)
            t.start()
            self.assertIn("postmaster is not set", t.log())
            with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=30) as s:
                s.ehlo("client.test")
                s.mail("reporter@outside.test")
                self.assertEqual(s.rcpt("postmaster@example.test")[0], 550)


if __name__ == "__main__":
    unittest.main(verbosity=2)
