#!/usr/bin/python3
"""Full-text search (issue 18) through Python's imaplib and smtplib against a running ternd:
SEARCH TEXT/BODY find words of a base64 text/html part delivered over SMTP and of a message
APPENDed over IMAP, never words of the markup; data_dir/fts.db is filled by ternd itself,
loses the rows of expunged messages, and `ternctl reindex` (or a restart after fts.db is
deleted) makes it again. Messages the index lacks are still found."""
import base64
import os
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from imap_case import ImapsCase  # noqa: E402
from smtp_fixture import ctl_ok, smtp  # noqa: E402

USER = "bob@example.test"

HTML = ('<html><head><style>.wallaby { color: red }</style></head><body>'
        '<p class="wallaby">A <b>kookaburra</b> laughing &amp; caf&eacute; talk</p></body></html>')
SMTP_MESSAGE = (
    "From: Carol <carol@remote.test>\r\nTo: bob@example.test\r\nSubject: birds\r\n"
    "Message-ID: <birds@remote.test>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: multipart/alternative; boundary=\"xx\"\r\n\r\n"
    "--xx\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(HTML.encode()).decode().replace("\n", "\r\n") +
    "--xx--\r\n")
APPENDED = (b"From: Dan <dan@example.test>\r\nTo: bob@example.test\r\n"
            b"Subject: =?utf-8?q?Kookaburra_sighting?=\r\n\r\nSeen one near the river.\r\n")


def fts_rows(t):
    """Rows of bob's INBOX in fts.db (0 when there is no fts.db yet)."""
    path = os.path.join(t.data_dir, "fts.db")
    if not os.path.exists(path):
        return 0
    db = sqlite3.connect(f"file:{path}", uri=True, timeout=10)
    db.execute("ATTACH DATABASE ? AS idx", (f"file:{os.path.join(t.data_dir, 'index.db')}?mode=ro",))
    try:
        return db.execute(
            "SELECT count(*) FROM fts_body WHERE (rowid >> 32) IN"
            " (SELECT id FROM idx.mailboxes WHERE user = ? AND name = 'INBOX')", (USER,)).fetchone()[0]
    finally:
        db.close()


def wait_rows(t, count, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        n = fts_rows(t)
        if n == count or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


class ImapFts(ImapsCase):
    @classmethod
    def started(cls):
        with smtp(cls.t) as s:
            s.sendmail("carol@remote.test", [USER], SMTP_MESSAGE.encode())
        m = cls.connect()
        typ, data = m.append("INBOX", None, None, APPENDED)
        assert typ == "OK", data
        m.logout()

    def setUp(self):
        self.m = self.connect()
        self.m.select("INBOX")

    def tearDown(self):
        try:
            self.m.logout()
        except Exception:
            pass
        super().tearDown()

    def search(self, *criteria):
        typ, data = self.m.search("UTF-8", *criteria)
        self.assertEqual(typ, "OK", data)
        return data[0].split()

    def test_1_indexed_at_delivery_and_append(self):
        self.assertEqual(wait_rows(self.t, 2), 2, "ternd did not index the delivered and appended messages")
        self.assertEqual(self.search("TEXT", "kookaburra"), [b"1", b"2"])
        self.assertEqual(self.search("BODY", "KOOKABURRA"), [b"1"])      # 2 has it in its subject only
        self.assertEqual(self.search("BODY", '"laughing & caf"'), [b"1"])  # entities decoded
        self.assertEqual(self.search("TEXT", "sighting"), [b"2"])         # RFC 2047 subject
        # The HTML's markup and style are not its text.
        self.assertEqual(self.search("TEXT", "wallaby"), [])
        self.assertEqual(self.search("BODY", '"<b>"'), [])
        self.assertEqual(self.search("TEXT", "color"), [])

    def test_2_expunge_removes_rows(self):
        typ, data = self.m.append("INBOX", None, None, b"Subject: gone\r\n\r\nkookaburra again\r\n")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(wait_rows(self.t, 3), 3)
        self.m.select("INBOX")
        self.assertEqual(self.search("BODY", '"kookaburra again"'), [b"3"])
        self.m.store("3", "+FLAGS", "\\Deleted")
        self.m.expunge()
        self.assertEqual(wait_rows(self.t, 2), 2, "the expunged message's row stayed")
        self.assertEqual(self.search("TEXT", "kookaburra"), [b"1", b"2"])

    def test_3_reindex_after_rows_are_lost(self):
        self.assertEqual(wait_rows(self.t, 2), 2)
        db = sqlite3.connect(os.path.join(self.t.data_dir, "fts.db"), timeout=10)
        db.execute("DELETE FROM fts_body")
        db.execute("DELETE FROM fts_header")
        db.commit()
        db.close()
        # Not indexed: still found, by reading the messages.
        self.assertEqual(self.search("TEXT", "kookaburra"), [b"1", b"2"])
        out = ctl_ok(self.t, "reindex", USER)
        self.assertIn("full-text index: 2 messages", out)
        self.assertEqual(fts_rows(self.t), 2)
        self.assertEqual(self.search("BODY", "river"), [b"2"])

    def test_4_restart_after_fts_db_is_deleted(self):
        self.m.logout()
        self.t.stop()
        for suffix in ("", "-wal", "-shm"):
            path = os.path.join(self.t.data_dir, "fts.db" + suffix)
            if os.path.exists(path):
                os.remove(path)
        self.t.start()
        self.assertEqual(wait_rows(self.t, 2), 2, "ternd did not catch up at start")
        self.m = self.connect()
        self.m.select("INBOX")
        self.assertEqual(self.search("TEXT", "kookaburra"), [b"1", b"2"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
