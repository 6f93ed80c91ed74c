#!/usr/bin/python3
"""A full disk must never lock users out (issue 20), on a 24 MiB tmpfs of its own.

SMTP fills the disk until ternd answers 452 4.3.1 (the free-space reserve); another program
then fills what is left to the last byte; `ternctl user remove` works; IMAP APPEND is
refused with NO [OVERQUOTA]; the users delete half of their mail over IMAP
(STORE \\Deleted + EXPUNGE, MOVE to Trash) and POP3 (DELE + QUIT), which must work on the
full disk; and new mail is accepted again within seconds, without a restart. Every message
that got a 250 is still readable, and `ternctl reindex` then finds files and index agreeing.

Needs root (mount -t tmpfs); skipped with a message when mounting is not permitted.
"""
import imaplib
import os
import poplib
import smtplib
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern  # noqa: E402

DOMAIN = "example.test"
BOB, BOB_PW = "bob@example.test", "bob-secret-1"        # reads over IMAP
CAROL, CAROL_PW = "carol@example.test", "carol-secret-2"  # reads over POP3
DAVE, DAVE_PW = "dave@example.test", "dave-secret-3"      # removed by ternctl on the full disk
MSG_BYTES = 66 * 1024
MIN_FREE = 4 * 1024 * 1024
RESERVE_FILE = 1024 * 1024


