#!/usr/bin/python3
"""POP3 with curl: listing and retrieving over pop3s and over STLS (--ssl-reqd), deleting
with -X DELE, and a message delivered by SMTP, deleted over POP3, gone from the store (and
from IMAP when the IMAP service answers)."""
import os
import shutil
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ.get("TERN_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "..", "..")),
                                "tests", "support"))
import mailfill  # noqa: E402
from ternlib import Checks, Tern  # noqa: E402

USER = "dave@example.test"
PASSWORD = "dave-pw-3"

check = Checks()


def curl(*args, timeout=120):
    p = subprocess.run(["curl", "-s", "-S", "-k", "--max-time", "60", "-u", f"{USER}:{PASSWORD}",
                        *args], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def imap_sees(t, user, password):
    """UIDs in INBOX as IMAP reports them (UID SEARCH ALL), or None without an IMAP service."""
    try:
        s = t.connect_tls("imaps", timeout=30)
    except (OSError, ssl.SSLError):
        return None
    try:
        f = s.makefile("rb")
        if not f.readline().startswith(b"* OK"):
            return None

        def cmd(tag, text):
            s.sendall(f"{tag} {text}\r\n".encode())
            lines = []
            while True:
                ln = f.readline()
                if not ln:
                    return lines, b""
                if ln.startswith(tag.encode() + b" "):
                    return lines, ln
                lines.append(ln)

        _, st = cmd("a1", f'LOGIN "{user}" "{password}"')
        if b" OK" not in st:
            return None
        cmd("a2", "SELECT INBOX")
        lines, st = cmd("a3", "UID SEARCH ALL")
        cmd("a4", "LOGOUT")
        uids = []
        for ln in lines:
            if ln.startswith(b"* SEARCH"):
                uids += [int(x) for x in ln.split()[2:]]
        return sorted(uids)
    finally:
        s.close()


def main():
    if not shutil.which("curl"):
        print("curl not installed", file=sys.stderr)
        return 1
    with Tern() as t:
        t.start()
        for args, pw in ((["domain", "add", "example.test"], None), (["user", "add", USER], PASSWORD)):
            p = t.ctl(*args, input=(pw + "\n") if pw else None)
            if p.returncode != 0:
                raise RuntimeError(f"ternctl {args}: {p.stderr}")
        msgs = [mailfill.make_message(i, body_lines=3 + i, rcpt=USER) for i in range(3)]
        how = mailfill.fill(t, USER, PASSWORD, msgs)
        print(f"messages delivered by {how}")
        files = mailfill.maildir_files(t.data_dir, USER)
        uids = sorted(k for k in files if isinstance(k, int))
        check("3 stored", len(uids) == 3, list(files))
        base = f"pop3s://127.0.0.1:{t.port('pop3s')}"

        # Listing (LIST with no message number).
        rc, out, err = curl(base + "/")
        want = "".join(f"{n} {len(files[u])}\r\n" for n, u in enumerate(uids, start=1)).encode()
        check("curl list rc", rc == 0, err)
        check("curl list = sizes of the stored files", out == want, (out, want))

        # Message 1 over implicit TLS (curl undoes the byte-stuffing).
        rc, out, err = curl(base + "/1")
        check("curl RETR 1 rc", rc == 0, err)
        check("curl RETR 1 = stored bytes", out == files[uids[0]], (out[:200], files[uids[0]][:200]))

        # Message 2 on the plain port, upgraded with STLS, TLS required.
        rc, out, err = curl("--ssl-reqd", f"pop3://127.0.0.1:{t.port('pop3')}/2")
        check("curl STLS RETR 2 rc", rc == 0, err)
        check("curl STLS RETR 2 = stored bytes", out == files[uids[1]])

        # Without TLS the login is refused ([AUTH]): curl fails.
        rc, out, err = curl(f"pop3://127.0.0.1:{t.port('pop3')}/1")
        check("curl without TLS refused", rc != 0 and out == b"", (rc, err))

        # UIDL through a custom command.
        rc, out, err = curl("-X", "UIDL", base + "/")
        lines = out.decode().split("\r\n")
        check("curl UIDL", rc == 0 and len([x for x in lines if x]) == 3, (rc, out, err))

        # Delete message 1 (curl sends DELE then QUIT): gone from files, index and IMAP.
        before_imap = imap_sees(t, USER, PASSWORD)
        rc, out, err = curl("-X", "DELE", "-I", base + "/1")
        check("curl DELE rc", rc == 0, err)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and uids[0] in mailfill.maildir_files(t.data_dir, USER):
            time.sleep(0.1)
        left = mailfill.maildir_files(t.data_dir, USER)
        check("curl DELE removed the file", uids[0] not in left and len(left) == 2, list(left))
        rc, out, err = curl(base + "/")
        check("curl list after DELE", out.count(b"\r\n") == 2, out)
        after_imap = imap_sees(t, USER, PASSWORD)
        if before_imap is None or after_imap is None:
            print("IMAP service not answering: IMAP view not checked")
        else:
            check("IMAP saw the message before", uids[0] in before_imap, before_imap)
            check("IMAP does not see it after", uids[0] not in after_imap and len(after_imap) == 2,
                  after_imap)
        rc = t.stop()
        check("ternd exits 0", rc == 0, rc)

    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
