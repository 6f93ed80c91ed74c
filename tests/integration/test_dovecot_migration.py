#!/usr/bin/python3
"""Moving in from Dovecot and out to it, against the real Debian Dovecot (dovecot-imapd,
started here on loopback by bench/peers/dovecot.sh with its own config and base_dir).

In: a Dovecot Maildir filled over IMAP (nested and non-ASCII folders, flags, keywords,
expunged gaps, subscriptions) is copied over a new Tern user's directory and adopted by
`ternctl reindex`; IMAP then shows the same UIDVALIDITY, UIDs, UIDNEXT, flags, keywords,
folders and subscriptions as Dovecot did, and a new message gets a UID above.

Out: mail delivered into Tern (flags and keywords set over IMAP), the Maildir copied into a
fresh Dovecot: Dovecot shows the same UIDVALIDITY, UIDs and keywords (Tern keeps
dovecot-uidlist and dovecot-keywords current in every folder).
"""
import imaplib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from ternlib import Tern, client_tls_context

USER = "alice@example.test"
PASSWORD = "migrate-pass-1"
SOURCE = os.environ.get("TERN_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
DOVECOT_SH = os.path.join(SOURCE, "bench", "peers", "dovecot.sh")


class Dovecot:
    """A private Dovecot instance; its Maildir is root/alice/Maildir."""

    def __init__(self, parent):
        self.dir = os.path.join(parent, "dovecot")
        self.root = os.path.join(parent, "mailroot")
        out = subprocess.run(["bash", DOVECOT_SH, "start", self.dir, self.root, USER, PASSWORD],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError("dovecot did not start: " + out.stderr)
        fields = dict(kv.split("=", 1) for kv in out.stdout.split())
        self.port = int(fields["imap"])
        self.uid, self.gid = int(fields["mail_uid"]), int(fields["mail_gid"])
        self.maildir = os.path.join(self.root, "alice", "Maildir")

    def imap(self):
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        ok(m.login("alice", PASSWORD))
        return m

    def stop(self):
        subprocess.run(["bash", DOVECOT_SH, "stop", self.dir], capture_output=True, timeout=60)


def ok(res):
    typ, data = res
    if typ != "OK":
        raise AssertionError(f"IMAP said {typ}: {data}")
    return data


def message(i, subject=None):
    return (b"From: old@example.org\r\nTo: alice@example.test\r\nSubject: %s\r\n"
            b"Message-ID: <m%d@example.org>\r\n\r\nbody %d\r\n" % ((subject or "m%d" % i).encode(), i, i))


LIST_RE = re.compile(rb'\((?P<attrs>[^)]*)\) (?:"(?P<delim>[^"]*)"|NIL) (?P<name>.+)$')


def folders(m, command="LIST"):
    """{normalised name: attributes}: '/' between levels whatever the server's delimiter."""
    typ, data = m.list() if command == "LIST" else m.lsub()
    assert typ == "OK", data
    out = {}
    for line in data:
        if not line:
            continue
        g = LIST_RE.match(line)
        assert g, line
        name = g.group("name").decode()
        if name.startswith('"'):
            name = name[1:-1]
        delim = (g.group("delim") or b"/").decode()
        out[name.replace(delim, "/")] = set(g.group("attrs").decode().split())
    return out


def wire(name, delim):
    n = name.replace("/", delim)
    return '"' + n + '"'


def mailbox_state(m, name, delim):
    """UIDVALIDITY, UIDNEXT and {uid: flags without \\Recent} of one mailbox."""
    typ, data = m.status(wire(name, delim), "(UIDVALIDITY UIDNEXT MESSAGES)")
    assert typ == "OK", (name, data)
    st = dict(re.findall(rb"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", data[0]))
    ok(m.select(wire(name, delim), readonly=True))
    msgs = {}
    if int(st[b"MESSAGES"]):
        typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK", data
        for line in data:
            if not isinstance(line, bytes):
                continue
            g = re.search(rb"UID (\d+) FLAGS \(([^)]*)\)|FLAGS \(([^)]*)\) UID (\d+)", line)
            assert g, line
            uid = int(g.group(1) or g.group(4))
            flags = (g.group(2) if g.group(2) is not None else g.group(3)).decode().split()
            msgs[uid] = sorted(f for f in flags if f.lower() != "\\recent")
    m.close()
    return {"uidvalidity": int(st[b"UIDVALIDITY"]), "uidnext": int(st[b"UIDNEXT"]), "messages": msgs}


def run_ctl(t, *args):
    p = t.ctl(*args)
    if p.returncode != 0:
        raise AssertionError(f"ternctl {' '.join(args)} failed: {p.stderr}")
    return p.stdout


def tern_imap(t):
    m = imaplib.IMAP4_SSL("127.0.0.1", t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
    ok(m.login(USER, PASSWORD))
    return m


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print("ok:", what.split("\n")[0][:150])


def fill_dovecot(dc):
    """Folders (nested, non-ASCII), flags, keywords, expunged gaps, subscriptions."""
    m = dc.imap()
    for name in ("Work", "Work.Projects", "&AMQ-rger"):  # "Ärger"
        ok(m.create(name))
    for i in range(1, 9):
        ok(m.append("INBOX", None, None, message(i)))
    ok(m.select("INBOX"))
    ok(m.uid("STORE", "1", "+FLAGS", r"(\Seen $Forwarded custom1)"))
    ok(m.uid("STORE", "3", "+FLAGS", r"(\Answered \Flagged Later)"))
    ok(m.uid("STORE", "6", "+FLAGS", r"(\Draft custom1)"))
    ok(m.uid("STORE", "2,5", "+FLAGS", r"(\Deleted)"))
    ok(m.expunge())  # gaps at UIDs 2 and 5
    ok(m.uid("STORE", "8", "+FLAGS", r"(\Deleted)"))
    ok(m.expunge())  # the highest UID gone too
    ok(m.close())
    ok(m.append("Work.Projects", r"(\Seen)", None, message(20)))
    ok(m.append("Work.Projects", r"(\Seen ProjectX)", None, message(21)))
    ok(m.append("&AMQ-rger", r"(\Flagged)", None, message(30)))
    ok(m.subscribe("INBOX"))
    ok(m.subscribe("Work.Projects"))
    ok(m.subscribe("&AMQ-rger"))
    ok(m.subscribe("Work"))
    ok(m.unsubscribe("Work"))
    m.logout()


def snapshot(m, delim, names):
    return {n: mailbox_state(m, n, delim) for n in names}


def move_in(base):
    dc = Dovecot(base)
    try:
        fill_dovecot(dc)
        m = dc.imap()
        dv_folders = folders(m)
        dv_subs = set(folders(m, "LSUB"))
        dv = snapshot(m, ".", dv_folders)
        m.logout()
    finally:
        dc.stop()
    check(dv["INBOX"]["uidnext"] == 9 and sorted(dv["INBOX"]["messages"]) == [1, 3, 4, 6, 7],
          f"Dovecot INBOX has gaps: {dv['INBOX']}")

    with Tern(listeners=("imaps",)) as t:
        run_ctl(t, "domain", "add", "example.test")
        p = t.ctl("user", "add", USER, input=PASSWORD + "\n")
        assert p.returncode == 0, p.stderr
        t.start()
        # As the README says: create the user, copy the Maildir over its directory, reindex.
        udir = os.path.join(t.data_dir, "mail", "example.test", "alice")
        os.makedirs(udir, exist_ok=True)
        subprocess.run(["cp", "-a", dc.maildir + "/.", udir + "/"], check=True)
        out = run_ctl(t, "reindex", USER)
        print(out)
        check(re.search(r"INBOX: 5 adopted with Dovecot UIDs, uidvalidity %d kept, uidnext 9"
                        % dv["INBOX"]["uidvalidity"], out), "reindex reports INBOX\n" + out)
        check("Work/Projects: 2 adopted" in out, "reindex reports Work/Projects")
        check("subscriptions taken from Dovecot" in out, "reindex reports the subscriptions")

        m = tern_imap(t)
        tn_folders = folders(m)
        extra = set(tn_folders) - set(dv_folders)
        check(set(dv_folders) <= set(tn_folders) and extra <= {"Drafts", "Sent", "Trash", "Junk", "Archive"},
              f"folders: Dovecot {sorted(dv_folders)}, Tern {sorted(tn_folders)}")
        check(set(folders(m, "LSUB")) == dv_subs, f"subscriptions {sorted(dv_subs)}")
        tn = snapshot(m, "/", dv_folders)
        for name in dv_folders:
            check(tn[name] == dv[name], f"{name}: Tern {tn[name]} == Dovecot {dv[name]}")
        typ, data = m.append("INBOX", r"(\Seen)", None, message(99))
        g = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
        check(typ == "OK" and int(g.group(1)) == dv["INBOX"]["uidvalidity"]
              and int(g.group(2)) >= dv["INBOX"]["uidnext"], f"APPEND after adoption: {data}")
        m.logout()


def folded(state):
    return dict(state, messages={u: sorted(f.lower() for f in fl) for u, fl in state["messages"].items()})


def move_out(base):
    with Tern(listeners=("imaps",)) as t:
        run_ctl(t, "domain", "add", "example.test")
        p = t.ctl("user", "add", USER, input=PASSWORD + "\n")
        assert p.returncode == 0, p.stderr
        t.start()
        m = tern_imap(t)
        ok(m.create('"Projekte/&AMQ-rger"'))  # "Projekte/Ärger": nested and non-ASCII
        for i in range(1, 7):
            ok(m.append("INBOX", None, None, message(i)))
        ok(m.append('"Projekte/&AMQ-rger"', r"(\Seen Reviewed)", None, message(40)))
        ok(m.select("INBOX"))
        ok(m.uid("STORE", "1", "+FLAGS", r"(\Seen $Forwarded Later)"))
        ok(m.uid("STORE", "2", "+FLAGS", r"(\Deleted)"))
        ok(m.expunge())
        ok(m.uid("STORE", "4", "+FLAGS", r"(later \Flagged)"))
        ok(m.uid("STORE", "5", "+FLAGS", r"(Later $Forwarded)"))
        ok(m.uid("STORE", "5", "-FLAGS", r"($Forwarded)"))
        ok(m.close())
        tn_folders = folders(m)
        tn = snapshot(m, "/", tn_folders)
        m.logout()
        t.stop()  # the writer's last round runs as the store closes
        maildir = os.path.join(t.data_dir, "mail", "example.test", "alice")
        check(os.path.exists(os.path.join(maildir, "dovecot-uidlist")), "Tern wrote dovecot-uidlist")

        dc = Dovecot(os.path.join(base, "out"))
        try:
            shutil.copytree(maildir, dc.maildir, symlinks=True)
            subprocess.run(["chown", "-R", f"{dc.uid}:{dc.gid}", dc.maildir], check=True)
            m = dc.imap()
            dv_folders = folders(m)
            check(set(dv_folders) == set(tn_folders),
                  f"folders: Tern {sorted(tn_folders)}, Dovecot {sorted(dv_folders)}")
            dv = snapshot(m, ".", dv_folders)
            m.logout()
        finally:
            dc.stop()
        for name in tn_folders:
            # RFC 9051 §2.3.2: keywords are case-insensitive; Tern shows each message's own
            # spelling, Dovecot the folder's first one.
            check(folded(dv[name]) == folded(tn[name]), f"{name}: Dovecot {dv[name]} == Tern {tn[name]}")
        check(tn["INBOX"]["messages"][1] == ["$Forwarded", "Later", "\\Seen"],
              f"keywords were set in Tern: {tn['INBOX']['messages']}")


def main():
    if os.geteuid() != 0:
        print("skipped: needs root to run Dovecot's mail processes as another user")
        return 0
    base = tempfile.mkdtemp(prefix="tern-dovecot-")
    os.chmod(base, 0o755)  # Dovecot's auth and mail processes do not run as root
    started = time.monotonic()
    try:
        move_in(base)
        move_out(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
