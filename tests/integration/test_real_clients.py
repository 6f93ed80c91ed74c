#!/usr/bin/python3
"""Real mail clients from Debian against a running ternd, as a user would run them.

- msmtp submits over STARTTLS (587) and implicit TLS (465) with AUTH PLAIN and LOGIN, checking
  the server certificate; a wrong password and a sender the user does not own are refused.
- mbsync (isync) syncs both ways with a local Maildir over IMAPS: pulls delivered mail, pushes
  a new local message and a new folder, carries flags and deletions in both directions, and a
  second run changes nothing (no duplicates).
- offlineimap3 pulls a mailbox over IMAPS (hostname-verified certificate) and a re-run
  downloads nothing twice.
- fetchmail keeps mail on the server over POP3S with UIDL: a re-run fetches nothing again, a
  new message is fetched alone, and a final flush deletes everything, which IMAP then sees.
Every client is run with a timeout; the Debian packages come from scripts/deps.sh.
"""
import email
import imaplib
import os
import re
import smtplib
import subprocess
import sys
import time

from ternlib import Checks, Tern, client_tls_context

DOMAIN = "example.test"
USERS = {"alice@example.test": "alice-pass-1", "bob@example.test": "bob-pass-2",
         "carol@example.test": "carol-pass-3"}

check = Checks()


def run(argv, timeout=90, input=None, env=None):
    p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def message(i, sender, rcpt, subject=None):
    subject = subject or f"real client message {i}"
    return (f"From: <{sender}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\n"
            f"Message-ID: <rc{i}.{os.getpid()}@example.test>\r\n"
            "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\n"
            f"body of message {i}\r\n.a line starting with a dot\r\nlast line\r\n").encode()


def deliver(t, rcpt, msgs):
    with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=30) as s:
        for m in msgs:
            s.sendmail("someone@outside.test", [rcpt], m)


def imap(t, user):
    c = imaplib.IMAP4_SSL("127.0.0.1", t.port("imaps"), ssl_context=client_tls_context(),
                          timeout=30)
    c.login(user, USERS[user])
    return c


def mailbox_messages(t, user, mailbox="INBOX"):
    """{Message-ID: (flags, bytes)} of a mailbox, read over IMAP."""
    c = imap(t, user)
    try:
        typ, exists = c.select(f'"{mailbox}"', readonly=True)
        if typ != "OK":
            return None
        out = {}
        if int(exists[0]) == 0:  # "1:*" names no message in an empty mailbox: BAD, as Dovecot
            return out
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[])")
        if typ != "OK":
            return out
        for item in data:
            if not isinstance(item, tuple):
                continue
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0])
            mid = email.message_from_bytes(item[1])["Message-ID"]
            out[mid] = (flags.group(1).decode() if flags else "", item[1])
        return out
    finally:
        c.logout()


def body_of(raw):
    """The message from its first header we wrote on: ternd and fetchmail prepend trace fields."""
    raw = raw.replace(b"\r\n", b"\n")
    # mbsync marks the copies it writes with an X-TUID field (its own transaction id).
    raw = re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", raw)
    i = raw.find(b"From: <")
    return raw[i:] if i >= 0 else raw


# -------------------------------------------------------------------------------------------
# msmtp

