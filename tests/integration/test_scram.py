#!/usr/bin/python3
"""SCRAM-SHA-256 (RFC 5802, RFC 7677; issue 18 defect 8) on every listener, with real clients:

- msmtp (GNU SASL) submits over STARTTLS with `auth scram-sha-256`; a wrong password is 535.
- mbsync (Cyrus SASL's SCRAM plugin) syncs over IMAPS with `AuthMechs SCRAM-SHA-256`.
- imaplib and a raw POP3S socket run the exchange with a client written here from the RFC:
  the server must prove it holds the keys (its v= signature checks out), a wrong password
  gets NO [AUTHENTICATIONFAILED] / -ERR, and `ternctl user passwd` changes the keys at once.
- SCRAM-SHA-256-PLUS over TLS: bound to tls-server-end-point (RFC 5929, the hash of the
  certificate imaplib's ssl socket received) and to tls-exporter (RFC 9266, exported by
  pyOpenSSL on a POP3S connection); binding data of another connection (a man in the middle)
  and a "y" flag while -PLUS is offered (a stripped mechanism list, RFC 5802 §6) fail.
"""
import base64
import hashlib
import hmac
import imaplib
import os
import secrets
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate, wait_messages, make_message  # noqa: E402

USER = "bob@example.test"
PASSWORD = USERS[USER]


class ScramClient:
    """The client side of SCRAM-SHA-256 (RFC 5802 §3, §5), independent of the server's code."""

    def __init__(self, user, password, cb_type=None, cb_data=b"", flag=None):
        self.user, self.password = user, password
        # RFC 5802 §7 gs2 header: "p=<type>" binds (-PLUS), "n" does not, "y" says "I could".
        self.gs2 = (f"p={cb_type}" if cb_type else (flag or "n")) + ",,"
        self.cb_data = cb_data
        self.nonce = secrets.token_urlsafe(18)
        self.server_signature = None
        self.verified = False

    def first(self):
        self.bare = f"n={self.user.replace('=', '=3D').replace(',', '=2C')},r={self.nonce}"
        return self.gs2 + self.bare

    def final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        assert attrs["r"].startswith(self.nonce) and len(attrs["r"]) > len(self.nonce), server_first
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        binding = base64.b64encode(self.gs2.encode() + self.cb_data).decode()
        without_proof = f"c={binding},r={attrs['r']}"
        auth_message = f"{self.bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = base64.b64encode(hmac.digest(server_key, auth_message, "sha256")).decode()
        return f"{without_proof},p={base64.b64encode(proof).decode()}"

    def check_server_final(self, text):
        self.verified = text == f"v={self.server_signature}"
        return self.verified

    def imap_authobject(self):
        """For imaplib.authenticate: answers each decoded challenge."""
        steps = iter([lambda _: self.first(), lambda ch: self.final(ch.decode()),
                      lambda ch: "" if self.check_server_final(ch.decode()) else "*"])
        return lambda challenge: next(steps)(challenge).encode()


def run(argv, timeout=90, input=None):
    p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


