"""ternctl backup during SMTP ingest, and ternctl restore into an empty data_dir.

Four SMTP clients deliver to two users (and one IMAP client moves and flags messages) while
`ternctl backup` runs. Every message whose 250 came before the backup began must be in the
restored store, with the UID and the UIDVALIDITY it had in the original, and the accounts
(passwords) and folders must come back too. Restore refuses a running ternd's data_dir and a
data_dir that is not empty.
"""
import imaplib
import os
import re
import shutil
import smtplib
import threading
import time
import unittest

from ternlib import Tern

USERS = {"ann@example.test": "pw-ann-123456", "bob@example.test": "pw-bob-123456"}


def setup_accounts(t):
    for args, pw in ((("domain", "add", "example.test"), None),
                     *((("user", "add", u), p + "\n") for u, p in USERS.items())):
        p = t.ctl(*args, input=pw)
        assert p.returncode == 0, p.stderr


def imap(t, user):
    c = imaplib.IMAP4(host="127.0.0.1", port=t.port("imap"), timeout=60)
    c.login(user, USERS[user])
    return c


def uid_map(t, user, folder="INBOX"):
    """(UIDVALIDITY, {message-id: uid}) of a folder."""
    c = imap(t, user)
    typ, _ = c.select(folder, readonly=True)
    assert typ == "OK"
    validity = int(c.response("UIDVALIDITY")[1][0])
    out = {}
    typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            mid = re.search(rb"<([^>]+)>", item[1])
            if mid:
                out[mid.group(1).decode()] = uid
    c.logout()
    return validity, out


class BackupRestore(unittest.TestCase):
    def test_backup_during_ingest_then_restore(self):
        limits = {"limits": {"smtp_max_connections_per_ip": 100}}
        with Tern(listeners=("smtp", "imap"), allow_plaintext_without_tls=True,
                  sections=limits) as t:
            setup_accounts(t)
            t.start()
            # A folder and a flagged message exist before the backup.
            c = imap(t, "ann@example.test")
            self.assertEqual(c.create("Projects")[0], "OK")
            c.logout()

            acked = []  # (time of the 250, user, message-id)
            lock = threading.Lock()
            stop = threading.Event()
            errors = []

            def sender(n):
                try:
                    with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=60) as s:
                        i = 0
                        while not stop.is_set() and i < 3000:
                            user = list(USERS)[i % 2]
                            mid = f"b{n}.{i}@sender.test"
                            msg = (f"From: <x@sender.test>\r\nTo: <{user}>\r\n"
                                   f"Subject: backup {n}.{i}\r\nMessage-ID: <{mid}>\r\n\r\n"
                                   + "line of text\r\n" * (5 + i % 200)).encode()
                            s.sendmail("x@sender.test", [user], msg)
                            with lock:
                                acked.append((time.monotonic(), user, mid))
                            i += 1
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))

            threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
            for th in threads:
                th.start()
            # Let mail flow, then back up in the middle of it.
            deadline = time.monotonic() + 30
            while len(acked) < 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            backup = os.path.join(t.dir, "backup")
            began = time.monotonic()
            p = t.ctl("backup", backup, timeout=300)
            ended = time.monotonic()
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"^backup .*: 3 databases, \d+ files")
            time.sleep(0.3)
            stop.set()
            for th in threads:
                th.join(120)
            self.assertEqual(errors, [])
            must_have = {(u, m) for when, u, m in acked if when < began}
            self.assertGreater(len(must_have), 100)
            print(f"{len(must_have)} acknowledged before the backup, {len(acked)} in all; "
                  f"backup took {ended - began:.2f} s", flush=True)
            original = {u: uid_map(t, u) for u in USERS}
            self.assertEqual(t.stop(), 0)

            # Restore into a fresh data_dir; a running ternd's data_dir is refused.
            with Tern(listeners=("smtp", "imap"), allow_plaintext_without_tls=True) as r:
                r.start()
                p = r.ctl("restore", backup)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn("ternd is running", p.stderr)
                self.assertEqual(r.stop(), 0)
                p = r.ctl("restore", backup)
                self.assertNotEqual(p.returncode, 0)  # not empty any more: it has run
                self.assertIn("not empty", p.stderr)
                shutil.rmtree(r.data_dir)
                p = r.ctl("restore", backup)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertTrue(p.stdout.startswith(f"restored {r.data_dir}: 3 databases"), p.stdout)
                r.start()
                for user in USERS:
                    validity, uids = uid_map(r, user)
                    self.assertEqual(validity, original[user][0], user)
                    wanted = {m for u, m in must_have if u == user}
                    missing = wanted - set(uids)
                    self.assertFalse(missing, f"{user}: {len(missing)} acknowledged messages "
                                              f"missing, e.g. {sorted(missing)[:3]}")
                    for mid, uid in uids.items():
                        self.assertEqual(uid, original[user][1].get(mid), mid)
                # Accounts and folders came back: ann logs in with her password, sees Projects.
                c = imap(r, "ann@example.test")
                typ, data = c.list()
                self.assertTrue(any(b"Projects" in line for line in data), data)
                c.logout()
                self.assertEqual(r.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
