#!/usr/bin/python3
"""DMARC aggregate reports (RFC 7489 §7.2, §7.1), end to end: ternd's MX checks mail from
several 127.0.0.x addresses against a loopback DNS server (dnslib) serving the sender
domains' SPF, DKIM (messages signed with dkimpy) and DMARC records with rua=; `ternctl dmarc
report --send-now` makes ternd send; an aiosmtpd sink (the rua domains' MX) receives one report
per authorised domain and none for the domain whose external rua= is not authorised by a
_report._dmarc record. The gzip'd XML is parsed with xml.etree and its counts, addresses,
dispositions and auth results compared with what was sent; the report's DKIM signature is
verified with dkimpy against the key `ternctl dkim generate` made and the test DNS serves.
Debian: python3-aiosmtpd, python3-dnslib, python3-dkim."""
import email
import email.policy
import gzip
import os
import re
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import dkim

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern, TernCase, free_port  # noqa: E402
from relay_harness import Sink, ZoneDns, wait_until  # noqa: E402
from smtp_fixture import ctl_ok, populate  # noqa: E402

BOB = "bob@example.test"
SINK = "127.0.0.11"
RUA = "mailto:dmarc@reports.example"


def make_key(directory):
    """A 1024-bit RSA key: (private PEM bytes, base64 public key for p=)."""
    path = os.path.join(directory, "sender.pem")
    subprocess.run(["openssl", "genrsa", "-out", path, "1024"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    with open(path, "rb") as f:
        return f.read(), base64.b64encode(der).decode()


class DmarcReports(TernCase):
    @classmethod
    def make_tern(cls):
        keydir = tempfile.mkdtemp(prefix="tern-dmarc-")
        cls.sender_key, sender_pub = make_key(keydir)
        subprocess.run(["rm", "-rf", keydir], check=True)
        cls.dns = ZoneDns({
            "auth.test": [("TXT", "v=spf1 ip4:127.0.0.2 -all")],
            "_dmarc.auth.test": [("TXT", f"v=DMARC1; p=none; rua={RUA}")],
            "sel._domainkey.auth.test": [("TXT", "v=DKIM1; k=rsa; p=" + sender_pub)],
            # RFC 7489 §7.1: reports.example agrees to receive auth.test's reports ...
            "auth.test._report._dmarc.reports.example": [("TXT", "v=DMARC1")],
            # ... but not unauth.test's.
            "unauth.test": [("TXT", "v=spf1 ip4:127.0.0.2 -all")],
            "_dmarc.unauth.test": [("TXT", f"v=DMARC1; p=none; rua={RUA}")],
            # Authorised, but its "!size" limit is below any report: skipped.
            "big.test": [("TXT", "v=spf1 ip4:127.0.0.2 -all")],
            "_dmarc.big.test": [("TXT", "v=DMARC1; p=none; rua=mailto:small@reports.example!1k")],
            "big.test._report._dmarc.reports.example": [("TXT", "v=DMARC1")],
            # Same organizational domain: no authorisation needed.
            "quar.test": [("TXT", "v=spf1 ip4:127.0.0.2 -all"), ("MX", (10, "mx.reports.example."))],
            "_dmarc.quar.test": [("TXT", "v=DMARC1; p=quarantine; rua=mailto:agg@quar.test")],
            "reports.example": [("MX", (10, "mx.reports.example."))],
            "mx.reports.example": [("A", SINK)],
        })
        cls.addClassCleanup(cls.dns.close)
        port = free_port()
        server = f"127.0.0.1:{cls.dns.port}"
        cls.sink = Sink(SINK, port, behaviour=Sink.accept)
        cls.addClassCleanup(cls.sink.stop)
        return Tern(listeners=("smtp",), allow_plaintext_without_tls=True,
                    sections={"dns": {"servers": [server]},
                              "relay": {"dns": [server], "smtp_port": port,
                                        "retry_schedule": [1, 1, 2], "connect_timeout": 5},
                              "inbound_auth": {"spf": "enforce", "dkim": "enforce",
                                               "dmarc": "enforce", "iprev": "off", "timeout": 2}})

    @classmethod
    def prepare(cls, t):
        populate(t)
        # dmarc_reports.enabled = "auto": on because our domain (example.test, from the
        # hostname mail.example.test) has a DKIM key. Its public half goes into the test zone.
        out = ctl_ok(t, "dkim", "generate", "example.test", "--selector", "rep")
        value = re.search(r"^value: (.*)$", out, re.M).group(1)
        cls.dns.zone["rep._domainkey.example.test."] = [("TXT", value)]

    def send(self, octet, mail_from, from_header, subject, sign=False):
        msg = (f"From: <{from_header}>\r\nTo: <{BOB}>\r\nSubject: {subject}\r\n"
               f"Message-ID: <{subject.replace(' ', '-')}@test>\r\n\r\nHello.\r\n").encode()
        if sign:
            msg = dkim.sign(msg, b"sel", b"auth.test", self.sender_key,
                            include_headers=[b"from", b"to", b"subject", b"message-id"]) + msg
        with smtplib.SMTP("127.0.0.1", self.t.port("smtp"), local_hostname=f"out{octet}.test",
                          timeout=30, source_address=(f"127.0.0.{octet}", 0)) as c:
            c.ehlo()
            code, _ = c.mail(f"<{mail_from}>")
            self.assertEqual(code, 250)
            self.assertEqual(c.rcpt(BOB)[0], 250)
            self.assertEqual(c.data(msg)[0], 250)

    def reports_for(self, domain):
        return [m for m in self.sink.messages if f"Report Domain: {domain} ".encode() in m[2]]

    def parse_report(self, raw):
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        parts = [p for p in msg.walk() if p.get_content_type() == "application/gzip"]
        self.assertEqual(len(parts), 1)
        data = gzip.decompress(parts[0].get_payload(decode=True))
        return msg, parts[0].get_filename(), ET.fromstring(data)

    def test_reports_go_to_authorised_destinations_only(self):
        self.assertIn("dmarc reports on from=noreply-dmarc@example.test", self.t.log())
        # auth.test: twice SPF+DKIM pass from .2, once both failing from .3 (p=none).
        self.send(2, "a@auth.test", "a@auth.test", "signed one", sign=True)
        self.send(2, "a@auth.test", "a@auth.test", "signed two", sign=True)
        self.send(3, "a@auth.test", "a@auth.test", "forged")
        self.send(2, "x@unauth.test", "x@unauth.test", "unauthorised rua")
        self.send(3, "q@quar.test", "q@quar.test", "quarantined")
        self.send(2, "b@big.test", "b@big.test", "too big a report")

        # Recorded (batched: within about a second) and shown by ternctl.
        def shown():
            out = ctl_ok(self.t, "dmarc", "report", "--show")
            return all(f"{d}\t" in out for d in ("auth.test", "unauth.test", "quar.test", "big.test")) and out
        out = wait_until(shown, "the rows in ternctl dmarc report --show")
        self.assertRegex(out, r"auth\.test\t.*rows=2\tmessages=3\tp=none\trua=mailto:dmarc@reports\.example")
        self.assertIn("\t127.0.0.2\tcount=2\tdisposition=none\tdkim=pass\tspf=pass", out)

        ctl_ok(self.t, "dmarc", "report", "--send-now")
        wait_until(lambda: self.reports_for("auth.test") and self.reports_for("quar.test"),
                 "the reports at the sink")
        self.assertIsNotNone(self.t.wait_log(
            r"dmarc-report skipped domain=unauth\.test to=dmarc@reports\.example"))
        self.assertIsNotNone(self.t.wait_log(
            r"dmarc-report skipped domain=big\.test to=small@reports\.example reason=\"\d+ bytes "
            r"over the !size limit of 1024\""))
        time.sleep(0.5)
        self.assertEqual(len(self.reports_for("auth.test")), 1)
        self.assertEqual(self.reports_for("unauth.test"), [])
        self.assertEqual(len(self.sink.messages), 2)

        # auth.test's report.
        (mail_from, rcpts, raw), = self.reports_for("auth.test")
        self.assertEqual(rcpts, ["dmarc@reports.example"])
        self.assertEqual(mail_from, "noreply-dmarc@example.test")
        # Our DKIM signature, checked against the key the test DNS serves.
        self.assertTrue(dkim.verify(raw, dnsfunc=lambda name, timeout=5: self.dns.txt(name)))
        self.assertIn(b"d=example.test", raw.split(b"\r\n\r\n", 1)[0])
        msg, filename, root = self.parse_report(raw)
        self.assertEqual(msg["From"], "noreply-dmarc@example.test")
        # RFC 7489 §7.2.1.1 subject and file name.
        subject = re.fullmatch(r"Report Domain: auth\.test Submitter: example\.test "
                               r"Report-ID: <([^<>@\s]+@example\.test)>", msg["Subject"])
        self.assertIsNotNone(subject, msg["Subject"])
        meta = root.find("report_metadata")
        self.assertEqual(meta.findtext("report_id"), subject.group(1))
        self.assertEqual(meta.findtext("email"), "noreply-dmarc@example.test")
        self.assertEqual(meta.findtext("org_name"), "example.test")
        begin, end = int(meta.findtext("date_range/begin")), int(meta.findtext("date_range/end"))
        self.assertLessEqual(begin, time.time())
        self.assertLess(begin, end)
        self.assertEqual(filename, f"example.test!auth.test!{begin}!{end}.xml.gz")
        self.assertEqual(root.findtext("version"), "1.0")
        pol = root.find("policy_published")
        self.assertEqual([pol.findtext(k) for k in ("domain", "adkim", "aspf", "p", "sp", "pct")],
                         ["auth.test", "r", "r", "none", "none", "100"])
        records = {r.findtext("row/source_ip"): r for r in root.findall("record")}
        self.assertEqual(set(records), {"127.0.0.2", "127.0.0.3"})
        good, bad = records["127.0.0.2"], records["127.0.0.3"]
        self.assertEqual(good.findtext("row/count"), "2")
        self.assertEqual(bad.findtext("row/count"), "1")
        for rec, verdict in ((good, "pass"), (bad, "fail")):
            self.assertEqual(rec.findtext("row/policy_evaluated/disposition"), "none")
            self.assertEqual(rec.findtext("row/policy_evaluated/dkim"), verdict)
            self.assertEqual(rec.findtext("row/policy_evaluated/spf"), verdict)
            self.assertEqual(rec.findtext("identifiers/header_from"), "auth.test")
            self.assertEqual(rec.findtext("identifiers/envelope_from"), "auth.test")
            self.assertEqual(rec.findtext("identifiers/envelope_to"), "example.test")
            spf = rec.find("auth_results/spf")
            self.assertEqual([spf.findtext(k) for k in ("domain", "scope", "result")],
                             ["auth.test", "mfrom", verdict])
        dk = good.find("auth_results/dkim")
        self.assertEqual([dk.findtext(k) for k in ("domain", "selector", "result")],
                         ["auth.test", "sel", "pass"])
        self.assertIsNone(bad.find("auth_results/dkim"))

        # quar.test: SPF fail from .3, p=quarantine applied (filed in Junk).
        (_, rcpts, raw), = self.reports_for("quar.test")
        self.assertEqual(rcpts, ["agg@quar.test"])
        _, _, root = self.parse_report(raw)
        (rec,) = root.findall("record")
        self.assertEqual(rec.findtext("row/source_ip"), "127.0.0.3")
        self.assertEqual(rec.findtext("row/policy_evaluated/disposition"), "quarantine")
        self.assertEqual(rec.findtext("auth_results/spf/result"), "fail")

        # Sent (or with nowhere to go): nothing pending any more, nothing sent twice.
        self.assertEqual(ctl_ok(self.t, "dmarc", "report", "--show").strip(), "")
        ctl_ok(self.t, "dmarc", "report", "--send-now")
        time.sleep(1.0)
        self.assertEqual(len(self.sink.messages), 2)
        log = self.t.log()
        self.assertFalse("Sanitizer" in log or "runtime error:" in log, log[-4000:])


if __name__ == "__main__":
    unittest.main()
