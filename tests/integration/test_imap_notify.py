#!/usr/bin/python3
"""IMAP NOTIFY (RFC 5465) against a running ternd with Python's imaplib: one connection issues
NOTIFY SET and waits (between commands, in IDLE, at a NOOP); a second connection (or SMTP)
appends, creates, renames, subscribes and sets flags; the first must receive the right
untagged STATUS / LIST / EXISTS / FETCH responses without asking. Shared mailboxes (RFC 4314)
are reported only where the user may read them."""
import imaplib
import os
import re
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, populate  # noqa: E402

BOB = "bob@example.test"
ALICE = "alice@example.test"
WAIT = 10.0  # seconds a notification may take (the daemon wakes the session at once)


def mail(subject, to=BOB):
    return ("From: Carol <carol@example.net>\r\nTo: " + to + "\r\nSubject: " + subject +
            "\r\nMessage-ID: <" + subject + "@x>\r\n\r\nHello\r\n").encode()


class ImapNotify(TernCase):
    tern_options = {"listeners": ("smtp", "imaps")}

    @classmethod
    def prepare(cls, t):
        populate(t)

    def login(self, user):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        m.login(user, USERS[user])
        self.addCleanup(self.close, m)
        return m

    @staticmethod
    def close(m):
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

    def ok(self, result):
        typ, data = result
        self.assertEqual(typ, "OK", data)
        return data

    def command(self, m, line):
        """Sends a raw command line and returns every line up to its tagged answer."""
        tag = m._new_tag().decode()
        m.send(f"{tag} {line}\r\n".encode())
        return self.lines_until(m, lambda ln: ln.startswith(tag.encode() + b" "))

    def lines_until(self, m, done, timeout=WAIT):
        """Reads lines (literals included) until done(line); fails after `timeout` seconds."""
        lines = []
        deadline = time.monotonic() + timeout
        m.sock.settimeout(timeout)
        while True:
            self.assertLess(time.monotonic(), deadline, lines)
            line = m.readline()
            self.assertTrue(line, f"connection closed after {lines}")
            lit = re.search(rb"\{(\d+)\}\r\n$", line)
            if lit:
                line += m.read(int(lit.group(1))) + m.readline()
            lines.append(line)
            if done(line):
                return lines

    def wait_for(self, m, pattern):
        """Waits, sending nothing, for an unsolicited line matching `pattern`."""
        rx = re.compile(pattern)
        return self.lines_until(m, lambda ln: rx.search(ln) is not None)[-1]

    def deliver(self, subject, to=BOB):
        with smtplib.SMTP("127.0.0.1", self.t.port("smtp"), timeout=30) as s:
            s.sendmail("carol@example.net", [to], mail(subject, to))

    def test_a_errors(self):
        bob = self.login(BOB)
        self.assertIn("NOTIFY", bob.capabilities)
        out = self.command(bob, "NOTIFY SET (personal (MessageNew))")
        self.assertIn(b" BAD ", out[-1])  # RFC 5465 §5: MessageNew needs MessageExpunge
        out = self.command(bob, "NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))")
        self.assertRegex(out[-1], rb" NO \[BADEVENT \(MessageNew MessageExpunge FlagChange MailboxName"
                                  rb" SubscriptionChange\)\]")
        out = self.command(bob, "NOTIFY NONE")
        self.assertIn(b" OK ", out[-1])

    def test_b_other_mailboxes_between_commands_and_in_idle(self):
        bob = self.login(BOB)
        other = self.login(BOB)
        out = self.command(bob, "NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange MailboxName"
                                " SubscriptionChange))")
        self.assertIn(b" OK ", out[-1])
        # RFC 5465 §3.1: STATUS for each mailbox first.
        self.assertTrue(any(ln.startswith(b"* STATUS Archive (MESSAGES 0 UIDNEXT 1 ") for ln in out), out)

        # Between commands: bob sends nothing and still hears of it.
        self.ok(other.append("Archive", None, None, mail("one")))
        line = self.wait_for(bob, rb"^\* STATUS Archive ")
        self.assertRegex(line, rb"^\* STATUS Archive \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 1\)\r\n$")
        self.ok(other.create("Projects"))
        self.assertEqual(self.wait_for(bob, rb"^\* LIST "), b'* LIST () "/" Projects\r\n')
        self.ok(other.rename("Projects", "Work"))
        self.assertEqual(self.wait_for(bob, rb"^\* LIST "), b'* LIST () "/" Work ("OLDNAME" (Projects))\r\n')
        self.ok(other.subscribe("Work"))
        self.assertEqual(self.wait_for(bob, rb"^\* LIST "), b'* LIST (\\Subscribed) "/" Work\r\n')
        self.ok(other.delete("Work"))
        self.assertEqual(self.wait_for(bob, rb"^\* LIST "), b'* LIST (\\NonExistent) "/" Work\r\n')
        # FlagChange: UNSEEN drops.
        self.ok(other.select("Archive"))
        self.ok(other.store("1", "+FLAGS", "(\\Seen)"))
        self.wait_for(bob, rb"^\* STATUS Archive \(MESSAGES 1 UIDNEXT 2 UIDVALIDITY \d+ UNSEEN 0\)")

        # In IDLE.
        bob.send(b"I1 IDLE\r\n")
        self.lines_until(bob, lambda ln: ln.startswith(b"+ "))
        self.deliver("two")  # SMTP into INBOX
        self.wait_for(bob, rb"^\* STATUS INBOX \(MESSAGES 1 UIDNEXT 2 ")
        other.store("1", "+FLAGS", "(\\Deleted)")
        self.ok(other.expunge())
        # (a FlagChange STATUS for the \\Deleted may come first)
        self.wait_for(bob, rb"^\* STATUS Archive \(MESSAGES 0 UIDNEXT 2 ")
        bob.send(b"DONE\r\n")
        self.lines_until(bob, lambda ln: ln.startswith(b"I1 OK"))

        # At a NOOP: whatever came meanwhile is there before the tagged OK.
        self.ok(other.append("Archive", None, None, mail("three")))
        out = self.command(bob, "NOOP")
        if not any(ln.startswith(b"* STATUS Archive") for ln in out):
            out += self.command(bob, "NOOP")
        self.assertTrue(any(re.match(rb"\* STATUS Archive \(MESSAGES 1 UIDNEXT 3 ", ln) for ln in out), out)

        # NOTIFY NONE: silence.
        self.command(bob, "NOTIFY NONE")
        self.ok(other.append("Archive", None, None, mail("four")))
        time.sleep(0.5)
        out = self.command(bob, "NOOP")
        self.assertFalse(any(b"STATUS" in ln for ln in out), out)

    def test_c_selected_mailbox_fetch_att(self):
        alice = self.login(ALICE)
        self.ok(alice.select("INBOX"))
        out = self.command(alice, "NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)])"
                                  " MessageExpunge FlagChange))")
        self.assertIn(b" OK ", out[-1])
        self.deliver("hello-alice", ALICE)
        self.assertEqual(self.wait_for(alice, rb"EXISTS"), b"* 1 EXISTS\r\n")
        fetch = self.wait_for(alice, rb"FETCH")
        self.assertRegex(fetch, rb"^\* 1 FETCH \(UID 1 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\n"
                                rb"Subject: hello-alice\r\n\r\n\)\r\n$")
        # "selected": an expunge by another session is reported at once (RFC 5465 §6.1).
        other = self.login(ALICE)
        self.ok(other.select("INBOX"))
        other.store("1", "+FLAGS", "(\\Deleted)")
        self.ok(other.expunge())
        self.assertEqual(self.wait_for(alice, rb"EXPUNGE"), b"* 1 EXPUNGE\r\n")

    def test_d_shared_mailboxes_respect_acl(self):
        alice = self.login(ALICE)
        self.ok(alice.create("Team"))
        self.ok(alice.setacl("Team", BOB, "lr"))
        bob = self.login(BOB)
        out = self.command(bob, "NOTIFY SET STATUS (subtree #shared (MessageNew MessageExpunge MailboxName))")
        self.assertIn(b" OK ", out[-1])
        self.assertTrue(any(ln.startswith(b"* STATUS #shared/alice@example.test/Team (MESSAGES 0 ") for ln in out), out)
        self.assertFalse(any(b"alice@example.test/INBOX" in ln for ln in out), out)
        self.ok(alice.append("INBOX", None, None, mail("private", ALICE)))  # not shared
        self.ok(alice.append("Team", None, None, mail("shared", ALICE)))
        line = self.wait_for(bob, rb"^\* STATUS ")
        self.assertRegex(line, rb"^\* STATUS #shared/alice@example\.test/Team \(MESSAGES 1 UIDNEXT 2 ")
        out = self.command(bob, "NOOP")
        self.assertFalse(any(b"alice@example.test/INBOX" in ln for ln in out), out)
        # The share withdrawn: the mailbox is gone for bob, and says no more.
        self.ok(alice.deleteacl("Team", BOB))
        self.assertEqual(self.wait_for(bob, rb"^\* LIST "), b'* LIST (\\NonExistent) "/" #shared/alice@example.test/Team\r\n')
        self.ok(alice.append("Team", None, None, mail("after", ALICE)))
        time.sleep(0.5)
        out = self.command(bob, "NOOP")
        self.assertFalse(any(b"STATUS" in ln for ln in out), out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
