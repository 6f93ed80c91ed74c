"""SMTP integration-test helpers on top of ternlib (stdlib only).

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "support"))
    from smtp_fixture import populate, maildir_messages, wait_messages, make_message

populate(t) creates the domain example.test with users bob and alice (passwords in USERS)
and the alias team@example.test -> bob, alice. Maildir helpers read data_dir/mail directly.
"""
import os
import smtplib
import sqlite3
import time

DOMAIN = "example.test"
USERS = {"bob@example.test": "bob-secret-1", "alice@example.test": "alice-secret-2"}
ALIAS = "team@example.test"


def ctl_ok(t, *args, input=None):
    p = t.ctl(*args, input=input)
    if p.returncode != 0:
        raise AssertionError(f"ternctl {' '.join(args)} failed: {p.stderr}")
    return p.stdout


def populate(t, quota=None):
    ctl_ok(t, "domain", "add", DOMAIN)
    for user, password in USERS.items():
        args = ["user", "add", user]
        if quota is not None:
            args += ["--quota", str(quota)]
        ctl_ok(t, *args, input=password + "\n")
    ctl_ok(t, "alias", "add", ALIAS, ",".join(USERS))


def maildir(t, user):
    local, domain = user.split("@")
    return os.path.join(t.data_dir, "mail", domain, local)


def maildir_messages(t, user):
    """{file name: bytes} of the user's INBOX (new/ and cur/)."""
    out = {}
    base = maildir(t, user)
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                out[name] = f.read()
    return out


def wait_messages(t, user, count, timeout=10.0):
    """Messages of the INBOX once it has at least `count` (or after the timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        msgs = maildir_messages(t, user)
        if len(msgs) >= count or time.monotonic() > deadline:
            return msgs
        time.sleep(0.05)


def index_rows(t, user, mailbox="INBOX"):
    """[(uid, file, size)] of the mailbox's index rows, read with sqlite3 (WAL, read-only)."""
    db = sqlite3.connect(f"file:{os.path.join(t.data_dir, 'index.db')}?mode=ro", uri=True,
                         timeout=10)
    try:
        return db.execute(
            "SELECT m.uid, m.file, m.size FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
            " WHERE b.user = ? AND b.name = ? ORDER BY m.uid", (user, mailbox)).fetchall()
    finally:
        db.close()


def make_message(sender, rcpt, subject, body, message_id=None):
    """An RFC 5322 message as CRLF bytes."""
    lines = [f"From: <{sender}>", f"To: <{rcpt}>", f"Subject: {subject}",
             "Date: Sun, 22 Nov 2026 12:00:00 +0000",
             f"Message-ID: <{message_id or subject.replace(' ', '.')}@client.test>",
             "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", ""]
    return ("\r\n".join(lines) + "\r\n").encode() + body


def split_stored(data):
    """Stored file -> (Return-Path value, Received header text, rest)."""
    if not data.startswith(b"Return-Path: <"):
        raise AssertionError(f"no Return-Path first: {data[:80]!r}")
    rp_end = data.index(b"\r\n")
    return_path = data[len(b"Return-Path: "):rp_end].decode()
    rest = data[rp_end + 2:]
    if not rest.startswith(b"Received: "):
        raise AssertionError(f"no Received after Return-Path: {rest[:80]!r}")
    # The Received field ends at the first CRLF not followed by folding whitespace.
    i = 0
    while True:
        j = rest.index(b"\r\n", i)
        if rest[j + 2:j + 3] not in (b" ", b"\t"):
            break
        i = j + 2
    return return_path, rest[:j].decode(), rest[j + 2:]


def smtp(t, listener="smtp", timeout=30):
    return smtplib.SMTP("127.0.0.1", t.port(listener), local_hostname="client.test",
                        timeout=timeout)
