#!/usr/bin/python3
"""ternd as an operator and a client see it: listening, TLS, start-up errors, the data_dir
lock, signals (SIGTERM shutdown, SIGHUP certificate reload), connection limits."""
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ternlib import (IMPLICIT_TLS, LISTENERS, Tern, cert_der, client_tls_context,  # noqa: E402
                     recv_line, recv_until, run_ternd_once)

# The greeting of each protocol's service (every listener has its service).
GREETING = {
    "smtp": re.compile(rb"^220 "),
    "imap": re.compile(rb"^\* OK\b"),
    "pop3": re.compile(rb"^\+OK\b"),
}
PROTOCOL = {"smtp": "smtp", "submission": "smtp", "submissions": "smtp", "imap": "imap",
            "imaps": "imap", "pop3": "pop3", "pop3s": "pop3"}


class Daemon(unittest.TestCase):
    def test_starts_listens_and_greets_on_every_listener(self):
        with Tern() as t:
            t.start()
            for name in LISTENERS:
                with self.subTest(listener=name):
                    if name in IMPLICIT_TLS:
                        s = t.connect_tls(name)
                        self.assertIn(s.version(), ("TLSv1.2", "TLSv1.3"))
                    else:
                        s = t.connect(name)
                    line = recv_line(s)
                    s.close()
                    self.assertRegex(line, GREETING[PROTOCOL[name]])
                    self.assertTrue(line.endswith(b"\r\n"), line)
            log = t.log()
            for name in LISTENERS:
                self.assertIn(f"listening proto={name} addr=127.0.0.1:{t.port(name)}", log)
            self.assertRegex(log, r"conn open proto=imaps ip=127\.0\.0\.1 port=\d+")
            self.assertRegex(log, r"conn close proto=imaps ip=127\.0\.0\.1 duration_ms=\d+")
            self.assertEqual(t.stop(), 0)

    def test_implicit_tls_with_openssl_s_client(self):
        with Tern(listeners=("imaps", "pop3s", "submissions")) as t:
            t.start()
            for name in IMPLICIT_TLS:
                with self.subTest(listener=name):
                    p = subprocess.run(
                        ["openssl", "s_client", "-connect", f"127.0.0.1:{t.port(name)}",
                         "-servername", "localhost", "-CAfile", t.cert, "-verify_return_error"],
                        input="", capture_output=True, text=True, timeout=30)
                    out = p.stdout + p.stderr
                    self.assertRegex(out, r"New, TLSv1\.[23], Cipher is ", out)
                    self.assertIn("Verify return code: 0 (ok)", out)
                    self.assertRegex(out, r"CN ?= ?localhost")
            self.assertEqual(t.stop(), 0)

    def test_tls_below_1_2_is_refused(self):
        with Tern(listeners=("imaps",)) as t:
            t.start()
            ctx = client_tls_context()
            try:
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    ctx.minimum_version = ssl.TLSVersion.TLSv1
                    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            except (ValueError, ssl.SSLError) as e:
                self.skipTest(f"this Python/OpenSSL cannot speak TLS 1.1: {e}")
            with self.assertRaises((ssl.SSLError, OSError)):
                t.connect_tls("imaps", context=ctx).close()
            # A modern client still gets in afterwards.
            s = t.connect_tls("imaps")
            self.assertRegex(recv_line(s), GREETING["imap"])
            s.close()
            self.assertEqual(t.stop(), 0)

    def test_sigterm_exits_zero_promptly(self):
        with Tern(listeners=("smtp", "imaps")) as t:
            t.start()
            # A client mid-handshake must not hold up the shutdown past the grace period.
            idle = t.connect("imaps")
            begin = time.monotonic()
            rc = t.stop(timeout=20)
            elapsed = time.monotonic() - begin
            idle.close()
            self.assertEqual(rc, 0, t.log())
            self.assertLess(elapsed, 10.0)
            self.assertIn("shutdown requested by SIGTERM", t.log())
            self.assertIn("ternd stopped", t.log())
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", t.port("smtp")), timeout=2).close()

    def test_second_instance_on_same_data_dir_is_refused(self):
        with Tern(listeners=("smtp",)) as first:
            first.start()
            # Same data_dir, different port: only the lock can stop it.
            with Tern(listeners=("smtp",)) as second:
                second.data_dir = first.data_dir
                second.write_config()
                rc, out, err = run_ternd_once(second.config_path)
                self.assertEqual(rc, 1)
                self.assertEqual(err.strip().splitlines(), [
                    f"data_dir {first.data_dir} is in use by another ternd (pid {first.pid})"])
            # The first one is unaffected, and once it stops the data_dir is free again.
            s = first.connect("smtp")
            self.assertRegex(recv_line(s), GREETING["smtp"])
            s.close()
            self.assertEqual(first.stop(), 0)
            first.start()
            self.assertEqual(first.stop(), 0)

    def test_sighup_reloads_certificate(self):
        with Tern(listeners=("imaps",)) as t:
            t.start()
            old = cert_der(t.cert)
            s = t.connect_tls("imaps")
            self.assertEqual(s.getpeercert(binary_form=True), old)
            s.close()

            new_path = t.replace_cert("reloaded.localhost")
            new = cert_der(new_path)
            self.assertNotEqual(new, old)
            mark = len(t.log())
            t.signal(signal.SIGHUP)
            self.assertTrue(t.wait_log(r"certificate reloaded", start=mark), t.log())
            s = t.connect_tls("imaps")
            self.assertEqual(s.getpeercert(binary_form=True), new)
            s.close()

            # A broken key: the reload fails, says why, and the current certificate stays.
            with open(t.key, "w") as f:
                f.write("not a key\n")
            mark = len(t.log())
            t.signal(signal.SIGHUP)
            m = t.wait_log(r"certificate reload failed.*tls\.key: .*", start=mark)
            self.assertTrue(m, t.log())
            s = t.connect_tls("imaps")
            self.assertEqual(s.getpeercert(binary_form=True), new)
            s.close()
            self.assertEqual(t.stop(), 0)

    def test_connection_limit_per_ip_sends_busy_reply(self):
        # The MX listener counts its own connections per address (a TLS listener's do not
        # count here: they are in the login pool).
        limits = {"limits": {"smtp_max_connections_per_ip": 1}}
        with Tern(listeners=("smtp", "imaps"), sections=limits) as t:
            t.start()
            # Let the readiness probes finish (no connection open for 300 ms).
            deadline = time.monotonic() + 10
            quiet_since = None
            while time.monotonic() < deadline:
                log = t.log()
                if log.count("conn open") == log.count("conn close"):
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since > 0.3:
                        break
                else:
                    quiet_since = None
                time.sleep(0.05)
            mark = len(t.log())
            other = t.connect_tls("imaps")  # another pool: not counted against smtp
            self.assertTrue(recv_line(other).startswith(b"* OK"))
            held = t.connect("smtp")  # counts from accept on
            self.assertTrue(recv_line(held).startswith(b"220 "))
            s = t.connect("smtp")
            reply = recv_until(s, lambda d: False, timeout=5)
            s.close()
            self.assertTrue(reply.startswith(b"421 4.7.0 "), reply)
            self.assertIn("reason=max_per_ip", t.log())
            held.close()
            other.close()
            # Once the held connection is gone, the next one is served again.
            self.assertTrue(t.wait_log(r"conn close proto=smtp", start=mark))
            ok = False
            for _ in range(50):
                s = t.connect("smtp")
                line = recv_line(s)
                s.close()
                if not line.startswith(b"421 4.7.0 Too many"):
                    ok = True
                    break
                time.sleep(0.1)
            self.assertTrue(ok)
            self.assertEqual(t.stop(), 0)


