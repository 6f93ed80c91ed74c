#!/usr/bin/python3
"""Store recovery through the admin tool, as an admin would do it:
- a message file dropped into a Maildir (e.g. migrated from another server) is indexed by
  `ternctl reindex` and gets a UID;
- deleting index.db and running `ternctl reindex` rebuilds it with the same UIDs and
  UIDVALIDITY, so IMAP/POP3 clients re-download nothing;
- a row whose file vanished is dropped;
- `ternctl user remove` removes the user's mail too.
"""
import glob
import os
import sqlite3
import sys

from ternlib import Tern

USER = "alice@example.test"


def must(p):
    if p.returncode != 0:
        raise AssertionError(f"ternctl failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def index_rows(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "index.db"))
    try:
        rows = db.execute(
            "SELECT mb.name, mb.uidvalidity, m.uid, m.size FROM messages m "
            "JOIN mailboxes mb ON mb.id = m.mailbox_id ORDER BY mb.name, m.uid").fetchall()
    finally:
        db.close()
    return rows


def inbox_dir(data_dir):
    return os.path.join(data_dir, "mail", "example.test", "alice")


def drop_message(maildir, name, body):
    path = os.path.join(maildir, "new", name)
    with open(path, "wb") as f:
        f.write(body)
    return path


def main():
    with Tern(listeners=()) as t:
        must(t.ctl("domain", "add", "example.test"))
        must(t.ctl("user", "add", USER, input="secret-pass\n"))
        # A Maildir copied in from another server: cur/ new/ tmp/ with files, no index rows.
        inbox = inbox_dir(t.data_dir)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(inbox, sub))

        msgs = [b"From: a@b.example\r\nSubject: m%d\r\n\r\nbody %d\r\n" % (i, i) for i in range(3)]
        for i, m in enumerate(msgs):
            drop_message(inbox, f"1700000000.M{i}P1.migrated", m)
        must(t.ctl("reindex"))
        rows = index_rows(t.data_dir)
        inbox_rows = [r for r in rows if r[0] == "INBOX"]
        assert len(inbox_rows) == 3, f"orphan files not indexed: {rows}"
        uids = [r[2] for r in inbox_rows]
        assert len(set(uids)) == 3 and uids == sorted(uids), uids
        assert sorted(r[3] for r in inbox_rows) == sorted(len(m) for m in msgs)
        # The UIDs are now in the file names, so files alone can rebuild the index.
        names = sorted(os.listdir(os.path.join(inbox, "new")) + os.listdir(os.path.join(inbox, "cur")))
        assert all(",U=" in n for n in names), names

        # Lose the index entirely: the rebuild keeps every UID and UIDVALIDITY.
        before = index_rows(t.data_dir)
        for f in glob.glob(os.path.join(t.data_dir, "index.db*")):
            os.remove(f)
        must(t.ctl("reindex"))
        after = index_rows(t.data_dir)
        assert after == before, f"rebuild changed UIDs/UIDVALIDITY:\n{before}\n{after}"

        # A row whose file vanished is dropped; the others stay.
        victim = sorted(glob.glob(os.path.join(inbox, "new", "*")))[0]
        os.remove(victim)
        must(t.ctl("reindex", USER))
        assert len([r for r in index_rows(t.data_dir) if r[0] == "INBOX"]) == 2

        # Bad input is one line and non-zero.
        p = t.ctl("reindex", "not-an-address")
        assert p.returncode != 0 and p.stderr.count("\n") == 1, (p.returncode, p.stderr)

        # Removing the user removes the mail too.
        must(t.ctl("user", "remove", USER))
        assert not os.path.exists(inbox), "user remove left the Maildir behind"
        assert not [r for r in index_rows(t.data_dir)], "user remove left index rows"
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
