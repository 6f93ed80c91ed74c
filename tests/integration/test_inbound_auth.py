#!/usr/bin/python3
"""Inbound sender authentication on the MX listener, end to end: ternd resolves through a
loopback DNS server (dnslib) serving the test domains' TXT/A/MX/PTR records; mail comes from
several 127.0.0.x addresses, DKIM-signed with dkimpy; SPF results are checked against pyspf
(an independent implementation asking the same DNS server); the Authentication-Results field
is parsed with python3-authres; what was stored is read back over IMAP (INBOX and Junk)."""
import imaplib
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest

import authres
import dkim
import dns.resolver
import spf
from dnslib import A, MX, PTR, TXT

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern, TernCase  # noqa: E402
from relay_harness import ZoneDns  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

HOST = "mail.example.test"   # ternd's hostname: our authserv-id
BOB = "bob@example.test"
TIMEOUT = 2                  # inbound_auth.timeout of the main daemon


def txt(text):
    # One record; character-strings of at most 255 bytes (RFC 1035 §3.3).
    return ("TXT", TXT([text[i:i + 255] for i in range(0, len(text), 255)]))


def make_key(directory, name):
    """A 1024-bit RSA key: (private PEM bytes, base64 public key for p=)."""
    path = os.path.join(directory, name + ".pem")
    subprocess.run(["openssl", "genrsa", "-out", path, "1024"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    with open(path, "rb") as f:
        return f.read(), base64.b64encode(der).decode()


def host_records(zone, last_octet, name):
    ip = f"127.0.0.{last_octet}"
    zone[f"{last_octet}.0.0.127.in-addr.arpa"] = [("PTR", PTR(name + "."))]
    zone[name] = [("A", A(ip))]


def message(sender, subject, body=b"Hello.\r\n", extra=b""):
    return (f"From: <{sender}>\r\nTo: <{BOB}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@test>\r\n").encode() + extra + b"\r\n" + body


def sign(msg, domain, key):
    sig = dkim.sign(msg, b"sel", domain.encode(), key,
                    include_headers=[b"from", b"to", b"subject", b"message-id"])
    return sig + msg


def ar_fields(stored):
    """The Authentication-Results fields of a stored message's header, unfolded, in order."""
    head = stored.split(b"\r\n\r\n", 1)[0].decode()
    fields, cur = [], None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            cur += line
            continue
        if cur is not None:
            fields.append(cur)
        cur = line
    fields.append(cur)
    return [f for f in fields if f.lower().startswith("authentication-results:")]


def results(field):
    h = authres.AuthenticationResultsHeader.parse(field)
    return h.authserv_id, {r.method: r for r in h.results}


class InboundAuth(TernCase):
    @classmethod
    def make_tern(cls):
        cls.keydir = tempfile.mkdtemp(prefix="tern-dkim-")
        cls.addClassCleanup(shutil.rmtree, cls.keydir, True)
        cls.signed_key, signed_pub = make_key(cls.keydir, "signed")
        cls.quar_key, quar_pub = make_key(cls.keydir, "quar")
        zone = {
            "pass.test": [txt("v=spf1 ip4:127.0.0.2 -all"), ("MX", MX("mx.pass.test."))],
            "_dmarc.pass.test": [txt("v=DMARC1; p=reject")],
            "junkspf.test": [txt("v=spf1 ip4:127.0.0.2 -all")],
            "soft.test": [txt("v=spf1 ip4:127.0.0.2 ~all")],
            "neutral.test": [txt("v=spf1 ?all")],
            "nospf.test": [("A", A("192.0.2.1"))],
            # RFC 7208 §5.2: include of a domain without an SPF record is permerror.
            "perm.test": [txt("v=spf1 include:nospf.test -all")],
            "signed.test": [txt("v=spf1 -all")],
            "_dmarc.signed.test": [txt("v=DMARC1; p=reject")],
            "sel._domainkey.signed.test": [txt("v=DKIM1; k=rsa; p=" + signed_pub)],
            "quar.test": [txt("v=spf1 ip4:127.0.0.2 -all")],
            "_dmarc.quar.test": [txt("v=DMARC1; p=quarantine")],
            "sel._domainkey.quar.test": [txt("v=DKIM1; k=rsa; p=" + quar_pub)],
        }
        # Forward-confirmed reverse DNS for every client address but 127.0.0.8.
        for octet in (2, 3, 9):
            host_records(zone, octet, f"out{octet}.sender.test")
        cls.dns = ZoneDns(zone, silent=("slow.test",))
        cls.addClassCleanup(cls.dns.close)
        # pyspf (the oracle) asks the same server, through dnspython's default resolver.
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = ["127.0.0.1"]
        r.port = cls.dns.port
        r.lifetime = 3
        dns.resolver.default_resolver = r
        return Tern(listeners=("smtp", "submission", "imap"), allow_plaintext_without_tls=True,
                    sections={
                        "dns": {"servers": [f"127.0.0.1:{cls.dns.port}"]},
                        "inbound_auth": {"spf": "enforce", "dkim": "enforce",
                                         "dmarc": "enforce", "iprev": "enforce",
                                         "timeout": TIMEOUT, "allow_ips": ["127.0.0.9/32"]},
                    })

    @classmethod
    def prepare(cls, t):
        populate(t)

    # -- helpers -------------------------------------------------------------------------

    def send(self, ip_octet, mail_from, msg, rcpt=BOB):
        """Sends from 127.0.0.<octet> with HELO out<octet>.sender.test; returns the DATA
        reply (code, text) and the seconds the end of DATA took."""
        helo = f"out{ip_octet}.sender.test"
        with smtplib.SMTP("127.0.0.1", self.t.port("smtp"), local_hostname=helo, timeout=30,
                          source_address=(f"127.0.0.{ip_octet}", 0)) as c:
            c.ehlo()
            self.assertEqual(c.mail(mail_from)[0], 250)
            self.assertEqual(c.rcpt(rcpt)[0], 250)
            start = time.monotonic()
            code, text = c.data(msg)
            return code, text, time.monotonic() - start

    def fetch(self, mailbox, marker, want=1, timeout=10.0, user=BOB):
        """Messages of `mailbox` containing `marker`, once there are `want` (or at timeout).
        One login (password hashing is slow under the sanitizers), the mailbox re-selected."""
        deadline = time.monotonic() + timeout
        imap = imaplib.IMAP4("127.0.0.1", self.t.port("imap"))
        try:
            imap.login(user, USERS[user])
            while True:
                typ, _ = imap.select(mailbox, readonly=True)
                self.assertEqual(typ, "OK", mailbox)
                _, data = imap.search(None, "ALL")
                found = []
                for num in data[0].split():
                    _, parts = imap.fetch(num, "(BODY.PEEK[])")
                    if marker.encode() in parts[0][1]:
                        found.append(parts[0][1])
                if len(found) >= want or time.monotonic() > deadline:
                    return found
                time.sleep(0.1)
        finally:
            imap.logout()

    def our_results(self, stored):
        fields = ar_fields(stored)
        ours = [f for f in fields if results(f)[0] == HOST]
        self.assertEqual(len(ours), 1, fields)
        # RFC 8601 §5: ours is the topmost field after Return-Path.
        first = stored.split(b"\r\n", 2)[1].decode()
        self.assertTrue(first.lower().startswith("authentication-results: " + HOST), first)
        return results(ours[0])[1]

    def oracle(self, ip, sender, helo):
        return spf.check2(i=ip, s=sender, h=helo)[0]

    # -- SPF -----------------------------------------------------------------------------

    def test_spf_pass_dmarc_pass_goes_to_inbox(self):
        code, text, _ = self.send(2, "a@pass.test", message("a@pass.test", "spf pass"))
        self.assertEqual(code, 250, text)
        stored = self.fetch("INBOX", "Subject: spf pass")
        self.assertEqual(len(stored), 1)
        r = self.our_results(stored[0])
        self.assertEqual(r["spf"].result, "pass")
        self.assertEqual(self.oracle("127.0.0.2", "a@pass.test", "out2.sender.test"), "pass")
        props = {(p.type, p.name): p.value for p in r["spf"].properties}
        self.assertEqual(props.get(("smtp", "mailfrom")), "a@pass.test")
        self.assertEqual(r["dkim"].result, "none")
        self.assertEqual(r["dmarc"].result, "pass")
        self.assertEqual(r["iprev"].result, "pass")

    def test_spf_fail_with_dmarc_reject_is_refused_and_not_stored(self):
        self.assertEqual(self.oracle("127.0.0.3", "a@pass.test", "out3.sender.test"), "fail")
        code, text, _ = self.send(3, "a@pass.test", message("a@pass.test", "dmarc reject"))
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith(b"5.7.1"), text)
        self.assertIn(b"pass.test", text)
        self.assertIn(b"p=reject", text)
        for box in ("INBOX", "Junk"):
            self.assertEqual(self.fetch(box, "Subject: dmarc reject", timeout=0.5), [], box)
        self.assertRegex(self.t.log(), r"inbound-auth id=\S+ ip=127\.0\.0\.3 from=<a@pass\.test> "
                                       r"spf=fail dkim=none dmarc=fail iprev=pass action=reject")
        self.assertRegex(self.t.log(), r"outcome=rejected")

    def test_spf_fail_without_dmarc_goes_to_junk(self):
        self.assertEqual(self.oracle("127.0.0.3", "x@junkspf.test", "out3.sender.test"), "fail")
        code, text, _ = self.send(3, "x@junkspf.test", message("x@junkspf.test", "spf fail"))
        self.assertEqual(code, 250, text)
        junk = self.fetch("Junk", "Subject: spf fail")
        self.assertEqual(len(junk), 1)
        self.assertEqual(self.our_results(junk[0])["spf"].result, "fail")
        self.assertEqual(self.fetch("INBOX", "Subject: spf fail", timeout=0.2), [])

    def test_spf_softfail_neutral_none_go_to_inbox(self):
        for domain, octet, want in (("soft.test", 3, "softfail"), ("neutral.test", 3, "neutral"),
                                    ("nospf.test", 2, "none"), ("perm.test", 2, "permerror")):
            with self.subTest(domain=domain):
                sender = "s@" + domain
                self.assertEqual(self.oracle(f"127.0.0.{octet}", sender,
                                             f"out{octet}.sender.test"), want)
                subject = f"spf {want}"
                code, text, _ = self.send(octet, sender, message(sender, subject))
                self.assertEqual(code, 250, text)
                stored = self.fetch("INBOX", "Subject: " + subject)
                self.assertEqual(len(stored), 1)
                r = self.our_results(stored[0])
                self.assertEqual(r["spf"].result, want)
                self.assertEqual(r["dmarc"].result, "none")

    def test_answers_are_cached(self):
        # The second message from the same domain is checked from the cache (TTL 60 s).
        def asked():
            return sum(1 for q in self.dns.queries if q == ("cached.pass.test.", "TXT"))
        self.dns.zone["cached.pass.test."] = [txt("v=spf1 ip4:127.0.0.2 -all")]
        for n in range(2):
            code, text, _ = self.send(2, "c@cached.pass.test",
                                      message("c@cached.pass.test", f"cached {n}"))
            self.assertEqual(code, 250, text)
            self.assertEqual(asked(), 1)

    def test_spf_temperror_within_the_timeout(self):
        # slow.test is never answered: the reply comes once inbound_auth.timeout has passed.
        code, text, took = self.send(2, "s@slow.test", message("s@slow.test", "spf temperror"))
        self.assertEqual(code, 250, text)
        self.assertLess(took, TIMEOUT + 3)
        self.assertGreater(took, TIMEOUT - 0.5)
        stored = self.fetch("INBOX", "Subject: spf temperror")
        self.assertEqual(len(stored), 1)
        r = self.our_results(stored[0])
        self.assertEqual(r["spf"].result, "temperror")
        self.assertEqual(r["iprev"].result, "pass")

    # -- DKIM and DMARC ------------------------------------------------------------------

    def test_dkim_pass_aligned_passes_dmarc_despite_spf_fail(self):
        msg = sign(message("d@signed.test", "dkim pass"), "signed.test", self.signed_key)
        code, text, _ = self.send(3, "d@signed.test", msg)
        self.assertEqual(code, 250, text)
        stored = self.fetch("INBOX", "Subject: dkim pass")
        self.assertEqual(len(stored), 1)
        r = self.our_results(stored[0])
        self.assertEqual(r["dkim"].result, "pass")
        props = {(p.type, p.name): p.value for p in r["dkim"].properties}
        self.assertEqual(props.get(("header", "d")), "signed.test")
        self.assertEqual(r["spf"].result, "fail")
        self.assertEqual(r["dmarc"].result, "pass")
        # The stored message still verifies with dkimpy (our fields are above the signature).
        self.assertTrue(dkim.verify(stored[0], dnsfunc=self._dnsfunc))

    def test_dkim_pass_large_message_streamed(self):
        # Hundreds of reads: the verifier hashes the body as it arrives, dot-stuffing undone.
        body = b"".join(b".%05d " % i + b"x" * 72 + b"\r\n" for i in range(4000))
        msg = sign(message("d@signed.test", "dkim large", body=body), "signed.test",
                   self.signed_key)
        code, text, _ = self.send(3, "d@signed.test", msg)
        self.assertEqual(code, 250, text)
        stored = self.fetch("INBOX", "Subject: dkim large")
        self.assertEqual(len(stored), 1)
        self.assertEqual(self.our_results(stored[0])["dkim"].result, "pass")

    def _dnsfunc(self, name, timeout=5):
        ans = dns.resolver.resolve(name.decode().rstrip("."), "TXT")
        return b"".join(b"".join(r.strings) for r in ans)

    def test_dkim_fail_altered_body_with_dmarc_reject_is_refused(self):
        msg = sign(message("d@signed.test", "dkim altered"), "signed.test", self.signed_key)
        code, text, _ = self.send(3, "d@signed.test", msg + b"appended line\r\n")
        self.assertEqual(code, 550, text)
        self.assertIn(b"signed.test", text)
        self.assertEqual(self.fetch("INBOX", "Subject: dkim altered", timeout=0.5), [])

    def test_dkim_fail_altered_body_quarantine_goes_to_junk(self):
        msg = sign(message("q@quar.test", "quarantined body"), "quar.test", self.quar_key)
        code, text, _ = self.send(3, "q@quar.test", msg.replace(b"Hello.", b"Hullo."))
        self.assertEqual(code, 250, text)
        junk = self.fetch("Junk", "Subject: quarantined body")
        self.assertEqual(len(junk), 1)
        r = self.our_results(junk[0])
        self.assertEqual(r["dkim"].result, "fail")
        self.assertEqual(r["dmarc"].result, "fail")
        self.assertEqual(self.fetch("INBOX", "Subject: quarantined body", timeout=0.2), [])

    def test_dkim_fail_altered_signed_header(self):
        msg = sign(message("q@quar.test", "signed subject"), "quar.test", self.quar_key)
        code, text, _ = self.send(3, "q@quar.test",
                                  msg.replace(b"Subject: signed subject", b"Subject: signed subjekt"))
        self.assertEqual(code, 250, text)
        junk = self.fetch("Junk", "Subject: signed subjekt")
        self.assertEqual(len(junk), 1)
        self.assertEqual(self.our_results(junk[0])["dkim"].result, "fail")

    def test_no_ptr_goes_to_junk(self):
        # 127.0.0.8 has no PTR record: iprev permerror (RFC 8601 §3), enforced.
        code, text, _ = self.send(8, "s@nospf.test", message("s@nospf.test", "no ptr"))
        self.assertEqual(code, 250, text)
        junk = self.fetch("Junk", "Subject: no ptr")
        self.assertEqual(len(junk), 1)
        self.assertEqual(self.our_results(junk[0])["iprev"].result, "permerror")

    def test_allow_listed_ip_is_never_rejected(self):
        code, text, _ = self.send(9, "a@pass.test", message("a@pass.test", "allow listed"))
        self.assertEqual(code, 250, text)
        stored = self.fetch("INBOX", "Subject: allow listed")
        self.assertEqual(len(stored), 1)
        self.assertEqual(self.our_results(stored[0])["dmarc"].result, "fail")

    # -- Authentication-Results handling -------------------------------------------------

    def test_forged_results_with_our_id_are_removed(self):
        extra = (f"Authentication-Results: {HOST}; dmarc=pass header.from=pass.test\r\n"
                 f"Authentication-Results: {HOST.upper()};\r\n\tspf=pass\r\n"
                 "Authentication-Results: other.test; spf=pass smtp.mailfrom=a@pass.test\r\n"
                 ).encode()
        code, text, _ = self.send(2, "a@pass.test", message("a@pass.test", "forged ar", extra=extra))
        self.assertEqual(code, 250, text)
        stored = self.fetch("INBOX", "Subject: forged ar")[0]
        fields = ar_fields(stored)
        ids = [results(f)[0].lower() for f in fields]
        self.assertEqual(ids, [HOST, "other.test"], fields)
        self.assertNotIn(b"dmarc=pass header.from=pass.test", stored)

    def test_submission_gets_no_results(self):
        alice = "alice@example.test"
        with smtplib.SMTP("127.0.0.1", self.t.port("submission"), timeout=30) as c:
            c.ehlo()
            c.login(alice, USERS[alice])
            refused = c.sendmail(alice, [BOB], message(alice, "from alice"))
            self.assertEqual(refused, {})
        stored = self.fetch("INBOX", "Subject: from alice")
        self.assertEqual(len(stored), 1)
        self.assertEqual(ar_fields(stored[0]), [])


class DeadDnsServer(unittest.TestCase):
    """[dns] servers pointing at a server that never answers: every check ends in temperror
    within inbound_auth.timeout, and the message is accepted (never a hang)."""

    def dead_dns_ternd(self, **checks):
        """A ternd whose [dns] server never answers; (ternd, dns server), both cleaned up."""
        dead = ZoneDns({}, silent=True)
        self.addCleanup(dead.close)
        t = Tern(listeners=("smtp", "imap"), allow_plaintext_without_tls=True,
                 sections={"dns": {"servers": [f"127.0.0.1:{dead.port}"]},
                           "inbound_auth": {"spf": "enforce", "dkim": "enforce",
                                            "dmarc": "enforce", "iprev": "enforce",
                                            "timeout": 2, **checks}})
        self.addCleanup(t.cleanup)
        populate(t)
        t.start()
        return t, dead

    def send_timed(self, t, subject):
        """One message from 127.0.0.2: (code, text, seconds the end of DATA took)."""
        with smtplib.SMTP("127.0.0.1", t.port("smtp"), local_hostname="out2.sender.test",
                          timeout=30, source_address=("127.0.0.2", 0)) as c:
            c.ehlo()
            c.mail("a@pass.test")
            c.rcpt(BOB)
            start = time.monotonic()
            code, text = c.data(message("a@pass.test", subject))
            return code, text, time.monotonic() - start

    def test_temperror_within_timeout(self):
        t, dead = self.dead_dns_ternd()
        try:
            code, text, took = self.send_timed(t, "dead dns")
            self.assertEqual(code, 250, text)
            self.assertLess(took, 5)
            self.assertTrue(dead.queries, "ternd never asked the configured server")
            imap = imaplib.IMAP4("127.0.0.1", t.port("imap"))
            imap.login(BOB, USERS[BOB])
            imap.select("INBOX", readonly=True)
            _, parts = imap.fetch(b"1", "(BODY.PEEK[])")
            imap.logout()
            (field,) = [f for f in ar_fields(parts[0][1]) if results(f)[0] == HOST]
            r = results(field)[1]
            self.assertEqual(r["spf"].result, "temperror")
            self.assertEqual(r["iprev"].result, "temperror")
        except Exception:
            print(t.log()[-6000:], file=sys.stderr)
            raise

    def test_temperror_tempfail_option(self):
        """inbound_auth.spf_temperror = "tempfail" (RFC 7208 §8.6): 451 4.4.3 within the
        timeout, nothing stored; the client may retry."""
        t, _ = self.dead_dns_ternd(spf_temperror="tempfail")
        try:
            code, text, took = self.send_timed(t, "deferred by spf")
            self.assertEqual(code, 451, text)
            self.assertTrue(text.startswith(b"4.4.3"), text)
            self.assertIn(b"pass.test", text)
            self.assertLess(took, 5)
            imap = imaplib.IMAP4("127.0.0.1", t.port("imap"))
            imap.login(BOB, USERS[BOB])
            for box in ("INBOX", "Junk"):
                typ, data = imap.select(box, readonly=True)
                self.assertEqual((typ, data[0]), ("OK", b"0"), box)
            imap.logout()
            self.assertIn("outcome=tempfail", t.log())
        except Exception:
            print(t.log()[-6000:], file=sys.stderr)
            raise

if __name__ == "__main__":
    unittest.main()