class Scram(TernCase):
    tern_options = {"listeners": ("smtp", "submission", "imaps", "pop3s")}

    @classmethod
    def prepare(cls, t):
        populate(t)

    def imap(self):
        return imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)

    def imap_scram(self, user, password, mechanism="SCRAM-SHA-256", binding=None, flag=None):
        """binding(sock) -> (cb type, cb data) for -PLUS."""
        m = self.imap()
        self.assertIn("AUTH=" + mechanism, m.capabilities)
        cb_type, cb_data = binding(m.sock) if binding else (None, b"")
        client = ScramClient(user, password, cb_type, cb_data, flag)
        try:
            typ, _ = m.authenticate(mechanism, client.imap_authobject())
            return typ, client, m
        except imaplib.IMAP4.error as e:
            m.shutdown()
            return str(e), client, None

    def test_imap_scram_logs_in_and_the_server_proves_itself(self):
        typ, client, m = self.imap_scram(USER, PASSWORD)
        self.assertEqual(typ, "OK")
        self.assertTrue(client.verified, "the server's v= signature must match")
        self.assertEqual(m.select("INBOX")[0], "OK")
        m.logout()
        err, _, _ = self.imap_scram(USER, "not-the-password")
        self.assertIn("AUTHENTICATIONFAILED", err)
        err, _, _ = self.imap_scram("nobody@example.test", "x")
        self.assertIn("AUTHENTICATIONFAILED", err)

    def test_imap_scram_plus_binds_to_the_certificate(self):
        end_point = lambda sock: ("tls-server-end-point", hashlib.sha256(sock.getpeercert(True)).digest())  # noqa: E731
        typ, client, m = self.imap_scram(USER, PASSWORD, "SCRAM-SHA-256-PLUS", end_point)
        self.assertEqual(typ, "OK")
        self.assertTrue(client.verified)
        self.assertEqual(m.select("INBOX")[0], "OK")
        m.logout()
        # The right password relayed through another TLS connection (its certificate differs).
        elsewhere = lambda sock: ("tls-server-end-point", hashlib.sha256(b"another certificate").digest())  # noqa: E731
        err, _, _ = self.imap_scram(USER, PASSWORD, "SCRAM-SHA-256-PLUS", elsewhere)
        self.assertNotEqual(err, "OK")
        # RFC 5802 §6: "y" (client can bind, thinks we cannot) while we offer -PLUS: refused.
        err, _, _ = self.imap_scram(USER, PASSWORD, flag="y")
        self.assertNotEqual(err, "OK")

    def test_pop3_scram_plus_binds_to_tls_exporter(self):
        from OpenSSL import SSL
        import socket
        import struct
        ctx = SSL.Context(SSL.TLS_CLIENT_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_3_VERSION)

        def connect():
            # pyOpenSSL wants a blocking socket; the kernel's receive timeout bounds each read.
            sock = socket.create_connection(("127.0.0.1", self.t.port("pop3s")), timeout=30)
            sock.settimeout(None)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 30, 0))
            c = SSL.Connection(ctx, sock)
            c.set_connect_state()
            c.do_handshake()
            return c

        conn = connect()
        buf = b""

        def line():
            nonlocal buf
            while b"\r\n" not in buf:
                buf += conn.recv(4096)
            out, buf = buf.split(b"\r\n", 1)
            return out

        def cmd(text):
            conn.sendall(text.encode() + b"\r\n")
            return line()

        self.assertTrue(line().startswith(b"+OK"))
        conn.sendall(b"CAPA\r\n")
        capa = [line()]
        while capa[-1] != b".":
            capa.append(line())
        self.assertIn(b"SASL SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN LOGIN", capa)
        exporter = conn.export_keying_material(b"EXPORTER-Channel-Binding", 32)  # RFC 9266 §2
        client = ScramClient(USER, PASSWORD, "tls-exporter", exporter)
        b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        resp = cmd("AUTH SCRAM-SHA-256-PLUS " + b64(client.first()))
        self.assertTrue(resp.startswith(b"+ "), resp)
        resp = cmd(b64(client.final(base64.b64decode(resp[2:]).decode())))
        self.assertTrue(resp.startswith(b"+ "), resp)
        self.assertTrue(client.check_server_final(base64.b64decode(resp[2:]).decode()))
        self.assertTrue(cmd("").startswith(b"+OK"))
        self.assertTrue(cmd("STAT").startswith(b"+OK"))
        # The exporter of another connection does not match this one.
        client = ScramClient(USER, PASSWORD, "tls-exporter", bytes(32))
        conn.close()
        conn, buf = connect(), b""
        line()
        resp = cmd("AUTH SCRAM-SHA-256-PLUS " + b64(client.first()))
        resp = cmd(b64(client.final(base64.b64decode(resp[2:]).decode())))
        self.assertTrue(resp.startswith(b"-ERR"), resp)
        conn.close()

    def test_pop3_scram(self):
        import poplib
        p = poplib.POP3_SSL("127.0.0.1", self.t.port("pop3s"), context=client_tls_context(), timeout=30)
        self.assertIn("SCRAM-SHA-256", p.capa().get("SASL", []))
        client = ScramClient(USER, PASSWORD)
        b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        resp = p._shortcmd("AUTH SCRAM-SHA-256 " + b64(client.first()))
        self.assertTrue(resp.startswith(b"+ "), resp)
        resp = p._shortcmd(b64(client.final(base64.b64decode(resp[2:]).decode())))
        self.assertTrue(resp.startswith(b"+ "), resp)
        self.assertTrue(client.check_server_final(base64.b64decode(resp[2:]).decode()))
        resp = p._shortcmd("")
        self.assertTrue(resp.startswith(b"+OK"), resp)
        self.assertTrue(p.stat()[0] >= 0)
        p.quit()

    def test_msmtp_scram(self):
        conf = os.path.join(self.t.dir, "msmtprc")
        with open(conf, "w") as f:
            for name, pw in (("good", PASSWORD), ("bad", "wrong-pass")):
                f.write(f"account {name}\nhost 127.0.0.1\nport {self.t.port('submission')}\nauth scram-sha-256\n"
                        f"tls on\ntls_starttls on\ntls_trust_file {self.t.cert}\ntls_host_override localhost\n"
                        f"user {USER}\npassword {pw}\nfrom {USER}\n\n")
        os.chmod(conf, 0o600)
        msg = make_message(USER, "alice@example.test", "via msmtp scram", b"hello\r\n")
        rc, out, err = run(["msmtp", "-C", conf, "-a", "good", "alice@example.test"], input=msg)
        self.assertEqual(rc, 0, err)
        wait_messages(self.t, "alice@example.test", 1)
        rc, out, err = run(["msmtp", "-C", conf, "-a", "bad", "alice@example.test"], input=msg)
        self.assertNotEqual(rc, 0)
        self.assertIn("535", err)

    def test_mbsync_scram(self):
        local = os.path.join(self.t.dir, "mbsync-mail")
        os.makedirs(local, exist_ok=True)
        conf = os.path.join(self.t.dir, "mbsyncrc")
        with open(conf, "w") as f:
            f.write(f"IMAPAccount tern\nHost localhost\nPort {self.t.port('imaps')}\nUser {USER}\n"
                    f"Pass {PASSWORD}\nSSLType IMAPS\nCertificateFile {self.t.cert}\nAuthMechs SCRAM-SHA-256\n"
                    "Timeout 30\n\nIMAPStore remote\nAccount tern\n\n"
                    f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\n\n"
                    "Channel sync\nFar :remote:INBOX\nNear :local:INBOX\nCreate Near\nSync Pull\nSyncState *\n")
        os.chmod(conf, 0o600)
        rc, out, err = run(["mbsync", "-V", "-c", conf, "-a"], timeout=120)
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Authenticating with SASL mechanism SCRAM-SHA-256", out + err)
        self.assertIn("auth ok proto=imap user=bob@example.test", self.t.log())

    def test_passwd_changes_the_keys_at_once(self):
        user = "alice@example.test"
        typ, _, m = self.imap_scram(user, USERS[user])
        self.assertEqual(typ, "OK")
        m.logout()
        p = self.t.ctl("user", "passwd", user, input="alice-new-pass-9\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        try:
            err, _, _ = self.imap_scram(user, USERS[user])
            self.assertIn("AUTHENTICATIONFAILED", err)
            typ, _, m = self.imap_scram(user, "alice-new-pass-9")
            self.assertEqual(typ, "OK")
            m.logout()
        finally:
            self.t.ctl("user", "passwd", user, input=USERS[user] + "\n")


if __name__ == "__main__":
    unittest.main(verbosity=2)
