"""Puts test messages into a running Tern's mailboxes and reads the Maildir back (stdlib only).

Used by tests/integration/test_pop3*.py and bench/pop3_download.py.

    import mailfill
    msgs = [mailfill.make_message(i) for i in range(3)]
    how = mailfill.fill(t, "bob@example.test", "pw", msgs)   # "smtp" or "files"
    files = mailfill.maildir_files(t.data_dir, "bob@example.test")   # {uid: bytes}

fill() delivers over SMTP when ternd's SMTP service answers 220. Otherwise (the SMTP glue is
not wired yet) it falls back to the store's recovery: the user's INBOX is created by one POP3
login, ternd is stopped, the messages are written into new/ as bare Maildir files (no ",U="),
and ternd is started again; Store::open() adopts files without index rows.
"""
import os
import re
import smtplib
import socket
import ssl
import poplib
import time

# Every message ends in CRLF; one line starts with "." (POP3 byte-stuffing) and the body has
# enough lines for TOP.
def make_message(i, body_lines=12, pad=0, sender="alice@sender.test", rcpt="bob@example.test"):
    lines = [
        f"From: Alice <{sender}>",
        f"To: <{rcpt}>",
        f"Subject: test message {i}",
        f"Message-ID: <m{i}.{os.getpid()}@sender.test>",
        "Date: Mon, 01 Jan 2024 00:00:00 +0000",
        "",
    ]
    for n in range(body_lines):
        lines.append(f"body line {n} of message {i}")
    lines.append(".a line that starts with a dot")
    lines.append("..two dots")
    if pad:
        # Filler of roughly `pad` bytes, in 76-character lines.
        chunk = "x" * 74
        for _ in range(max(1, pad // 76)):
            lines.append(chunk)
    lines.append("the end")
    return ("\r\n".join(lines) + "\r\n").encode()


def smtp_available(t, timeout=10):
    """True when ternd's SMTP listener greets with 220 (not a 421 refusal)."""
    try:
        with socket.create_connection(("127.0.0.1", t.port("smtp")), timeout=timeout) as s:
            s.settimeout(timeout)
            data = b""
            while b"\n" not in data:
                chunk = s.recv(512)
                if not chunk:
                    break
                data += chunk
            return data.startswith(b"220")
    except OSError:
        return False


def deliver_smtp(t, rcpt, messages, sender="alice@sender.test"):
    with smtplib.SMTP("127.0.0.1", t.port("smtp"), local_hostname="client.test", timeout=60) as c:
        for m in messages:
            refused = c.sendmail(sender, [rcpt], m)
            if refused:
                raise RuntimeError(f"SMTP refused {refused}")


def user_dir(data_dir, user):
    local, domain = user.split("@", 1)
    return os.path.join(data_dir, "mail", domain, local)


def maildir_files(data_dir, user):
    """{uid: bytes} of the INBOX files (uid from ",U=", None when the file has none yet)."""
    out = {}
    base = user_dir(data_dir, user)
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            m = re.search(r",U=(\d+)", name)
            with open(os.path.join(d, name), "rb") as f:
                out[int(m.group(1)) if m else ("?" + name)] = f.read()
    return out


def pop3_login(t, user, password, timeout=60):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    p = poplib.POP3_SSL("127.0.0.1", t.port("pop3s"), context=ctx, timeout=timeout)
    p.user(user)
    p.pass_(password)
    return p


def deliver_files(t, user, password, messages):
    """Fallback without SMTP: stop ternd, write Maildir files, start it (Store::open adopts)."""
    p = pop3_login(t, user, password)  # creates the user's INBOX in the store
    p.quit()
    t.stop()
    new = os.path.join(user_dir(t.data_dir, user), "new")
    os.makedirs(new, exist_ok=True)
    stamp = int(time.time())
    for n, m in enumerate(messages):
        name = f"{stamp}.M{n}P{os.getpid()}.fill"
        tmp = os.path.join(user_dir(t.data_dir, user), "tmp", name)
        os.makedirs(os.path.dirname(tmp), exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(m)
        os.rename(tmp, os.path.join(new, name))
    t.start()


def fill(t, user, password, messages):
    """Delivers messages to user's INBOX; returns "smtp" or "files" (how it was done)."""
    if smtp_available(t):
        deliver_smtp(t, user, messages)
        return "smtp"
    deliver_files(t, user, password, messages)
    return "files"
