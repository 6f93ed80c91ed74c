"""Connection limits that fit an office behind one NAT address, and no AUTH on port 25.

Every client here connects from 127.0.0.1, as a whole office behind one address would.
- Defaults: 12 users x 5 IMAP connections (Thunderbird's default) all log in, and an MTA
  opening 50 SMTP connections at once (Postfix's per-client limit) is served.
- limits.max_unauthenticated_per_ip counts only connections that have not logged in,
  over IMAP, POP3 and submission together; logging in frees the slot.
- limits.max_user_ip_connections limits one user's IMAP connections from one address:
  past it LOGIN answers NO [LIMIT], other users are unaffected.
- The MX listener neither offers nor accepts AUTH unless smtp.auth_on_mx is set.
"""
import imaplib
import smtplib
import ssl
import threading
import time
import unittest

from ternlib import Tern, recv_line, run_ternd_once

DOMAIN = "example.test"


def add_users(t, names):
    p = t.ctl("domain", "add", DOMAIN)
    assert p.returncode == 0, p.stderr
    for name in names:
        p = t.ctl("user", "add", f"{name}@{DOMAIN}", input=f"pw-{name}-123456\n")
        assert p.returncode == 0, p.stderr


def imap_login(t, name):
    c = imaplib.IMAP4(host="127.0.0.1", port=t.port("imap"), timeout=60)
    c.login(f"{name}@{DOMAIN}", f"pw-{name}-123456")
    return c


def greeting(t, listener):
    s = t.connect(listener)
    return s, recv_line(s, timeout=10)


class OfficeDefaults(unittest.TestCase):
    def test_office_behind_one_address_and_a_busy_mta(self):
        users = [f"staff{i}" for i in range(12)]
        with Tern(listeners=("smtp", "imap"), allow_plaintext_without_tls=True) as t:
            add_users(t, users)
            t.start()
            conns, errors = [], []
            lock = threading.Lock()

            def login_five(name):
                for _ in range(5):
                    try:
                        c = imap_login(t, name)
                        c.select("INBOX")
                        with lock:
                            conns.append(c)
                    except Exception as e:  # noqa: BLE001 - reported below
                        with lock:
                            errors.append(f"{name}: {e!r}")

            threads = [threading.Thread(target=login_five, args=(u,)) for u in users]
            for th in threads:
                th.start()
            for th in threads:
                th.join(180)
            self.assertEqual(errors, [])
            self.assertEqual(len(conns), 60)
            # All 60 still work.
            for c in conns:
                self.assertEqual(c.noop()[0], "OK")

            # An MTA opening 50 connections at once gets 50 greetings; the 51st is refused.
            socks = []
            for _ in range(50):
                s, line = greeting(t, "smtp")
                self.assertTrue(line.startswith(b"220 "), line)
                socks.append(s)
            s, line = greeting(t, "smtp")
            self.assertTrue(line.startswith(b"421 4.7.0 "), line)
            s.close()
            self.assertIn("reason=max_per_ip", t.log())
            for s in socks:
                s.close()
            for c in conns:
                c.logout()
            self.assertEqual(t.stop(), 0)


class LoginPool(unittest.TestCase):
    def test_unauthenticated_limit_is_shared_and_released_by_login(self):
        limits = {"limits": {"max_unauthenticated_per_ip": 3}}
        with Tern(listeners=("imap", "pop3", "submission"), allow_plaintext_without_tls=True,
                  sections=limits) as t:
            add_users(t, ["ann", "bob"])
            t.start()
            time.sleep(0.3)  # the readiness probes are closed
            a = imaplib.IMAP4(host="127.0.0.1", port=t.port("imap"), timeout=30)
            b, line_b = greeting(t, "pop3")
            c, line_c = greeting(t, "submission")
            self.assertTrue(line_b.startswith(b"+OK"), line_b)
            self.assertTrue(line_c.startswith(b"220 "), line_c)
            # Three unauthenticated connections from this address: the fourth is refused,
            # whatever the protocol.
            d, line_d = greeting(t, "imap")
            self.assertTrue(line_d.startswith(b"* BYE Too many connections"), line_d)
            d.close()
            e, line_e = greeting(t, "pop3")
            self.assertTrue(line_e.startswith(b"-ERR [SYS/TEMP] Too many"), line_e)
            e.close()
            # The IMAP client logs in: its slot is free for the next client.
            a.login(f"ann@{DOMAIN}", "pw-ann-123456")
            f = imaplib.IMAP4(host="127.0.0.1", port=t.port("imap"), timeout=30)
            g, line_g = greeting(t, "imap")
            self.assertTrue(line_g.startswith(b"* BYE Too many connections"), line_g)
            g.close()
            # POP3 login frees its slot too.
            b.sendall(f"USER bob@{DOMAIN}\r\n".encode())
            self.assertTrue(recv_line(b).startswith(b"+OK"))
            b.sendall(b"PASS pw-bob-123456\r\n")
            self.assertTrue(recv_line(b, timeout=30).startswith(b"+OK"))
            h = imaplib.IMAP4(host="127.0.0.1", port=t.port("imap"), timeout=30)
            self.assertEqual(h.noop()[0], "OK")
            # Closing an unauthenticated connection frees its slot as well.
            f.shutdown()
            h.shutdown()
            deadline = time.monotonic() + 10
            while True:
                s, line = greeting(t, "imap")
                s.close()
                if line.startswith(b"* OK") or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assertTrue(line.startswith(b"* OK"), line)
            a.logout()
            b.close()
            c.close()
            self.assertEqual(t.stop(), 0)