def message(n, to):
    body = ("%05d " % n) + "x" * 70 + "\r\n"
    lines = body * (MSG_BYTES // len(body))
    return (f"From: sender@remote.test\r\nTo: {to}\r\nSubject: fill {n}\r\n"
            f"Message-ID: <fill{n}@remote.test>\r\n\r\n{lines}")


def statvfs_free(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class FullDisk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = Tern(listeners=("smtp", "imap", "pop3"), allow_plaintext_without_tls=True,
                     sections={"smtp": {"max_message_size": 200000},
                               "imap": {"max_literal_size": 200000},
                               "store": {"min_free_space": MIN_FREE,
                                         "reserve_file_size": RESERVE_FILE}})
        cls.mounted = False
        os.makedirs(cls.t.data_dir, exist_ok=True)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs",
                            cls.t.data_dir], capture_output=True, text=True)
        if p.returncode != 0:
            cls.t.cleanup()
            raise unittest.SkipTest("cannot mount a tmpfs (needs root): " + p.stderr.strip())
        cls.mounted = True
        try:
            for args, pw in ((("domain", "add", DOMAIN), None), (("user", "add", BOB), BOB_PW),
                             (("user", "add", CAROL), CAROL_PW), (("user", "add", DAVE), DAVE_PW)):
                r = cls.t.ctl(*args, input=(pw + "\n") if pw else None)
                if r.returncode != 0:
                    raise RuntimeError(f"ternctl {args}: {r.stderr}")
            cls.t.start()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.t.kill()
        finally:
            if cls.mounted:
                subprocess.run(["umount", "-l", cls.t.data_dir], capture_output=True)
            cls.t.cleanup()

    def send(self, smtp, n, to):
        """One message on an open session: (code, text) of the first refusal, or (250, ...)."""
        try:
            refused = smtp.sendmail("sender@remote.test", [to], message(n, to))
            return (250, "") if not refused else (refused[to][0], refused[to][1].decode())
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients[to]
            return code, text.decode()
        except smtplib.SMTPSenderRefused as e:
            return e.smtp_code, e.smtp_error.decode()
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()

    def log_tail(self):
        return self.t.log()[-4000:]

    def test_full_disk(self):
        t = self.t
        data = t.data_dir
        accepted = {BOB: 0, CAROL: 0, DAVE: 0}
        # 1. Fill over SMTP until the reserve: 452 4.3.1, never a 451 from a failed write.
        refusal = None
        with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=60) as s:
            s.ehlo("sender.remote.test")
            for n in range(1000):
                to = DAVE if n < 3 else BOB if n % 2 == 0 else CAROL
                code, text = self.send(s, n, to)
                if code == 250:
                    accepted[to] += 1
                    continue
                refusal = (code, text)
                break
        self.assertIsNotNone(refusal, "the disk never filled")
        self.assertEqual(refusal[0], 452, f"{refusal}\n{self.log_tail()}")
        self.assertTrue(refusal[1].startswith("4.3.1"), refusal)
        self.assertEqual(accepted[DAVE], 3)
        total = sum(accepted.values())
        # The 24 MiB file system holds the mail and the full-text index (fts.db), which stops
        # writing 8 MiB above twice min_free_space: about 100 messages of 66 KB fit.
        self.assertGreater(total, 60)
        print(f"accepted {total} messages of {MSG_BYTES} bytes before 452 4.3.1; "
              f"{statvfs_free(data)} bytes free", file=sys.stderr)
        self.assertTrue(os.path.exists(os.path.join(data, "tern-reserve")))

        # 2. Another program takes every byte that is left.
        filler = os.path.join(data, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            for size in (65536, 4096):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(fd)
        self.assertLess(statvfs_free(data), 8192)

        # APPEND is new mail too: refused while the disk is full (RFC 9051 §7.1 OVERQUOTA).
        # Checked now, while the disk certainly is full: the removal below frees dave's mail and
        # may release the reserve file, after which APPEND may fit again.
        imap = imaplib.IMAP4("127.0.0.1", t.port("imap"), timeout=60)
        imap.login(BOB, BOB_PW)
        typ, dat = imap.select("INBOX")
        self.assertEqual(typ, "OK", dat)
        typ, dat = imap.append("INBOX", None, None, message(9000, BOB).encode())
        self.assertEqual(typ, "NO", dat)
        self.assertIn(b"[OVERQUOTA]", dat[0])
        imap.logout()

        # 3. An admin removes a user on the full disk (accounts.db and the index need a page).
        r = t.ctl("user", "remove", DAVE)
        self.assertEqual(r.returncode, 0, f"{r.stderr}\n{self.log_tail()}")
        self.assertNotIn(DAVE, t.ctl("user", "list").stdout)
        self.assertFalse(os.path.exists(os.path.join(data, "mail", DOMAIN, "dave")))

        # 4. Bob deletes half over IMAP: STORE \Deleted + EXPUNGE, and MOVE to Trash.
        imap = imaplib.IMAP4("127.0.0.1", t.port("imap"), timeout=60)
        imap.login(BOB, BOB_PW)
        typ, dat = imap.select("INBOX")
        self.assertEqual(typ, "OK", dat)
        self.assertEqual(int(dat[0]), accepted[BOB])
        half = accepted[BOB] // 2
        typ, dat = imap.store(f"1:{half}", "+FLAGS", "(\\Deleted)")
        self.assertEqual(typ, "OK", f"{dat}\n{self.log_tail()}")
        typ, dat = imap.expunge()
        self.assertEqual(typ, "OK", f"{dat}\n{self.log_tail()}")
        self.assertEqual(len([d for d in dat if d]), half)
        typ, dat = imap._simple_command("MOVE", "1", "Trash")
        self.assertEqual(typ, "OK", f"{dat}\n{self.log_tail()}")
        # (Whether the reserve file exists now depends on timing: ternd makes it again as soon
        # as the deletions leave room for it. The OKs above are what the user sees.)
        typ, dat = imap.select("INBOX")
        self.assertEqual(int(dat[0]), accepted[BOB] - half - 1)
        imap.logout()

        # 5. Carol deletes half over POP3.
        pop = poplib.POP3("127.0.0.1", t.port("pop3"), timeout=60)
        pop.user(CAROL)
        pop.pass_(CAROL_PW)
        count, _ = pop.stat()
        self.assertEqual(count, accepted[CAROL])
        for i in range(1, accepted[CAROL] // 2 + 1):
            pop.dele(i)
        self.assertTrue(pop.quit().startswith(b"+OK"))
        pop = poplib.POP3("127.0.0.1", t.port("pop3"), timeout=60)
        pop.user(CAROL)
        pop.pass_(CAROL_PW)
        self.assertEqual(pop.stat()[0], accepted[CAROL] - accepted[CAROL] // 2)
        pop.quit()

        # 6. New mail is accepted again within seconds, without a restart.
        deadline = time.monotonic() + 10
        last = None
        while time.monotonic() < deadline:
            with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=60) as s:
                last = self.send(s, 5000, BOB)
            if last[0] == 250:
                break
            time.sleep(0.2)
        self.assertEqual(last[0], 250, f"{last}\n{self.log_tail()}")
        os.unlink(filler)

        # 7. ternd stayed up; every acknowledged message that was not deleted is there, and
        # the index agrees with the files.
        self.assertIsNone(t.proc.poll())
        r = t.ctl("reindex")
        self.assertEqual(r.returncode, 0, r.stderr)
        imap = imaplib.IMAP4("127.0.0.1", t.port("imap"), timeout=60)
        imap.login(BOB, BOB_PW)
        typ, dat = imap.select("INBOX")
        self.assertEqual(int(dat[0]), accepted[BOB] - half - 1 + 1)
        typ, dat = imap.fetch("1:*", "(RFC822.SIZE)")
        self.assertEqual(typ, "OK")
        typ, dat = imap.select("Trash")
        self.assertEqual(int(dat[0]), 1)
        imap.logout()
        self.assertNotIn("AddressSanitizer", t.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
