#!/usr/bin/python3
"""`ternctl import` (issue 19, "Import from any IMAP server") from a second ternd and from the
Debian Dovecot, checked over IMAP on the importing ternd:

- every folder arrives with its messages byte for byte, flags, keywords and INTERNALDATE;
  special-use folders land in Tern's own (Dovecot's "Junk" and a folder named "Sent Items"
  into Tern's Junk and Sent), other folders keep their names and hierarchy;
- IMAPS is verified against the test CA (and refused without it); STARTTLS works too;
- a second run imports nothing; a message delivered to the user while the import runs is kept;
- Dovecot (dovecot-imapd, started here as root on loopback with its own config, base_dir and
  passwd-file, ssl = no, so the import runs with --insecure over imap://).
"""
import imaplib
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import sys
import socket
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Checks, Tern, client_tls_context, free_port  # noqa: E402
from smtp_fixture import USERS, ctl_ok, populate, make_message  # noqa: E402

check = Checks()
BOB = "bob@example.test"

# (folder, flags, INTERNALDATE) per message; bodies are made unique below.
SOURCE = [
    ("INBOX", r"(\Seen)", '"01-Feb-2020 10:00:00 +0000"'),
    ("INBOX", r"(\Flagged $Label1 work)", '"02-Mar-2021 11:30:00 +0200"'),
    ("INBOX", "()", '"15-Aug-2022 23:59:59 -0500"'),
    ("Projects/2024", r"(\Answered \Seen)", '"03-Jan-2024 08:00:00 +0000"'),
    ("Projects/2024", r"($Forwarded)", '"04-Jan-2024 09:00:00 +0000"'),
    ("Sent Items", r"(\Seen)", '"05-May-2023 12:00:00 +0000"'),
    ("Junk", "()", '"06-Jun-2023 13:00:00 +0000"'),
]
# Where each source folder must land in Tern.
TARGET = {"INBOX": "INBOX", "Projects/2024": "Projects/2024", "Sent Items": "Sent", "Junk": "Junk"}
BULK = 120


def body(i, folder):
    return (f"From: someone{i}@example.org\r\nTo: {BOB}\r\nSubject: message {i} in {folder}\r\n"
            f"Message-ID: <m{i}.{folder.replace(' ', '-').replace('/', '-')}@example.org>\r\n\r\n"
            f"Body of message {i}.\r\n" + "x" * (i * 37) + "\r\n").encode()


def fill(m, folders_to_create, bulk=0):
    for folder in folders_to_create:
        m.create(f'"{folder}"')
    for i, (folder, flags, date) in enumerate(SOURCE):
        typ, data = m.append(f'"{folder}"', flags, date, body(i, folder))
        assert typ == "OK", (folder, data)
    for i in range(bulk):
        m.append('"Bulk"', None, None, body(1000 + i, "Bulk"))


def folder_contents(m, folder):
    """Sorted [(body, flags without \\Recent, internaldate)] of a folder."""
    typ, _ = m.select(f'"{folder}"', readonly=True)
    if typ != "OK":
        return None
    typ, data = m.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    out = []
    for part in data:
        if not isinstance(part, tuple):
            continue
        meta = part[0].decode()
        flags = sorted(f for f in re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split() if f != "\\Recent")
        date = re.search(r'INTERNALDATE "([^"]+)"', meta).group(1)
        out.append((part[1], tuple(flags), imaplib.Internaldate2tuple(f'INTERNALDATE "{date}"'.encode())))
    return sorted(out)


