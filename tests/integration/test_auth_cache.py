#!/usr/bin/python3
"""Verified-credential cache (issue 18 defect 8) against a running ternd: a login verified a
moment ago is remembered, yet `ternctl user passwd/disable/remove`, run in another process,
take effect on the very next login (the cache keys on the stored hash and every login still
reads the user's row). Driven with imaplib over implicit TLS."""
import imaplib
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

USER = "bob@example.test"
PASSWORD = USERS[USER]


class AuthCache(unittest.TestCase):
    def setUp(self):
        # A long TTL, so only the row/hash checks can explain a refusal.
        self.t = Tern(listeners=("smtp", "imaps"), sections={"auth": {"credential_cache_ttl": 3600}})
        try:
            populate(self.t)
            self.t.start()
        except Exception:
            print(self.t.log(), file=sys.stderr)
            self.t.cleanup()
            raise

    def tearDown(self):
        self.t.cleanup()

    def login(self, password):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        try:
            m.login(USER, password)
            m.logout()
            return "OK"
        except imaplib.IMAP4.error as e:
            m.shutdown()
            return str(e)

    def ctl(self, *args, input=None):
        p = self.t.ctl(*args, input=input)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_passwd_disable_remove_seen_by_the_next_login(self):
        self.assertEqual(self.login(PASSWORD), "OK")
        self.assertEqual(self.login(PASSWORD), "OK")  # from the cache
        self.ctl("user", "passwd", USER, input="fresh-password-2\n")
        self.assertIn("AUTHENTICATIONFAILED", self.login(PASSWORD))
        self.assertEqual(self.login("fresh-password-2"), "OK")
        self.assertEqual(self.login("fresh-password-2"), "OK")
        self.ctl("user", "disable", USER)
        self.assertNotEqual(self.login("fresh-password-2"), "OK")
        self.ctl("user", "enable", USER)
        self.assertEqual(self.login("fresh-password-2"), "OK")
        self.ctl("user", "remove", USER)
        self.assertNotEqual(self.login("fresh-password-2"), "OK")


if __name__ == "__main__":
    unittest.main(verbosity=2)
