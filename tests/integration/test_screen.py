#!/usr/bin/python3
"""The MX listener's connection and envelope stage (issue 17), end to end: DNS blocklists and
an allowlist served by a loopback DNS server (dnslib), greylisting, per-address rate limits,
early talkers and unauthorised pipelining. Clients connect from several 127.0.0.x source
addresses, one per scenario, so the per-address limits of one do not touch another.

  127.0.0.2  listed by bl.test (weight 5 = the reject score): 550 5.7.1 at RCPT
  127.0.0.3  greylisting: 451, 451 before the delay, 250 after it, then at once
  127.0.0.4  connection rate (6 a minute): the 7th gets 421 4.7.0
  127.0.0.5  message rate (10 an hour): the 11th MAIL gets 451 4.7.1
  127.0.0.6  recipient rate (8 an hour): the 9th RCPT gets 451 4.7.1
  127.0.0.7  early talker and pipelining before EHLO's reply: 554 5.5.1
  127.0.0.8  listed by the allowlist wl.test (negative weight): never greylisted
  127.0.0.9  in screen.allow_ips: none of it applies
  127.0.0.10 partner.test's SPF-authorised server: a reply to alice is not greylisted
"""
import os
import smtplib
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern, TernCase, recv_line  # noqa: E402
from relay_harness import ZoneDns  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

BOB = "bob@example.test"
GREY_DELAY = 2
GREET_DELAY_MS = 300
CONNECTIONS = 6  # a minute, per address (greylisting from .3 needs 5)
MESSAGES = 10     # an hour, per address (greylisting from .3 needs 5)
RECIPIENTS = 8