def imap_tern(t, user, password):
    m = imaplib.IMAP4_SSL("127.0.0.1", t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
    m.login(user, password)
    return m


def compare(name, src, dst, mapping):
    for folder, target in mapping.items():
        a, b = folder_contents(src, folder), folder_contents(dst, target)
        if b is not None:  # what SMTP delivered during the import is not the source's
            b = [x for x in b if b"Subject: during import" not in x[0]]
        check(f"{name}: {folder} -> {target} has every message, flags and date", a is not None and a == b,
              f"source {a and [(x[1], x[2][:6]) for x in a]} vs tern {b and [(x[1], x[2][:6]) for x in b]}")


def run_import(t, user, url, password_file, *extra):
    return t.ctl("import", user, "--from", url, "--password-file", password_file, *extra, timeout=120)


def special_use_of(m, name):
    typ, data = m.list('""', f'"{name}"')
    return data[0].decode() if data and data[0] else ""


def tern_to_tern(src, dst, tmp):
    pw_file = os.path.join(tmp, "bob.pw")
    with open(pw_file, "w") as f:
        f.write(USERS[BOB] + "\n")
    m = imap_tern(src, BOB, USERS[BOB])
    fill(m, ["Projects/2024", "Sent Items", "Bulk"], bulk=BULK)
    url = f"imaps://{BOB}@localhost:{src.port('imaps')}"

    # Not trusted without the test CA: nothing imported, one line naming the problem.
    p = run_import(dst, BOB, url, pw_file)
    check("unverified certificate refused", p.returncode == 1 and "not trusted" in p.stderr, p.stdout + p.stderr)

    # Import, and deliver to the same user while it runs (after its first Bulk batch).
    proc = subprocess.Popen([os.environ["TERNCTL"], *dst.config_args(), "import", BOB, "--from", url,
                             "--password-file", pw_file, "--ca-file", src.cert],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out_lines, delivered = [], False
    for line in proc.stdout:
        out_lines.append(line)
        if line.startswith("Bulk: ") and not delivered:
            with smtplib.SMTP("127.0.0.1", dst.port("smtp"), timeout=30) as s:
                s.sendmail("x@example.org", [BOB], make_message("x@example.org", BOB, "during import", b"hi\r\n"))
            delivered = True
    err = proc.stderr.read()
    rc = proc.wait(timeout=120)
    out = "".join(out_lines)
    check("import from ternd succeeds", rc == 0, out + err)
    check("a delivery happened during the import", delivered, out)
    check("progress per folder", re.search(r"^Bulk -> Bulk: 120 to import", out, re.M) and
          re.search(r"^Bulk: 120/120$", out, re.M), out)
    d = imap_tern(dst, BOB, "bob-target-pw")
    compare("ternd", m, d, {**TARGET, "Bulk": "Bulk"})
    d.select("INBOX", readonly=True)
    typ, hits = d.search(None, "SUBJECT", '"during import"')
    check("the message delivered during the import is there", typ == "OK" and len(hits[0].split()) == 1, hits)
    check("Sent Items went to Tern's \\Sent folder", "\\Sent" in special_use_of(d, "Sent"), special_use_of(d, "Sent"))
    check("no stray 'Sent Items' folder", special_use_of(d, "Sent Items") == "", special_use_of(d, "Sent Items"))

    # Again: nothing new.
    p = run_import(dst, BOB, url, pw_file, "--ca-file", src.cert)
    check("second run imports nothing", p.returncode == 0 and "imported 0 messages" in p.stdout, p.stdout + p.stderr)
    compare("ternd after the second run", m, d, {**TARGET, "Bulk": "Bulk"})

    # The source folder is re-created (new UIDVALIDITY, new UIDs) with the same two messages
    # and one more: the two are matched by size and INTERNALDATE, only the new one is copied.
    m.select("INBOX")
    check("source folder deleted", m.delete('"Projects/2024"')[0] == "OK")
    m.create('"Projects/2024"')
    for i, (folder, flags, date) in enumerate(SOURCE):
        if folder == "Projects/2024":
            m.append(f'"{folder}"', flags, date, body(i, folder))
    m.append('"Projects/2024"', r"(\Seen)", '"07-Jul-2024 07:07:07 +0000"', body(77, "Projects/2024"))
    p = run_import(dst, BOB, url, pw_file, "--ca-file", src.cert)
    check("changed UIDVALIDITY: matched by size and date, the new message copied",
          p.returncode == 0 and re.search(r"^Projects/2024 -> Projects/2024: 1 to import, 0 already imported; "
                                          r"UIDVALIDITY changed \(\d+ -> \d+\), 2 matched", p.stdout, re.M)
          and "imported 1 messages" in p.stdout, p.stdout + p.stderr)
    compare("ternd after UIDVALIDITY change", m, d, {"Projects/2024": "Projects/2024"})

    # STARTTLS on the plain port, one folder only, into another user.
    p = run_import(dst, "alice@example.test", f"imap://{BOB}@localhost:{src.port('imap')}", pw_file,
                   "--starttls", "--ca-file", src.cert, "--folders", "Projects/2024")
    check("STARTTLS import of one folder", p.returncode == 0 and "imported 3 messages from 1 folders" in p.stdout,
          p.stdout + p.stderr)
    m.logout()
    d.logout()


DOVECOT_CONF = """
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{d}/mail/%n
default_login_user = dovenull
default_internal_user = dovecot
passdb {{
  driver = passwd-file
  args = {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
  }}
  mailbox Junk {{
    special_use = \\Junk
  }}
  mailbox Drafts {{
    special_use = \\Drafts
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def start_dovecot(tmp):
    d = os.path.join(tmp, "dovecot")
    os.makedirs(os.path.join(d, "mail"))
    os.makedirs(os.path.join(d, "home"))
    os.chmod(tmp, 0o755)
    os.chmod(d, 0o755)
    nobody = pwd.getpwnam("nobody")
    for sub in ("mail", "home"):
        os.chown(os.path.join(d, sub), nobody.pw_uid, nobody.pw_gid)
    with open(os.path.join(d, "passwd"), "w") as f:
        f.write("carol:{PLAIN}carol-dovecot-pw::::::\n")
    port = free_port()
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(DOVECOT_CONF.format(d=d, uid=nobody.pw_uid, gid=nobody.pw_gid, port=port))
    proc = subprocess.Popen(["dovecot", "-F", "-c", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            m = imaplib.IMAP4("127.0.0.1", port, timeout=5)
            m.logout()
            return proc, port, d
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("dovecot exited: " + proc.stderr.read().decode())
            time.sleep(0.2)
    raise RuntimeError("dovecot did not start")


def dovecot_to_tern(dst, tmp):
    proc, port, d = start_dovecot(tmp)
    try:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
        m.login("carol", "carol-dovecot-pw")
        fill(m, ["Projects", "Projects/2024", "Sent Items", "Junk"])
        ctl_ok(dst, "user", "add", "carol@example.test", input="carol-target-pw\n")
        pw_file = os.path.join(tmp, "carol.pw")
        with open(pw_file, "w") as f:
            f.write("carol-dovecot-pw\n")
        url = f"imap://carol@127.0.0.1:{port}"
        p = run_import(dst, "carol@example.test", url, pw_file)
        check("clear text refused without --insecure", p.returncode == 1 and "--insecure" in p.stderr, p.stderr)
        p = run_import(dst, "carol@example.test", url, pw_file, "--insecure")
        check("import from Dovecot succeeds", p.returncode == 0 and "imported 7 messages" in p.stdout,
              p.stdout + p.stderr)
        t = imap_tern(dst, "carol@example.test", "carol-target-pw")
        compare("dovecot", m, t, TARGET)
        check("Dovecot's \\Junk is Tern's Junk", "\\Junk" in special_use_of(t, "Junk"), special_use_of(t, "Junk"))
        p = run_import(dst, "carol@example.test", url, pw_file, "--insecure")
        check("second Dovecot run imports nothing", p.returncode == 0 and "imported 0 messages" in p.stdout,
              p.stdout + p.stderr)
        m.logout()
        t.logout()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if check.failures and os.path.exists(os.path.join(d, "dovecot.log")):
            with open(os.path.join(d, "dovecot.log")) as f:
                print("---- dovecot log ----\n" + f.read()[-4000:], file=sys.stderr)


HOSTILE_BODIES = [
    b"* 1 FETCH (UID 1 FLAGS () BODY[] {99999999999999}\r\n",            # absurd literal
    b"* 1 FETCH (UID 1 FLAGS (\\Seen BODY[] {4}\r\nabcd\r\n",          # unbalanced list
    b"* 1 FETCH (UID 1 FLAGS () BODY[] {400}\r\nonly a few bytes, then EOF",  # short literal
    b"* 1 FETCH (" + b"(" * 5000 + b"\r\n",                               # deep nesting
]


def hostile_server(payload):
    """One connection of a server that lists INBOX with one message, then answers the body
    FETCH with `payload` and hangs up."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        f = conn.makefile("rb")
        conn.sendall(b"* OK hostile ready\r\n")
        try:
            for line in f:
                tag, cmd = line.split(b" ", 1)
                cmd = cmd.upper()
                if cmd.startswith(b"CAPABILITY"):
                    conn.sendall(b"* CAPABILITY IMAP4rev1 SPECIAL-USE\r\n" + tag + b" OK done\r\n")
                elif cmd.startswith(b"LIST"):
                    conn.sendall(b'* LIST () "/" INBOX\r\n' + tag + b" OK done\r\n")
                elif cmd.startswith(b"EXAMINE"):
                    conn.sendall(b"* 1 EXISTS\r\n* OK [UIDVALIDITY 5] ok\r\n" + tag + b" OK done\r\n")
                elif cmd.startswith(b"UID FETCH 1:*"):
                    conn.sendall(b'* 1 FETCH (UID 1 RFC822.SIZE 4 INTERNALDATE "01-Jan-2020 00:00:00 +0000")\r\n'
                                 + tag + b" OK done\r\n")
                elif cmd.startswith(b"UID FETCH"):
                    conn.sendall(payload)
                    break
                else:
                    conn.sendall(tag + b" OK done\r\n")
        finally:
            conn.close()
            srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1]


def hostile(dst, tmp):
    pw_file = os.path.join(tmp, "hostile.pw")
    with open(pw_file, "w") as f:
        f.write("x\n")
    for i, payload in enumerate(HOSTILE_BODIES):
        port = hostile_server(payload)
        p = run_import(dst, "alice@example.test", f"imap://a@127.0.0.1:{port}", pw_file, "--insecure")
        check(f"hostile server {i}: a clean one-line error", p.returncode == 1 and p.stderr.startswith("ternctl: ")
              and p.stderr.count("\n") == 1 and "Sanitizer" not in p.stderr, p.stdout + p.stderr)


def main():
    tmp = tempfile.mkdtemp(prefix="tern-import-")
    try:
        with Tern(listeners=("imap", "imaps")) as src, Tern(listeners=("smtp", "imaps")) as dst:
            populate(src)
            populate(dst)
            ctl_ok(dst, "user", "passwd", BOB, input="bob-target-pw\n")
            src.start()
            dst.start()
            tern_to_tern(src, dst, tmp)
            hostile(dst, tmp)
            if shutil.which("dovecot"):
                dovecot_to_tern(dst, tmp)
            else:
                check("dovecot installed (scripts/deps.sh: dovecot-imapd)", False)
            if check.failures:
                print(dst.log()[-6000:], file=sys.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
