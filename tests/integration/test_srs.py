#!/usr/bin/python3
"""SRS for forwarding aliases, end to end: an alias of ours forwards off-site to a loopback
sink (aiosmtpd) found through a loopback DNS server (dnslib); the sink sees an SRS0 sender
at our domain that passes SPF for our domain (pyspf, asking the same DNS server); a bounce
sent back to that SRS address reaches the original sender's MX; forged and altered SRS
addresses get 550 at RCPT; the null sender is never rewritten; a sender that is already SRS0
becomes SRS1. Debian: python3-aiosmtpd, python3-dnslib, python3-spf, python3-dnspython."""
import os
import smtplib
import sys
import time
import unittest

import dns.resolver
import spf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern, free_port  # noqa: E402
from relay_harness import Sink, ZoneDns  # noqa: E402
from smtp_fixture import ctl_ok, populate  # noqa: E402

OUR = "example.test"         # the alias's domain: the SRS domain
FWD_SINK = "127.0.0.11"      # mx.outside.test: where the alias forwards
ORIG_SINK = "127.0.0.12"     # mx.orig.test: the original sender's MX, gets the bounce
WAIT = 30.0


def wait_for(pred, what):
    deadline = time.monotonic() + WAIT
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Srs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = ZoneDns({
            # Our domain authorizes the loopback address ternd relays from, nothing else.
            OUR: [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
            "orig.test": [("TXT", "v=spf1 ip4:127.0.0.3 -all"), ("MX", (10, "mx.orig.test."))],
            "mx.orig.test": [("A", ORIG_SINK)],
            "outside.test": [("MX", (10, "mx.outside.test."))],
            "mx.outside.test": [("A", FWD_SINK)],
        })
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = cls.dns.port
        r.lifetime = 3
        dns.resolver.default_resolver = r  # pyspf asks our zone
        port = free_port()
        server = f"127.0.0.1:{cls.dns.port}"
        cls.t = Tern(listeners=("smtp",), allow_plaintext_without_tls=True,
                     sections={"dns": {"servers": [server]},
                               "relay": {"dns": [server], "smtp_port": port,
                                         "retry_schedule": [1, 1, 2], "connect_timeout": 5},
                               "inbound_auth": {"timeout": 2}})
        # gone@outside.test does not exist there: the forward fails, ternd's DSN goes home.
        cls.fwd = Sink(FWD_SINK, port, behaviour=lambda sink, address: (
            "550 5.1.1 no such user" if address == "gone@outside.test" else None))
        cls.orig = Sink(ORIG_SINK, port, behaviour=Sink.accept)
        try:
            populate(cls.t)
            ctl_ok(cls.t, "alias", "add", f"fwd@{OUR}", "carol@outside.test")
            ctl_ok(cls.t, "alias", "add", f"fwdgone@{OUR}", "gone@outside.test")
            cls.t.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        for s in (cls.fwd, cls.orig):
            s.stop()
        log = cls.t.log()
        cls.t.cleanup()
        cls.dns.close()
        if "Sanitizer" in log or "runtime error:" in log:
            raise AssertionError("sanitizer report:\n" + log[-4000:])

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            print(self.t.log()[-6000:], file=sys.stderr)
        return out

    def send(self, source, mail_from, rcpt, subject):
        """One message on the MX listener from 127.0.0.<source>: (RCPT reply, DATA reply)."""
        msg = (f"From: <{mail_from or 'mailer-daemon@outside.test'}>\r\nTo: <{rcpt}>\r\n"
               f"Subject: {subject}\r\n\r\nbody\r\n").encode()
        with smtplib.SMTP("127.0.0.1", self.t.port("smtp"), local_hostname="client.test",
                          timeout=30, source_address=(source, 0)) as c:
            c.ehlo()
            self.assertEqual(c.mail(f"<{mail_from}>")[0], 250)
            rcpt_reply = c.rcpt(rcpt)
            if rcpt_reply[0] != 250:
                return rcpt_reply, None
            return rcpt_reply, c.data(msg)

    def arrived(self, sink, subject):
        wait_for(lambda: any(f"Subject: {subject}\r\n".encode() in m[2] for m in sink.messages),
                 f"'{subject}' at {sink.controller.hostname}")
        (got,) = [m for m in sink.messages if f"Subject: {subject}\r\n".encode() in m[2]]
        return got

    def forward_one(self, subject, sender="alice@orig.test"):
        rcpt, data = self.send("127.0.0.3", sender, f"fwd@{OUR}", subject)
        self.assertEqual(rcpt[0], 250, rcpt)
        self.assertEqual(data[0], 250, data)
        return self.arrived(self.fwd, subject)

    def test_forward_gets_srs_sender_passing_spf_and_bounce_returns(self):
        mail_from, rcpts, _ = self.forward_one("srs forward")
        self.assertEqual(rcpts, ["carol@outside.test"])
        local, _, domain = mail_from.rpartition("@")
        self.assertEqual(domain, OUR)
        self.assertRegex(local, r"^SRS0=[A-Z2-7]{8}=[A-Z2-7]{2}=orig\.test=alice$")
        # The next hop's SPF check, by an independent implementation against the same zone:
        # the original sender would fail from our address, the SRS sender passes.
        peer_ip = self.fwd.peers[-1][0]
        self.assertEqual(spf.check2(i=peer_ip, s="alice@orig.test", h="mail.example.test")[0], "fail")
        self.assertEqual(spf.check2(i=peer_ip, s=mail_from, h="mail.example.test")[0], "pass")

        # The outside MTA bounces to the SRS address: ternd routes it to alice's MX, null sender.
        rcpt, data = self.send(FWD_SINK, "", mail_from, "bounce of srs forward")
        self.assertEqual(rcpt[0], 250, rcpt)
        self.assertEqual(data[0], 250, data)
        bounce_from, bounce_rcpts, _ = self.arrived(self.orig, "bounce of srs forward")
        self.assertEqual(bounce_rcpts, ["alice@orig.test"])
        self.assertIn(bounce_from, ("", "<>"))
        # Case folded by some relay on the way: still verifies.
        rcpt, _ = self.send(FWD_SINK, "", mail_from.lower(), "lower-case bounce")
        self.assertEqual(rcpt[0], 250, rcpt)
        self.arrived(self.orig, "lower-case bounce")

    def test_forged_and_altered_srs_addresses_are_refused(self):
        mail_from, _, _ = self.forward_one("srs to alter")
        altered = mail_from.replace("=alice@", "=mallory@")
        forged = f"SRS0=AAAAAAAA=AA=orig.test=alice@{OUR}"
        for address in (altered, forged, f"SRS0=garbage@{OUR}"):
            rcpt, _ = self.send(FWD_SINK, "", address, "forged")
            self.assertEqual(rcpt[0], 550, (address, rcpt))
            self.assertTrue(rcpt[1].startswith(b"5.1.1"), rcpt)
        self.assertIn("reason=srs-bad-hash", self.t.log())
        time.sleep(0.5)
        self.assertFalse([m for m in self.orig.messages if b"Subject: forged" in m[2]])

    def test_failed_forward_dsn_reaches_the_original_sender(self):
        # The next hop refuses the SRS-rewritten forward: our relay's DSN is addressed to the
        # SRS sender and must reach the original one (unwrapped locally, not sent to our MX).
        rcpt, data = self.send("127.0.0.3", "alice@orig.test", f"fwdgone@{OUR}", "doomed forward")
        self.assertEqual((rcpt[0], data[0]), (250, 250), (rcpt, data))
        wait_for(lambda: [m for m in self.orig.messages
                          if b"doomed forward" in m[2] and b"multipart/report" in m[2]],
                 "the DSN at the original sender's MX")
        (dsn,) = [m for m in self.orig.messages if b"doomed forward" in m[2] and b"multipart/report" in m[2]]
        self.assertEqual(dsn[1], ["alice@orig.test"])
        self.assertIn(dsn[0], ("", "<>"))
        self.assertIn(b"gone@outside.test", dsn[2])

    def test_null_sender_is_not_rewritten(self):
        mail_from, _, _ = self.forward_one("null sender forward", sender="")
        self.assertIn(mail_from, ("", "<>"))

    def test_srs0_sender_becomes_srs1(self):
        sender = "SRS0=ABCDEFGH=AB=first.test=bob@orig.test"
        mail_from, _, _ = self.forward_one("srs1 forward", sender=sender)
        local, _, domain = mail_from.rpartition("@")
        self.assertEqual(domain, OUR)
        self.assertRegex(local, r"^SRS1=[A-Z2-7]{8}=orig\.test==ABCDEFGH=AB=first\.test=bob$")
        # A bounce to it goes back to the first forwarder's SRS0 address (orig.test's MX).
        rcpt, data = self.send(FWD_SINK, "", mail_from, "bounce of srs1")
        self.assertEqual(rcpt[0], 250, rcpt)
        _, rcpts, _ = self.arrived(self.orig, "bounce of srs1")
        self.assertEqual(rcpts, [sender])


if __name__ == "__main__":
    unittest.main()
