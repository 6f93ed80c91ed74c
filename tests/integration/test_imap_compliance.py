#!/usr/bin/python3
"""IMAP protocol rules a strict client checks (issue 18, "Defects"), through Python's imaplib
against a running ternd: transcripts read byte for byte where the order or the form of the
responses is the point (FLAGS before a new keyword is used, no NUL in a plain literal), and
imaplib's own parsing where the client's view is (FETCH of an expunged message still OK,
SEARCH FROM of an address with comments, LSUB "%")."""
import base64
import imaplib
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

USER = "bob@example.test"
PASSWORD = USERS[USER]

BINARY_MSG = (b"From: a@example.test\r\n"
              b"Subject: binary\r\n"
              b"MIME-Version: 1.0\r\n"
              b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n"
              b"\r\n"
              b"--zz\r\n"
              b"Content-Type: application/octet-stream\r\n"
              b"Content-Transfer-Encoding: binary\r\n"
              b"\r\n"
              b"ab\x00cd\x00\xff\r\n"
              b"--zz\r\n"
              b"Content-Type: text/plain\r\n"
              b"\r\n"
              b"text part\r\n"
              b"--zz--\r\n")


class Transcript:
    """Raw commands over an imaplib connection: what the server wrote, byte for byte."""

    def __init__(self, m):
        self.m = m
        self.n = 0

    def cmd(self, text, literal=None, literal8=False):
        self.n += 1
        tag = b"R%d" % self.n
        line = tag + b" " + text.encode()
        if literal is not None:
            line += (b" ~{%d+}\r\n" if literal8 else b" {%d+}\r\n") % len(literal) + literal
        self.m.send(line + b"\r\n")
        out = b""
        while True:
            got = self.m.readline()
            if not got:
                raise AssertionError("connection closed after " + repr(out[-300:]))
            out += got
            lit = re.search(rb"~?\{(\d+)\}\r\n$", got)
            if lit:
                out += self.m.read(int(lit.group(1)))
                continue
            if got.startswith(tag + b" "):
                return out