class PerUserPerAddress(unittest.TestCase):
    def test_user_ip_limit_answers_limit_and_spares_other_users(self):
        limits = {"limits": {"max_user_ip_connections": 2}}
        with Tern(listeners=("imap",), allow_plaintext_without_tls=True, sections=limits) as t:
            add_users(t, ["ann", "bob"])
            t.start()
            a1 = imap_login(t, "ann")
            a2 = imap_login(t, "ann")
            third = imaplib.IMAP4(host="127.0.0.1", port=t.port("imap"), timeout=30)
            with self.assertRaises(imaplib.IMAP4.error) as ctx:
                third.login(f"ann@{DOMAIN}", "pw-ann-123456")
            self.assertIn("[LIMIT]", str(ctx.exception))
            # Still connected and not logged in: it may log in as someone else.
            third.login(f"bob@{DOMAIN}", "pw-bob-123456")
            b2 = imap_login(t, "bob")
            self.assertIn("reason=max_user_ip_connections", t.log())
            # One of ann's sessions ends: she may connect again.
            a1.logout()
            deadline = time.monotonic() + 10
            while True:
                try:
                    a3 = imap_login(t, "ann")
                    break
                except imaplib.IMAP4.error:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
            for c in (a2, a3, third, b2):
                c.logout()
            self.assertEqual(t.stop(), 0)


class MxAuth(unittest.TestCase):
    def ehlo_after_starttls(self, t):
        s = smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=30)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("client.example")
        return s

    def test_port_25_offers_no_auth_by_default(self):
        with Tern(listeners=("smtp", "submission")) as t:
            add_users(t, ["ann"])
            t.start()
            s = self.ehlo_after_starttls(t)
            self.assertFalse(s.has_extn("auth"), s.esmtp_features)
            code, msg = s.docmd("AUTH", "PLAIN AGFubkBleGFtcGxlLnRlc3QAcHctYW5uLTEyMzQ1Ng==")
            self.assertEqual(code, 503, msg)
            code, _ = s.docmd("MAIL", "FROM:<ann@example.test>")
            self.assertEqual(code, 250)
            code, msg = s.docmd("RCPT", "TO:<someone@remote.example>")
            self.assertEqual(code, 554, msg)  # never a relay
            s.quit()
            # Submission still offers it.
            s = smtplib.SMTP("127.0.0.1", t.port("submission"), timeout=30)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s.starttls(context=ctx)
            s.ehlo("client.example")
            self.assertTrue(s.has_extn("auth"), s.esmtp_features)
            s.login(f"ann@{DOMAIN}", "pw-ann-123456")
            s.quit()
            self.assertEqual(t.stop(), 0)

    def test_auth_on_mx_when_configured(self):
        with Tern(listeners=("smtp",), sections={"smtp": {"auth_on_mx": True}}) as t:
            add_users(t, ["ann"])
            t.start()
            s = self.ehlo_after_starttls(t)
            self.assertTrue(s.has_extn("auth"), s.esmtp_features)
            s.login(f"ann@{DOMAIN}", "pw-ann-123456")
            s.quit()
            self.assertEqual(t.stop(), 0)


class OldKey(unittest.TestCase):
    def test_replaced_key_is_a_one_line_error_naming_the_new_keys(self):
        with Tern(listeners=("smtp",), sections={"limits": {"max_connections_per_ip": 5}}) as t:
            rc, _, err = run_ternd_once(t.config_path)
            self.assertNotEqual(rc, 0)
            lines = err.strip().splitlines()
            self.assertEqual(len(lines), 1, err)
            self.assertIn("limits.max_connections_per_ip: replaced by "
                          "limits.max_unauthenticated_per_ip", lines[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
