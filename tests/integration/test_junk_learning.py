#!/usr/bin/python3
"""Each user's junk classifier, taught over IMAP the way a mail client teaches it (issue 17):

- Bob receives ten mails of each kind; he moves the spam into Junk (UID MOVE) and marks the
  good ones $NotJunk (RFC 5788), as Thunderbird and K-9 do. ternd logs a lesson for each.
- Afterwards a new mail of each kind is filed by the classifier alone: the spammy one lands in
  Junk with $Junk and `BAYES_99` in its X-Spam-Status, the good one in the INBOX with a
  negative Bayes rule. Alice trained nothing: the same spammy mail stays in her INBOX.
- A mail moved back out of Junk is retrained as ham (the earlier lesson is taken back), and
  the token table in classifier.db stays under its bound.
"""
import imaplib
import os
import re
import smtplib
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, ctl_ok, populate  # noqa: E402

BOB = "bob@example.test"
ALICE = "alice@example.test"
SPAM_WORDS = "casino jackpot viagra lottery winner prize bitcoin pharmacy unclaimed guaranteed".split()
HAM_WORDS = "meeting agenda budget minutes project quarterly review draft lunch invoice".split()
COMMON = "the and please today regards thanks about this week with".split()
MAX_TOKENS = 200000  # bayes::Limits::max_tokens


def mail(kind, i):
    import random
    rng = random.Random(f"{kind}{i}")
    words = SPAM_WORDS if kind == "spam" else HAM_WORDS
    body = " ".join(rng.choice(COMMON if rng.random() < 0.3 else words) for _ in range(40))
    sender = "promo@bulk.test" if kind == "spam" else "carol@partner.test"
    return (f"From: <{sender}>\r\nTo: <{BOB}>\r\nSubject: {rng.choice(words)} {kind} {i}\r\n"
            f"Date: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{kind}{i}.{os.getpid()}@test>\r\n"
            f"\r\n{body}\r\n").encode()


class JunkLearning(TernCase):
    tern_options = {"listeners": ("smtp", "imaps"), "sections": {"spam": {"enabled": True}}}

    @classmethod
    def prepare(cls, t):
        populate(t)

    def send(self, rcpt, msg):
        with smtplib.SMTP("127.0.0.1", self.t.port("smtp"), timeout=30) as s:
            s.sendmail("sender@outside.test", [rcpt], msg)

    def imap(self, user):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        m.login(user, USERS[user])
        return m

    def find(self, m, mailbox, subject):
        """(uid, header bytes, flags) of the message with this subject in mailbox, or None."""
        m.select(mailbox)
        typ, data = m.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
        uids = data[0].split()
        if not uids:
            return None
        typ, data = m.uid("FETCH", uids[-1], "(FLAGS BODY.PEEK[HEADER])")
        return uids[-1], data[0][1], data[0][0]

    def wait_for(self, m, mailbox, subject, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.find(m, mailbox, subject)
            if found:
                return found
            time.sleep(0.1)
        return None

    def test_lessons_from_imap_classify_new_mail(self):
        for i in range(10):
            self.send(BOB, mail("spam", i))
            self.send(BOB, mail("ham", i))
        m = self.imap(BOB)
        for i in range(10):
            uid, _, _ = self.wait_for(m, "INBOX", f"spam {i}")
            self.assertEqual(m.uid("MOVE", uid, "Junk")[0], "OK")
            uid, _, _ = self.wait_for(m, "INBOX", f"ham {i}")
            self.assertEqual(m.uid("STORE", uid, "+FLAGS", "($NotJunk)")[0], "OK")
        log = self.t.log()
        self.assertEqual(len(re.findall(rf"junk lesson user={BOB} class=spam messages=1 new=1", log)), 10, log[-3000:])
        self.assertEqual(len(re.findall(rf"junk lesson user={BOB} class=ham messages=1 new=1", log)), 10)

        # New mail: the classifier decides (the built-in rules alone score these 0).
        self.send(BOB, mail("spam", 100))
        self.send(BOB, mail("ham", 100))
        junk = self.wait_for(m, "Junk", "spam 100")
        self.assertIsNotNone(junk, "the spammy mail must be filed in Junk")
        _, header, flags = junk
        self.assertIn(b"$Junk", flags)
        self.assertRegex(header, rb"(?s)X-Spam-Status: Yes.*BAYES_99")
        inbox = self.wait_for(m, "INBOX", "ham 100")
        self.assertIsNotNone(inbox)
        self.assertRegex(inbox[1], rb"(?s)X-Spam-Status: No.*BAYES_(00|05|20)")
        self.assertIsNone(self.find(m, "INBOX", "spam 100"))

        # Alice trained nothing: the same mail is not judged by Bob's lessons.
        self.send(ALICE, mail("spam", 100))
        a = self.imap(ALICE)
        mine = self.wait_for(a, "INBOX", "spam 100")
        self.assertIsNotNone(mine)
        self.assertNotIn(b"BAYES", mine[1])
        a.logout()

        # Changing one's mind: out of Junk is a ham lesson that replaces the spam one.
        uid, _, _ = self.find(m, "Junk", "spam 3")
        self.assertEqual(m.uid("MOVE", uid, "INBOX")[0], "OK")
        deadline = time.monotonic() + 5
        while "class=ham messages=1 new=1" not in self.t.log()[-2000:] and time.monotonic() < deadline:
            time.sleep(0.1)
        db = sqlite3.connect(os.path.join(self.t.data_dir, "classifier.db"))
        spam, ham = db.execute("SELECT spam, ham FROM users WHERE name = ?", (BOB,)).fetchone()
        self.assertEqual((spam, ham), (9, 11))  # the moved-back one now counts as ham only
        tokens = db.execute("SELECT count(*) FROM tokens t JOIN users u ON u.id = t.user WHERE u.name = ?",
                            (BOB,)).fetchone()[0]
        self.assertGreater(tokens, 20)
        self.assertLessEqual(tokens, MAX_TOKENS)
        db.close()
        # The admin sees the same through ternctl (read while ternd runs), for any spelling.
        shown = ctl_ok(self.t, "spam", "show", BOB.upper())
        self.assertIn("trained\t9 spam\t11 ham\n", shown)
        self.assertIn(f"tokens\t{tokens}\n", shown)
        self.assertIn("trained\t0 spam\t0 ham\n", ctl_ok(self.t, "spam", "show", ALICE))
        m.logout()


if __name__ == "__main__":
    unittest.main(verbosity=2)
