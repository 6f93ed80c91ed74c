#!/usr/bin/python3
"""`ternctl dns DOMAIN` and `ternctl check DOMAIN` (issue 14): the records a domain needs, and
what a DNS server on loopback (dnslib) says of a good and a broken zone. The printed zone
lines are parsed by dnslib's zone parser as an independent check of their syntax; the DKIM
record is the one `ternctl dkim generate` made. ternd itself need not run: ternctl reads the
config ([dns] servers, hostname, [listen], [screen] blocklists) and data_dir.
Debian: python3-dnslib."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from dnslib import PTR, QTYPE, RR, SRV  # noqa: E402
from relay_harness import ZoneDns  # noqa: E402
from ternlib import Tern, make_cert  # noqa: E402

HOST = "mx.example.test"
ADDR = "192.0.2.10"


class DnsCheck(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = ZoneDns({
            "good.test": [("MX", (10, HOST + ".")), ("TXT", f"v=spf1 ip4:{ADDR} -all")],
            "_dmarc.good.test": [("TXT", "v=DMARC1; p=reject; rua=mailto:postmaster@good.test")],
            "_smtp._tls.good.test": [("TXT", "v=TLSRPTv1; rua=mailto:postmaster@good.test")],
            HOST: [("A", ADDR)],
            "10.2.0.192.in-addr.arpa": [("PTR", PTR(HOST + "."))],
            # Broken: the MX names another host, SPF forgets our address, no DKIM record, and
            # the DMARC name never answers (a dead server for that name).
            "broken.test": [("MX", (10, "old-server.example.")), ("TXT", "v=spf1 ip4:198.51.100.1 ~all")],
            "10.2.0.192.bl.test": [("A", "127.0.0.2")],
        }, silent=("_dmarc.broken.test",))
        cls.t = Tern(listeners=("smtp", "submissions", "imaps"), hostname=HOST,
                     sections={"dns": {"servers": [f"127.0.0.1:{cls.dns.port}"]}})
        try:
            for d in ("good.test", "broken.test"):
                cls.ok("domain", "add", d)
            out = cls.ok("dkim", "generate", "good.test", "--selector", "s1", "--algorithm", "ed25519")
            value = [line[len("value: "):] for line in out.splitlines() if line.startswith("value: ")][0]
            cls.dns.zone["s1._domainkey.good.test."] = [("TXT", value)]
            cls.ok("dkim", "generate", "broken.test")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.t.cleanup()
        cls.dns.close()

    @classmethod
    def ok(cls, *args):
        p = cls.t.ctl(*args)
        if p.returncode != 0:
            raise AssertionError(f"ternctl {' '.join(args)}: {p.stderr}")
        return p.stdout

    def test_dns_prints_valid_zone_lines_for_everything(self):
        out = self.ok("dns", "good.test", "--ip", ADDR)
        records = {}
        for line in out.splitlines():
            if line and not line.startswith(";"):
                (rr,) = RR.fromZone(line)  # dnslib's zone parser: one record per line
                records.setdefault((str(rr.rname), rr.rtype), []).append(rr)
        def values(name, kind):
            return [rr.rdata for rr in records.get((name, getattr(QTYPE, kind)), [])]
        self.assertEqual([str(v.label) for v in values("good.test.", "MX")], [HOST + "."])
        txt = [b"".join(v.data).decode() for v in values("good.test.", "TXT")]
        self.assertEqual(txt, [f"v=spf1 ip4:{ADDR} -all"])
        dkim = b"".join(values("s1._domainkey.good.test.", "TXT")[0].data).decode()
        self.assertEqual(dkim, self.dns.zone["s1._domainkey.good.test."][0][1])
        self.assertTrue(b"".join(values("_dmarc.good.test.", "TXT")[0].data).startswith(b"v=DMARC1; p="))
        srv = values("_submissions._tcp.good.test.", "SRV")[0]
        self.assertEqual((srv.port, str(srv.target)), (self.t.port("submissions"), HOST + "."))
        self.assertEqual(str(values("_pop3s._tcp.good.test.", "SRV")[0].target), ".")  # not offered
        self.assertEqual(str(values("10.2.0.192.in-addr.arpa.", "PTR")[0]), HOST + ".")
        self.assertEqual(str(values(HOST + ".", "A")[0]), ADDR)

    def test_check_good_domain_passes(self):
        p = self.t.ctl("check", "good.test")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"ok\tSPF of good.test passes for {ADDR}", p.stdout)
        self.assertIn("ok\tDKIM key s1._domainkey.good.test matches data_dir", p.stdout)
        self.assertIn(f"ok\treverse DNS of {ADDR} is {HOST} and leads back to it", p.stdout)
        self.assertIn("ok\tDMARC policy of good.test is p=reject", p.stdout)
        self.assertTrue(p.stdout.endswith("no problems found\n"), p.stdout)

    def test_check_broken_domain_names_each_problem(self):
        started = time.monotonic()
        p = self.t.ctl("check", "broken.test", "--ip", ADDR)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("FAIL\tMX of broken.test points to old-server.example, not to this server", p.stdout)
        self.assertIn(f"FAIL\tSPF of broken.test gives softfail for {ADDR}, the address this server sends "
                      f"from: add ip4:{ADDR}", p.stdout)
        self.assertIn("FAIL\tDKIM record tern._domainkey.broken.test is missing", p.stdout)
        self.assertIn("warn\tcould not look up _dmarc.broken.test", p.stdout)  # a timeout, not a hang
        self.assertLess(time.monotonic() - started, 40)

    def test_check_reports_blocklisting(self):
        t = Tern(listeners=("smtp",), hostname=HOST,
                 sections={"dns": {"servers": [f"127.0.0.1:{self.dns.port}"]}, "screen": {"dnsbl": ["bl.test 5"]}})
        try:
            self.assertEqual(t.ctl("domain", "add", "good.test").returncode, 0)
            p = t.ctl("check", "good.test")
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn(f"FAIL\t{ADDR} is listed on bl.test (127.0.0.2)", p.stdout)
        finally:
            t.cleanup()

    def test_check_follows_mta_sts_and_client_names_to_this_server(self):
        # ternd serves the MTA-STS policy on its https listener; `ternctl check` resolves
        # mta-sts.web.test through the test's DNS and fetches the policy over HTTPS, verifying
        # the certificate, as a sending server would (RFC 8461 §3.3).
        t = Tern(listeners=("smtp", "submissions", "imaps", "https"), hostname=HOST,
                 sections={"dns": {"servers": [f"127.0.0.1:{self.dns.port}"]},
                           "mta_sts": {"mode": "enforce", "max_age": 86400}})
        try:
            sts_cert, sts_key = make_cert(t.dir, "mta-sts.web.test", name="sts")
            t.extra_toml = f'[[tls.sni]]\ncert = "{sts_cert}"\nkey = "{sts_key}"\n'
            t.write_config()
            t.start()
            self.assertEqual(t.ctl("domain", "add", "web.test").returncode, 0)
            txt = [line.split(" TXT ", 1)[1].strip('"') for line in t.ctl("dns", "web.test").stdout.splitlines()
                   if line.startswith("_mta-sts.web.test.")]
            self.assertEqual(len(txt), 1)
            self.dns.zone.update({
                "_mta-sts.web.test.": [("TXT", txt[0])],
                "mta-sts.web.test.": [("A", "127.0.0.1")],
                "autoconfig.web.test.": [("A", "127.0.0.1")],
                "_imaps._tcp.web.test.": [("SRV", SRV(0, 1, t.port("imaps"), HOST + "."))],
                "_submissions._tcp.web.test.": [("SRV", SRV(0, 1, 587, HOST + "."))],
            })
            args = ("check", "web.test", "--ip", "127.0.0.1", "--https-port", str(t.port("https")))
            p = t.ctl(*args, "--cafile", sts_cert)
            self.assertIn("ok\tMTA-STS record at _mta-sts.web.test has the served policy's id", p.stdout)
            self.assertIn("ok\tmta-sts.web.test reaches this server (127.0.0.1)", p.stdout)
            self.assertIn("ok\tMTA-STS policy at https://mta-sts.web.test/.well-known/mta-sts.txt is mode enforce "
                          "and names this server", p.stdout)
            self.assertIn("ok\tautoconfig.web.test reaches this server", p.stdout)
            self.assertIn("warn\tautodiscover.web.test does not exist", p.stdout)
            self.assertIn(f"ok\t_imaps._tcp.web.test points to {HOST}:{t.port('imaps')}", p.stdout)
            self.assertIn(f"FAIL\t_submissions._tcp.web.test points to {HOST}:587, not to this server "
                          f"({HOST}:{t.port('submissions')})", p.stdout)
            # A certificate the sender cannot verify: the policy does not count.
            p = t.ctl(*args, "--cafile", t.cert)
            self.assertIn("FAIL\tcould not fetch https://mta-sts.web.test/.well-known/mta-sts.txt", p.stdout)
            self.assertEqual(p.returncode, 1)
        finally:
            t.cleanup()

    def test_bad_input_is_a_one_line_error(self):
        for args, text in ((("check", "elsewhere.test"), "elsewhere.test is not a local domain"),
                           (("dns", "good.test", "--ip", "not-an-ip"), "not an IP address: not-an-ip")):
            p = self.t.ctl(*args)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
            self.assertIn(text, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