class ImapCompliance(TernCase):
    tern_options = {"listeners": ("smtp", "imaps")}

    @classmethod
    def prepare(cls, t):
        populate(t)

    def imaps(self):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        self.assertEqual(m.login(USER, PASSWORD)[0], "OK")
        return m

    def ok(self, res):
        typ, data = res
        self.assertEqual(typ, "OK", data)
        return data

    def fresh_mailbox(self, m, name):
        self.ok(m.create(name))
        return name

    def test_rfc3501_7_2_6_flags_announced_before_new_keyword_used(self):
        a, b = self.imaps(), self.imaps()
        box = self.fresh_mailbox(a, "Keywords")
        self.ok(a.append(box, None, None, b"Subject: k\r\n\r\nbody\r\n"))
        ta, tb = Transcript(a), Transcript(b)
        ta.cmd("SELECT " + box)
        tb.cmd("SELECT " + box)
        out = ta.cmd("STORE 1 +FLAGS ($Label4)")
        flags = out.find(b"* FLAGS (")
        fetch = out.find(b"* 1 FETCH")
        self.assertNotEqual(flags, -1, out)
        self.assertIn(b"$Label4", out[flags:fetch])
        self.assertRegex(out, rb"\* OK \[PERMANENTFLAGS \([^)]*\$Label4 \\\*\)\]")
        self.assertLess(flags, fetch, out)
        # The other connection hears of the keyword before a FETCH carries it.
        out = tb.cmd("NOOP")
        flags = out.find(b"* FLAGS (")
        fetch = out.find(b"* 1 FETCH (FLAGS ($Label4))")
        self.assertNotEqual(flags, -1, out)
        self.assertNotEqual(fetch, -1, out)
        self.assertLess(flags, fetch, out)
        a.logout()
        b.logout()

    def test_rfc2180_4_1_fetch_with_expunged_message_answers_ok(self):
        a, b = self.imaps(), self.imaps()
        box = self.fresh_mailbox(a, "Expunges")
        for i in range(3):
            self.ok(a.append(box, None, None, b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)))
        self.ok(a.select(box))
        self.ok(b.select(box))
        self.ok(a.store("2", "+FLAGS.SILENT", "(\\Deleted)"))
        self.ok(a.expunge())
        typ, data = b.fetch("1:3", "(UID BODY.PEEK[])")
        self.assertEqual(typ, "OK", data)  # imaplib raises nothing, the client keeps the data
        bodies = [d[1] for d in data if isinstance(d, tuple)]
        self.assertEqual(bodies, [b"Subject: m0\r\n\r\nbody 0\r\n", b"Subject: m2\r\n\r\nbody 2\r\n"])
        self.ok(b.noop())
        self.assertEqual(b.response("EXPUNGE")[1], [b"2"])
        a.logout()
        b.logout()

    def test_rfc5322_3_4_1_search_from_with_cfws(self):
        m = self.imaps()
        box = self.fresh_mailbox(m, "Addresses")
        self.ok(m.append(box, None, None,
                         b"From: <user-from (comment)@ (comment) domain.org>\r\nSubject: c\r\n\r\nx\r\n"))
        self.ok(m.append(box, None, None, b"From: other@domain.org\r\nSubject: d\r\n\r\ny\r\n"))
        self.ok(m.select(box))
        self.assertEqual(self.ok(m.search(None, "FROM", "user-from@domain.org")), [b"1"])
        m.logout()

    def test_rfc3501_6_3_9_lsub_percent_noselect_parent(self):
        m = self.imaps()
        self.ok(m.create("Proj/Alpha"))
        self.ok(m.subscribe("Proj/Alpha"))
        m.unsubscribe("Proj")
        data = self.ok(m.lsub('""', "%"))
        self.assertIn(b'(\\Noselect) "/" Proj', data)
        self.assertFalse([d for d in data if b"Proj/Alpha" in d], data)
        m.logout()

    def test_rfc3516_4_3_no_nul_in_plain_literal(self):
        m = self.imaps()
        box = self.fresh_mailbox(m, "Binary")
        t = Transcript(m)
        out = t.cmd("APPEND " + box, literal=BINARY_MSG, literal8=True)
        self.assertIn(b" OK [APPENDUID", out)
        self.ok(m.select(box))
        for item in ("BODY.PEEK[1]", "BODY.PEEK[]", "RFC822", "BODY.PEEK[TEXT]", "BODYSTRUCTURE"):
            out = t.cmd("FETCH 1 (%s)" % item)
            self.assertNotIn(b"\x00", out, item)
            self.assertNotIn(b"~{", out, item)
            self.assertRegex(out, rb"R\d+ OK", item)
        # imaplib's view: the part is base64, its MIME header says so, decoding gives the bytes.
        data = self.ok(m.fetch("1", "(BODY.PEEK[1] BODY.PEEK[1.MIME])"))
        part, mime = data[0][1], data[1][1]
        self.assertIn(b"Content-Transfer-Encoding: base64", mime)
        self.assertEqual(base64.b64decode(part), b"ab\x00cd\x00\xff")
        # BINARY keeps the raw bytes, in literal8.
        out = t.cmd("FETCH 1 (BINARY.PEEK[1])")
        self.assertIn(b"BINARY[1] ~{7}\r\nab\x00cd\x00\xff)", out)
        m.logout()

    def test_rfc6154_create_special_use(self):
        m = self.imaps()
        self.assertIn("CREATE-SPECIAL-USE", m.capabilities)
        self.assertIn("WITHIN", m.capabilities)
        self.ok(m._simple_command("CREATE", "Receipts", "(USE (\\Archive))"))
        data = self.ok(m.list('""', "Receipts"))
        self.assertEqual(data, [b'(\\HasNoChildren \\Archive) "/" Receipts'])
        typ, data = m._simple_command("CREATE", "Odd", "(USE (\\Important))")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[USE]", data[0])
        m.logout()

    def test_rfc8970_preview(self):
        m = self.imaps()
        self.assertIn("PREVIEW", m.capabilities)
        box = self.fresh_mailbox(m, "Previews")
        self.ok(m.append(box, None, None,
                         b"Subject: p\r\nContent-Type: text/html\r\n\r\n<p>Lunch at <b>noon</b>?</p>\r\n"))
        self.ok(m.select(box))
        data = self.ok(m.fetch("1", "(PREVIEW (LAZY))"))
        self.assertEqual(data, [b'1 (PREVIEW "Lunch at noon?")'])
        m.logout()


if __name__ == "__main__":
    unittest.main()
