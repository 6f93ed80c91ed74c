#!/usr/bin/python3
"""IMAP COMPRESS=DEFLATE (RFC 4978) with a client that compresses as Thunderbird and K-9 do:
raw DEFLATE both ways after the tagged OK, each write sync-flushed.

- Advertised once logged in (a command of the authenticated and selected states), not before.
- COMPRESS of an unknown mechanism is BAD; a second COMPRESS DEFLATE is NO [COMPRESSIONACTIVE].
- After COMPRESS, APPEND of a large message and FETCH of it round-trip byte for byte, over
  plain IMAP and inside TLS, and the bytes on the wire are a fraction of the message.
- A client that sends bytes that are not DEFLATE is cut off; the server stays up.
"""
import imaplib
import os
import socket
import sys
import unittest
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

imaplib.Commands.setdefault("COMPRESS", ("NONAUTH", "AUTH", "SELECTED"))

USER = "bob@example.test"
PASSWORD = USERS[USER]


class Compressing:
    """imaplib with COMPRESS=DEFLATE: send() deflates, read()/readline() inflate."""

    def compress(self):
        typ, dat = self._simple_command("COMPRESS", "DEFLATE")
        if typ == "OK":
            self._deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
            self._inflate = zlib.decompressobj(-15)
            self._plain = b""
            self.wire_in = self.wire_out = 0
        return typ, dat

    def send(self, data):
        if getattr(self, "_deflate", None):
            data = self._deflate.compress(data) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
            self.wire_out += len(data)
        super().send(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise imaplib.IMAP4.abort("connection closed")
        self.wire_in += len(chunk)
        self._plain += self._inflate.decompress(chunk)

    def read(self, size):
        if not getattr(self, "_inflate", None):
            return super().read(size)
        while len(self._plain) < size:
            self._fill()
        out, self._plain = self._plain[:size], self._plain[size:]
        return out

    def readline(self):
        if not getattr(self, "_inflate", None):
            return super().readline()
        while b"\n" not in self._plain:
            self._fill()
        i = self._plain.index(b"\n") + 1
        out, self._plain = self._plain[:i], self._plain[i:]
        return out


class CompressingIMAP4(Compressing, imaplib.IMAP4):
    pass


class CompressingIMAP4_SSL(Compressing, imaplib.IMAP4_SSL):
    pass


def command(m, *args):
    """(typ, data) of a command, BAD included (imaplib raises on BAD)."""
    try:
        return m._simple_command(*args)
    except imaplib.IMAP4.error as e:
        return "BAD", [str(e).encode()]


def big_message(n):
    lines = "".join(f"line {i:06d} of a long and very repetitive message body\r\n" for i in range(n))
    return (f"From: alice@example.test\r\nTo: {USER}\r\nSubject: compressed\r\n"
            f"Message-ID: <compress-{n}@example.test>\r\n\r\n{lines}").encode()


class Compress(TernCase):
    tern_options = {"listeners": ("imap", "imaps"), "allow_plaintext_without_tls": True}

    @classmethod
    def prepare(cls, t):
        populate(t)

    def plain(self):
        return CompressingIMAP4("127.0.0.1", self.t.port("imap"), timeout=30)

    def tls(self):
        return CompressingIMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(),
                                   timeout=30)

    def test_advertised_after_login_only(self):
        m = self.plain()
        self.assertNotIn("COMPRESS=DEFLATE", m.capabilities)
        typ, dat = command(m, "COMPRESS", "DEFLATE")  # not authenticated: BAD
        self.assertEqual(typ, "BAD", dat)
        m.login(USER, PASSWORD)
        typ, dat = m.capability()
        self.assertIn(b"COMPRESS=DEFLATE", dat[0].split())
        m.logout()

    def test_unknown_mechanism_is_bad_and_second_compress_is_no(self):
        m = self.plain()
        m.login(USER, PASSWORD)
        typ, dat = command(m, "COMPRESS", "LZMA")
        self.assertEqual(typ, "BAD", dat)
        typ, dat = m.compress()
        self.assertEqual(typ, "OK", dat)
        typ, dat = command(m, "COMPRESS", "DEFLATE")
        self.assertEqual(typ, "NO", dat)
        self.assertIn(b"[COMPRESSIONACTIVE]", dat[0])
        self.assertEqual(m.noop()[0], "OK")
        m.logout()

    def round_trip(self, m, n):
        m.login(USER, PASSWORD)
        self.assertEqual(m.compress()[0], "OK")
        msg = big_message(n)
        typ, dat = m.append("INBOX", None, None, msg)
        self.assertEqual(typ, "OK", dat)
        sent = m.wire_out
        typ, dat = m.select("INBOX")
        self.assertEqual(typ, "OK", dat)
        typ, dat = m.uid("SEARCH", None, "HEADER", "Message-ID", f"<compress-{n}@example.test>")
        uid = dat[0].split()[-1]
        before = m.wire_in
        typ, dat = m.uid("FETCH", uid, "(BODY.PEEK[])")
        self.assertEqual(typ, "OK", dat)
        self.assertEqual(dat[0][1], msg)
        received = m.wire_in - before
        # About 60 bytes a line, repetitive: DEFLATE takes it to a small part of that.
        self.assertLess(sent, len(msg) // 4, (sent, len(msg)))
        self.assertLess(received, len(msg) // 4, (received, len(msg)))
        m.logout()

    def test_append_and_fetch_round_trip_compressed(self):
        self.round_trip(self.plain(), 5000)

    def test_inside_tls(self):
        self.round_trip(self.tls(), 3000)

    def test_garbage_after_compress_cuts_the_client_off_only(self):
        s = socket.create_connection(("127.0.0.1", self.t.port("imap")), timeout=10)
        f = s.makefile("rb")
        f.readline()
        s.sendall(f'a LOGIN "{USER}" "{PASSWORD}"\r\nb COMPRESS DEFLATE\r\n'.encode())
        lines = [f.readline(), f.readline()]
        self.assertTrue(lines[-1].startswith(b"b OK"), lines)
        s.sendall(b"\xff\xfe\xfd this is not deflate \xff" * 4)
        s.settimeout(10)
        rest = s.recv(4096)  # the server closes the connection
        while rest:
            rest = s.recv(4096)
        s.close()
        m = self.plain()  # still serving
        m.login(USER, PASSWORD)
        self.assertEqual(m.compress()[0], "OK")
        self.assertEqual(m.select("INBOX")[0], "OK")
        m.logout()


if __name__ == "__main__":
    unittest.main(verbosity=2)