def test_msmtp(t, work):
    conf = os.path.join(work, "msmtprc")
    common = ("defaults\nauth on\ntls on\n"
              f"tls_trust_file {t.cert}\ntls_host_override localhost\nhost 127.0.0.1\n"
              f"logfile {work}/msmtp.log\n\n")
    accounts = [
        ("starttls_plain", t.port("submission"), "on", "plain", "alice@example.test",
         USERS["alice@example.test"]),
        ("implicit_login", t.port("submissions"), "off", "login", "alice@example.test",
         USERS["alice@example.test"]),
        ("wrongpass", t.port("submission"), "on", "plain", "alice@example.test", "not-it"),
    ]
    text = common
    for name, port, starttls, auth, user, pw in accounts:
        text += (f"account {name}\nport {port}\ntls_starttls {starttls}\nauth {auth}\n"
                 f"user {user}\npassword {pw}\nfrom {user}\n\n")
    with open(conf, "w") as f:
        f.write(text)
    os.chmod(conf, 0o600)

    sent = {}
    for i, name in enumerate(("starttls_plain", "implicit_login")):
        m = message(100 + i, "alice@example.test", "bob@example.test", f"via msmtp {name}")
        rc, out, err = run(["msmtp", "-C", conf, "-a", name, "bob@example.test"], input=m)
        if check(f"msmtp {name} sends", rc == 0, f"rc={rc} {err}"):
            sent[email.message_from_bytes(m)["Message-ID"]] = m

    rc, _, err = run(["msmtp", "-C", conf, "-a", "wrongpass", "bob@example.test"],
                     input=message(110, "alice@example.test", "bob@example.test"))
    check("msmtp wrong password refused", rc != 0 and "535" in err, f"rc={rc} {err}")

    # Sender not owned by the authenticated user: 553 5.7.1 at MAIL FROM.
    rc, _, err = run(["msmtp", "-C", conf, "-a", "starttls_plain", "-f", "carol@example.test",
                      "bob@example.test"],
                     input=message(111, "carol@example.test", "bob@example.test"))
    check("msmtp foreign sender refused", rc != 0 and "553" in err, f"rc={rc} {err}")

    got = mailbox_messages(t, "bob@example.test")
    for mid, m in sent.items():
        check(f"msmtp message {mid} delivered", mid in got and body_of(got[mid][1]) == body_of(m),
              f"have {sorted(got)}")
    check("msmtp refused messages not delivered", len(got) == len(sent), f"{len(got)} messages")


# -------------------------------------------------------------------------------------------
# mbsync

def maildir_files(folder):
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(folder, sub)
        for name in os.listdir(d) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            out[email.message_from_bytes(data)["Message-ID"]] = (name, data)
    return out