class Screen(TernCase):
    @classmethod
    def make_tern(cls):
        cls.dns = ZoneDns({
            "2.0.0.127.bl.test": [("A", "127.0.0.2")],
            "8.0.0.127.wl.test": [("A", "127.0.2.3")],
            "partner.test": [("TXT", "v=spf1 ip4:127.0.0.10 -all")],
        })
        cls.addClassCleanup(cls.dns.close)
        return Tern(listeners=("smtp", "submission"), allow_plaintext_without_tls=True, sections={
            "dns": {"servers": [f"127.0.0.1:{cls.dns.port}"]},
            "inbound_auth": {"spf": "enforce"},
            "screen": {
                "greet_delay_ms": GREET_DELAY_MS,
                "reject_pipelining": True,
                "allow_ips": ["127.0.0.9"],
                "dnsbl": ["bl.test 5 127.0.0.2-127.0.0.11", "wl.test -3"],
                "dnsbl_reject_score": 5,
                "connections_per_minute": CONNECTIONS,
                "messages_per_hour": MESSAGES,
                "recipients_per_hour": RECIPIENTS,
                "greylist": True,
                "greylist_delay": GREY_DELAY,
            },
        })

    @classmethod
    def prepare(cls, t):
        populate(t)

    # -- helpers -------------------------------------------------------------------------

    def smtp(self, octet):
        return smtplib.SMTP("127.0.0.1", self.t.port("smtp"), local_hostname="client.test",
                            timeout=20, source_address=(f"127.0.0.{octet}", 0))

    def raw(self, octet):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        s.bind((f"127.0.0.{octet}", 0))
        s.connect(("127.0.0.1", self.t.port("smtp")))
        return s

    def attempt(self, octet, sender, rcpt=BOB, body=None):
        """One transaction: the RCPT reply, and the DATA reply when RCPT was accepted."""
        with self.smtp(octet) as c:
            c.ehlo()
            self.assertEqual(c.mail(sender)[0], 250)
            code, text = c.rcpt(rcpt)
            if code != 250:
                return code, text.decode(), None
            data = c.data(body or f"From: <{sender}>\r\nSubject: screen\r\n\r\nhello\r\n".encode())
            return code, text.decode(), data[0]

    # -- blocklists --------------------------------------------------------------------------

    def test_blocklisted_client_is_refused_at_rcpt_naming_the_zone(self):
        code, text, _ = self.attempt(2, "someone@spam.test")
        self.assertEqual(code, 550)
        self.assertIn("5.7.1", text)
        self.assertIn("listed by bl.test", text)
        self.assertTrue(self.t.wait_log(r"screen dnsbl ip=127\.0\.0\.2 score=5 "
                                        r"hits=DNSBL_bl\.test:5\(127\.0\.0\.2\)"))
        # The lookup asked RFC 5782's reversed name.
        self.assertIn(("2.0.0.127.bl.test.", "A"), self.dns.queries)

    def test_allowlisted_client_skips_greylisting(self):
        code, _, data = self.attempt(8, "friend@ok.test")
        self.assertEqual((code, data), (250, 250))
        self.assertTrue(self.t.wait_log(r"screen dnsbl ip=127\.0\.0\.8 score=-3 "
                                        r"hits=DNSBL_wl\.test:-3\(127\.0\.2\.3\)"))

    # -- greylisting -----------------------------------------------------------------------

    def test_greylisting(self):
        sender = "first@grey.test"
        code, text, _ = self.attempt(3, sender)
        self.assertEqual(code, 451, text)
        self.assertIn("4.7.1", text)
        self.assertIn("Greylisted", text)
        code, _, _ = self.attempt(3, sender)  # too early
        self.assertEqual(code, 451)
        time.sleep(GREY_DELAY + 0.2)
        self.assertEqual(self.attempt(3, sender)[::2], (250, 250))
        # Passed: the same triplet goes through at once from now on.
        self.assertEqual(self.attempt(3, sender)[::2], (250, 250))
        # Another sender from the same network is a new triplet.
        self.assertEqual(self.attempt(3, "second@grey.test")[0], 451)
        self.assertTrue(os.path.exists(os.path.join(self.t.data_dir, "greylist.db")))

    def test_submission_is_not_screened(self):
        # Port 587 from a screened address: authenticated, never greylisted or rate limited.
        with smtplib.SMTP("127.0.0.1", self.t.port("submission"), timeout=20,
                          source_address=("127.0.0.3", 0)) as c:
            c.ehlo()
            c.login("alice@example.test", USERS["alice@example.test"])
            refused = c.sendmail("alice@example.test", [BOB],
                                 b"From: <alice@example.test>\r\nSubject: s\r\n\r\nhi\r\n")
            self.assertEqual(refused, {})

    def test_reply_from_a_correspondent_is_not_greylisted(self):
        # alice writes to partner.test through submission (the relay queues it)...
        with smtplib.SMTP("127.0.0.1", self.t.port("submission"), timeout=20) as c:
            c.ehlo()
            c.login("alice@example.test", USERS["alice@example.test"])
            self.assertEqual(c.sendmail("alice@example.test", ["friend@partner.test"],
                                        b"From: <alice@example.test>\r\nSubject: hi\r\n\r\nhi\r\n"), {})
        # ...so partner.test's answer, SPF pass, goes through at the first attempt,
        code, text, data = self.attempt(10, "friend@partner.test", rcpt="alice@example.test")
        self.assertEqual((code, data), (250, 250), text)
        # while bob, who never wrote there, still gets it greylisted.
        self.assertEqual(self.attempt(10, "friend@partner.test", rcpt=BOB)[0], 451)

    # -- rate limits ---------------------------------------------------------------------------

    def test_connection_rate(self):
        for i in range(CONNECTIONS):
            s = self.raw(4)
            self.assertTrue(recv_line(s).startswith(b"220 "), i)
            s.close()
        s = self.raw(4)
        line = recv_line(s)
        s.close()
        self.assertTrue(line.startswith(b"421 4.7.0"), line)
        self.assertTrue(self.t.wait_log(r"reason=connection-rate ip=127\.0\.0\.4"))

    def test_message_rate(self):
        with self.smtp(5) as c:
            c.ehlo()
            for i in range(MESSAGES):
                self.assertEqual(c.mail(f"m{i}@rate.test")[0], 250, i)
                c.rset()
            code, text = c.mail("last@rate.test")
            self.assertEqual(code, 451)
            self.assertIn(b"4.7.1 Too many messages", text)

    def test_recipient_rate(self):
        with self.smtp(6) as c:
            c.ehlo()
            c.mail("r@rate.test")
            for i in range(RECIPIENTS):
                code, text = c.rcpt(BOB)
                self.assertIn(b"Greylisted", text, i)  # counted all the same
            code, text = c.rcpt(BOB)
            self.assertEqual(code, 451)
            self.assertIn(b"4.7.1 Too many recipients", text)

    # -- early talkers -------------------------------------------------------------------------

    def test_early_talker(self):
        s = self.raw(7)
        s.sendall(b"EHLO eager.test\r\n")  # before the greeting (it comes after 300 ms)
        line = recv_line(s)
        self.assertTrue(line.startswith(b"554 5.5.1"), line)
        self.assertEqual(s.recv(100), b"")  # closed
        s.close()
        self.assertTrue(self.t.wait_log(r"reason=early-talker ip=127\.0\.0\.7"))

    def test_pipelining_before_ehlo_reply(self):
        s = self.raw(7)
        self.assertTrue(recv_line(s).startswith(b"220 "))
        s.sendall(b"EHLO eager.test\r\nMAIL FROM:<x@eager.test>\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        self.assertTrue(data.startswith(b"554 5.5.1"), data)
        self.assertNotIn(b"250", data)

    def test_polite_client_waits_for_the_greeting(self):
        start = time.monotonic()
        with self.smtp(7) as c:
            self.assertGreaterEqual(time.monotonic() - start, GREET_DELAY_MS / 1000 - 0.05)
            self.assertEqual(c.ehlo()[0], 250)
            self.assertEqual(c.noop()[0], 250)

    def test_allow_listed_address_is_exempt(self):
        s = self.raw(9)
        s.sendall(b"EHLO trusted.test\r\nNOOP\r\n")  # early and pipelined: allowed from here
        data = b""
        while b"250 2.0.0" not in data:
            chunk = s.recv(4096)
            self.assertTrue(chunk, data)
            data += chunk
        self.assertTrue(data.startswith(b"220 "), data)
        s.sendall(b"QUIT\r\n")
        s.close()
        self.assertEqual(self.attempt(9, "anyone@trusted.test")[::2], (250, 250))


if __name__ == "__main__":
    unittest.main()
