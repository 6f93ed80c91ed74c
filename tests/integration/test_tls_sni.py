#!/usr/bin/python3
"""Several certificates, chosen by the name the client asks for (SNI, RFC 6066 §3; issue 14):
[tls] cert/key stay the default, each [[tls.sni]] certificate answers the names it covers
(subjectAltName, wildcards). Checked with openssl s_client -servername (STARTTLS on SMTP
submission) and Python's ssl (implicit TLS on IMAPS): the certificate presented is compared
byte for byte with the files; SIGHUP reloads every one; a bad [[tls.sni]] entry is a
one-line config error naming it."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import Tern, cert_der, make_cert, ternd_path  # noqa: E402


def presented(port, server_name):
    """DER of the certificate ternd presents on implicit TLS for this server name (None:
    no SNI extension at all)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as s:
            return s.getpeercert(binary_form=True)


def s_client_der(port, server_name):
    """The certificate openssl s_client sees after STARTTLS on SMTP, as DER."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", "smtp",
                        "-servername", server_name],
                       input=b"QUIT\r\n", capture_output=True, timeout=30)
    x = subprocess.run(["openssl", "x509", "-outform", "DER"], input=p.stdout, capture_output=True, timeout=30)
    if x.returncode != 0:
        raise AssertionError(f"no certificate from s_client: {p.stderr.decode(errors='replace')[-500:]}")
    return x.stdout


class Sni(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.extra = tempfile.mkdtemp(prefix="tern-sni-")
        cls.b_cert, cls.b_key = make_cert(cls.extra, "mail.b.test", name="b", san="DNS:mail.b.test,DNS:*.b.test")
        cls.c_cert, cls.c_key = make_cert(cls.extra, "mail.c.test", name="c")
        toml = "".join(f'\n[[tls.sni]]\ncert = "{c}"\nkey = "{k}"\n'
                       for c, k in ((cls.b_cert, cls.b_key), (cls.c_cert, cls.c_key)))
        cls.t = Tern(listeners=("imaps", "submission"), extra_toml=toml)
        try:
            cls.t.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.t.cleanup()
        shutil.rmtree(cls.extra, ignore_errors=True)

    def test_each_name_gets_its_certificate(self):
        imaps = self.t.port("imaps")
        default, b, c = cert_der(self.t.cert), cert_der(self.b_cert), cert_der(self.c_cert)
        self.assertEqual(presented(imaps, "mail.b.test"), b)
        self.assertEqual(presented(imaps, "other.b.test"), b)  # the wildcard name
        self.assertEqual(presented(imaps, "mail.c.test"), c)
        self.assertEqual(presented(imaps, "localhost"), default)
        self.assertEqual(presented(imaps, "unknown.test"), default)  # no certificate covers it
        self.assertEqual(presented(imaps, None), default)  # a client that sends no name
        sub = self.t.port("submission")
        self.assertEqual(s_client_der(sub, "mail.c.test"), c)
        self.assertEqual(s_client_der(sub, "localhost"), default)

    def test_zz_sighup_reloads_every_certificate(self):
        imaps = self.t.port("imaps")
        old = cert_der(self.b_cert)
        make_cert(self.extra, "mail.b.test", name="b", san="DNS:mail.b.test,DNS:*.b.test")
        new = cert_der(self.b_cert)
        self.assertNotEqual(old, new)
        mark = len(self.t.log())
        self.t.signal(signal.SIGHUP)
        self.assertTrue(self.t.wait_log(r"certificate reloaded .*and 2 offered by server name", start=mark),
                        self.t.log()[-2000:])
        self.assertEqual(presented(imaps, "mail.b.test"), new)
        self.assertEqual(presented(imaps, "localhost"), cert_der(self.t.cert))

    def test_bad_sni_entry_is_a_one_line_error(self):
        with Tern(listeners=("imaps",), extra_toml=f'\n[[tls.sni]]\ncert = "{self.b_cert}"\n') as t:
            p = subprocess.run([t.ternd or ternd_path(), *t.config_args(), "--check"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("tls.sni[0].key: required", p.stderr)
            self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)
        missing = os.path.join(self.extra, "missing.pem")
        with Tern(listeners=("imaps",), extra_toml=f'\n[[tls.sni]]\ncert = "{missing}"\nkey = "{self.b_key}"\n') as t:
            p = subprocess.run([t.ternd or ternd_path(), *t.config_args(), "--check"], capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("tls.sni[0].cert: cannot read " + missing, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