def test_mbsync(t, work):
    user = "alice@example.test"
    local = os.path.join(work, "mbsync-mail")
    os.makedirs(local)
    conf = os.path.join(work, "mbsyncrc")
    with open(conf, "w") as f:
        f.write(f"""IMAPAccount tern
Host localhost
Port {t.port("imaps")}
User {user}
Pass {USERS[user]}
SSLType IMAPS
CertificateFile {t.cert}
Timeout 30

IMAPStore remote
Account tern

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
""")
    os.chmod(conf, 0o600)

    def mbsync():
        rc, out, err = run(["mbsync", "-c", conf, "-a"], timeout=120)
        check("mbsync exit 0", rc == 0, f"rc={rc} {out} {err}")

    msgs = [message(200 + i, "someone@outside.test", user) for i in range(3)]
    deliver(t, user, msgs)
    mbsync()
    local_inbox = maildir_files(os.path.join(local, "INBOX"))
    for m in msgs:
        mid = email.message_from_bytes(m)["Message-ID"]
        check(f"mbsync pulled {mid}", mid in local_inbox
              and body_of(local_inbox[mid][1]) == body_of(m),
              f"local {local_inbox.get(mid, ('', b''))[1]!r} sent {m!r}")

    # Push: a new message written into the local INBOX and a new local folder with one message.
    pushed = message(210, user, user, "written locally")
    with open(os.path.join(local, "INBOX", "new", f"{int(time.time())}.1.localhost"), "wb") as f:
        f.write(pushed)
    proj = os.path.join(local, "Projects")
    for sub in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(proj, sub))
    folder_msg = message(211, user, user, "in a new folder")
    with open(os.path.join(proj, "cur", f"{int(time.time())}.2.localhost:2,S"), "wb") as f:
        f.write(folder_msg)
    mbsync()
    remote = mailbox_messages(t, user)
    pushed_id = email.message_from_bytes(pushed)["Message-ID"]
    check("mbsync pushed a local message", pushed_id in remote
          and body_of(remote[pushed_id][1]) == body_of(pushed),
          f"remote {remote.get(pushed_id, ('', b''))[1]!r}")
    check("mbsync inbox count", len(remote) == 4, f"{len(remote)} messages")
    proj_remote = mailbox_messages(t, user, "Projects")
    fid = email.message_from_bytes(folder_msg)["Message-ID"]
    check("mbsync created the folder with its message", proj_remote is not None
          and fid in proj_remote and "\\Seen" in proj_remote[fid][0], f"{proj_remote}")

    # Flags both ways and a deletion from each side.
    ids = [email.message_from_bytes(m)["Message-ID"] for m in msgs]
    c = imap(t, user)
    c.select("INBOX")
    typ, data = c.search(None, "HEADER", "Message-ID", ids[0])
    seq0 = data[0].split()[0]
    c.store(seq0, "+FLAGS", "(\\Flagged)")
    typ, data = c.search(None, "HEADER", "Message-ID", ids[2])
    c.store(data[0].split()[0], "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.logout()
    local_inbox = maildir_files(os.path.join(local, "INBOX"))
    # Locally: mark message 1 replied+seen, trash the pushed message.
    for mid, newflags in ((ids[1], "RS"), (pushed_id, "ST")):
        name, _ = local_inbox[mid]
        src_dir = "cur" if os.path.exists(os.path.join(local, "INBOX", "cur", name)) else "new"
        base = name.split(":2,")[0]
        os.rename(os.path.join(local, "INBOX", src_dir, name),
                  os.path.join(local, "INBOX", "cur", f"{base}:2,{newflags}"))
    mbsync()
    local_inbox = maildir_files(os.path.join(local, "INBOX"))
    remote = mailbox_messages(t, user)
    check("mbsync: server flag reached the local copy",
          ids[0] in local_inbox and "F" in local_inbox[ids[0]][0].split(":2,")[-1],
          f"{local_inbox.get(ids[0], ('missing',))[0]}")
    check("mbsync: server expunge removed the local copy", ids[2] not in local_inbox,
          f"{sorted(local_inbox)}")
    check("mbsync: local flags reached the server",
          ids[1] in remote and "\\Answered" in remote[ids[1]][0] and "\\Seen" in remote[ids[1]][0],
          f"{remote.get(ids[1], ('missing',))[0]}")
    check("mbsync: local trash expunged on the server", pushed_id not in remote, f"{sorted(remote)}")
    check("mbsync: two messages left on each side", len(remote) == 2 and len(local_inbox) == 2,
          f"remote {len(remote)} local {len(local_inbox)}")

    # A run with nothing new changes nothing: no duplicates either way.
    before_remote = {k: v[0] for k, v in remote.items()}
    before_local = {k: v[0] for k, v in local_inbox.items()}
    mbsync()
    after_remote = {k: v[0] for k, v in mailbox_messages(t, user).items()}
    after_local = {k: v[0] for k, v in maildir_files(os.path.join(local, "INBOX")).items()}
    check("mbsync idempotent (server)", before_remote == after_remote,
          f"{before_remote} -> {after_remote}")
    check("mbsync idempotent (local)", before_local == after_local,
          f"{before_local} -> {after_local}")


# -------------------------------------------------------------------------------------------
# offlineimap3

def test_offlineimap(t, work):
    user = "carol@example.test"
    msgs = [message(300 + i, "someone@outside.test", user) for i in range(4)]
    deliver(t, user, msgs)
    local = os.path.join(work, "oi-mail")
    conf = os.path.join(work, "offlineimaprc")
    with open(conf, "w") as f:
        f.write(f"""[general]
accounts = tern
metadata = {work}/oi-meta

[Account tern]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {local}

[Repository remote]
type = IMAP
remotehost = localhost
remoteport = {t.port("imaps")}
ssl = yes
sslcacertfile = {t.cert}
remoteuser = {user}
remotepass = {USERS[user]}
""")

    def offlineimap():
        rc, out, err = run(["offlineimap", "-c", conf, "-o", "-u", "basic"], timeout=180)
        check("offlineimap exit 0", rc == 0 and "ERROR" not in out + err,
              f"rc={rc} {out[-2000:]} {err[-2000:]}")

    offlineimap()
    pulled = maildir_files(os.path.join(local, "INBOX"))
    for m in msgs:
        mid = email.message_from_bytes(m)["Message-ID"]
        check(f"offlineimap pulled {mid}", mid in pulled and body_of(pulled[mid][1]) == body_of(m),
              f"{sorted(pulled)}")
    offlineimap()
    again = maildir_files(os.path.join(local, "INBOX"))
    check("offlineimap re-run downloads nothing twice", len(again) == len(msgs),
          f"{len(again)} files")
    check("offlineimap left the server mailbox alone",
          len(mailbox_messages(t, user)) == len(msgs), "")


# -------------------------------------------------------------------------------------------
# fetchmail (POP3 with UIDL, mail kept on the server)

def test_fetchmail(t, work):
    user = "bob@example.test"
    # Bob already has the msmtp messages; the POP3 maildrop is his whole INBOX.
    start_count = len(mailbox_messages(t, user))
    msgs = [message(400 + i, "someone@outside.test", user) for i in range(3)]
    deliver(t, user, msgs)
    spool = os.path.join(work, "fetched")
    os.makedirs(spool)
    mda = os.path.join(work, "mda.py")
    with open(mda, "w") as f:
        f.write("import os, sys, time\n"
                f"d = {spool!r}\n"
                "n = len(os.listdir(d))\n"
                "open(os.path.join(d, '%05d' % n), 'wb').write(sys.stdin.buffer.read())\n")
    rcfile = os.path.join(work, "fetchmailrc")

    def write_rc(keep):
        with open(rcfile, "w") as f:
            f.write(f"""set no bouncemail
set no syslog
poll 127.0.0.1 protocol pop3 port {t.port("pop3s")} uidl timeout 30
  user "{user}" there with password "{USERS[user]}" is "root" here
  ssl sslcertck sslcertfile "{t.cert}" sslcommonname "localhost"
  {"keep" if keep else "no keep"}
  mda "/usr/bin/python3 {mda}"
""")
        os.chmod(rcfile, 0o600)

    env = dict(os.environ, HOME=work)

    def fetchmail(keep, all_=False):
        write_rc(keep)
        argv = ["fetchmail", "-f", rcfile, "-i", os.path.join(work, "fetchids"), "-N",
                "--nosyslog"]
        if all_:
            argv.append("-a")
        rc, out, err = run(argv, timeout=120, env=env)
        # 0: mail fetched; 1: no new mail.
        check("fetchmail ran", rc in (0, 1), f"rc={rc} {out} {err}")
        return rc

    def fetched():
        out = {}
        for name in sorted(os.listdir(spool)):
            with open(os.path.join(spool, name), "rb") as f:
                data = f.read()
            out.setdefault(email.message_from_bytes(data)["Message-ID"], []).append(data)
        return out

    fetchmail(keep=True)
    got = fetched()
    check("fetchmail first run fetched every message", len(got) == start_count + len(msgs)
          and all(len(v) == 1 for v in got.values()), f"{ {k: len(v) for k, v in got.items()} }")
    for m in msgs:
        mid = email.message_from_bytes(m)["Message-ID"]
        check(f"fetchmail bytes of {mid}", mid in got and body_of(got[mid][0]) == body_of(m), "")

    rc = fetchmail(keep=True)
    check("fetchmail re-run fetches nothing (UIDL)", rc == 1
          and sum(len(v) for v in fetched().values()) == start_count + len(msgs),
          f"rc={rc} {len(os.listdir(spool))} files")

    late = message(410, "someone@outside.test", user)
    deliver(t, user, [late])
    fetchmail(keep=True)
    got = fetched()
    late_id = email.message_from_bytes(late)["Message-ID"]
    check("fetchmail fetched only the new message", late_id in got
          and sum(len(v) for v in got.values()) == start_count + len(msgs) + 1,
          f"{len(os.listdir(spool))} files")

    # Flush: fetch all without keep, so fetchmail deletes each message after delivery.
    fetchmail(keep=False, all_=True)
    check("fetchmail flush emptied the mailbox (seen over IMAP)",
          len(mailbox_messages(t, user)) == 0, "")


def main():
    with Tern() as t:
        t.start()
        p = t.ctl("domain", "add", DOMAIN)
        if p.returncode != 0:
            raise RuntimeError(p.stderr)
        for user, pw in USERS.items():
            p = t.ctl("user", "add", user, input=pw + "\n")
            if p.returncode != 0:
                raise RuntimeError(f"user add {user}: {p.stderr}")
        work = os.path.join(t.dir, "clients")
        os.makedirs(work)
        for test in (test_msmtp, test_mbsync, test_offlineimap, test_fetchmail):
            try:
                test(t, work)
            except Exception as e:  # one client's crash must not hide the others' results
                import traceback
                traceback.print_exc()
                check(test.__name__, False, repr(e))
        if check.failures:
            print(f"---- ternd log ----\n{t.log()[-20000:]}", file=sys.stderr)
    sys.exit(check.exit_code())


if __name__ == "__main__":
    main()