class StartupErrors(unittest.TestCase):
    def assert_one_line_error(self, t, expected):
        rc, out, err = run_ternd_once(t.config_path)
        self.assertNotEqual(rc, 0)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        if isinstance(expected, str):
            self.assertEqual(lines[0], expected)
        else:
            self.assertRegex(lines[0], expected)
        return lines[0]

    def test_missing_config_file(self):
        with Tern(listeners=("smtp",)) as t:
            missing = os.path.join(t.dir, "nope.toml")
            rc, out, err = run_ternd_once(missing)
            self.assertEqual(rc, 1)
            lines = err.strip().splitlines()
            self.assertEqual(len(lines), 1, err)
            self.assertTrue(lines[0].startswith(missing + ": "), lines[0])

    def test_unknown_key(self):
        with Tern(listeners=("smtp",), extra_toml="[limits]\nmax_conections = 5\n") as t:
            self.assert_one_line_error(t, f"{t.config_path}: limits.max_conections: unknown key")

    def test_unreadable_certificate(self):
        with Tern(listeners=("smtp", "imaps")) as t:
            missing = os.path.join(t.dir, "missing.pem")
            t.cert = missing
            t.write_config()
            self.assert_one_line_error(
                t, f"{t.config_path}: tls.cert: cannot read {missing}: No such file or directory")

    def test_key_not_matching_certificate(self):
        with Tern(listeners=("imaps",)) as t:
            from ternlib import make_cert
            _, other_key = make_cert(t.dir, "other", name="other")
            t.key = other_key
            t.write_config()
            self.assert_one_line_error(
                t, re.compile(re.escape(f"{t.config_path}: tls.key: {other_key} does not match")))

    def test_implicit_tls_listener_without_certificate(self):
        with Tern(listeners=("smtp", "pop3s"), tls=False) as t:
            self.assert_one_line_error(t, f"{t.config_path}: tls.cert: required by listen.pop3s")

    @unittest.skipUnless(os.geteuid() == 0, "needs root to drop privileges")
    def test_runs_as_configured_user_with_data_dir_made_by_root(self):
        import imaplib
        import pwd
        import smtplib
        nobody = pwd.getpwnam("nobody")
        with Tern() as t:
            t.write_config('user = "nobody"\n' + t.config_text())
            os.chmod(t.dir, 0o755)  # the service user must reach data_dir and the certificate
            blocked = [d for d in parents(t.dir) if not os.stat(d).st_mode & 0o001]
            if blocked:  # TMPDIR inside a private directory: not something ternd can fix
                self.skipTest(f"nobody cannot reach the test directory: {blocked[0]} is o-x")
            # The usual order: the admin (root) creates accounts before the first start.
            for args, pw in ((("domain", "add", "example.test"), None),
                             (("user", "add", "a@example.test"), "pw-a-123456")):
                p = t.ctl(*args, input=pw and pw + "\n")
                self.assertEqual(p.returncode, 0, p.stderr)
            # A file root made by hand in data_dir (a restored backup, say) is handed over too.
            stray = os.path.join(t.data_dir, "restored.txt")
            with open(stray, "w") as f:
                f.write("x")
            t.start()
            with open(f"/proc/{t.pid}/status") as f:
                ids = {l.split(":")[0]: l.split()[1:] for l in f if l.startswith(("Uid", "Gid"))}
            self.assertEqual(ids["Uid"], [str(nobody.pw_uid)] * 4)
            self.assertEqual(ids["Gid"], [str(nobody.pw_gid)] * 4)
            self.assertEqual(os.stat(stray).st_uid, nobody.pw_uid)
            # ternctl run by root while ternd runs: the new user's files are ternd's too.
            p = t.ctl("user", "add", "b@example.test", input="pw-b-123456\n")
            self.assertEqual(p.returncode, 0, p.stderr)
            with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=30) as s:
                refused = s.sendmail("x@outside.test", ["a@example.test", "b@example.test"],
                                     b"Subject: hi\r\n\r\nbody\r\n")
            self.assertEqual(refused, {})
            for user, pw in (("a@example.test", "pw-a-123456"), ("b@example.test", "pw-b-123456")):
                c = imaplib.IMAP4_SSL("127.0.0.1", t.port("imaps"),
                                      ssl_context=client_tls_context(), timeout=30)
                c.login(user, pw)
                self.assertEqual(c.select("INBOX"), ("OK", [b"1"]))
                self.assertEqual(c.create("Projects")[0], "OK")
                c.logout()
            for root, dirs, files in os.walk(t.data_dir):
                for name in dirs + files:
                    path = os.path.join(root, name)
                    self.assertEqual(os.lstat(path).st_uid, nobody.pw_uid, path)
            self.assertEqual(t.stop(), 0)

    def test_port_in_use(self):
        with Tern(listeners=("smtp",)) as t:
            blocker = socket.socket()
            blocker.bind(("127.0.0.1", 0))
            blocker.listen(1)
            t.ports["smtp"] = blocker.getsockname()[1]
            t.write_config()
            try:
                self.assert_one_line_error(t, re.compile(
                    re.escape(f"{t.config_path}: listen.smtp: cannot listen on 127.0.0.1:") +
                    r"\d+: .*in use"))
            finally:
                blocker.close()


def parents(path):
    """The directories above `path`, outermost first."""
    path = os.path.abspath(path)
    out = []
    while os.path.dirname(path) != path:
        path = os.path.dirname(path)
        out.append(path)
    return out[::-1]


if __name__ == "__main__":
    unittest.main(verbosity=2)
