#!/usr/bin/python3
"""Shared mailboxes (RFC 4314 ACL, RFC 2342 shared namespace) through Python's imaplib against
a running ternd: an office's info@ mailbox shared with alice (by SETACL) and bob (by ternctl),
each seeing it as #shared/info@example.test/<name> with the rights given, and nothing else."""
import imaplib
import os
import re
import smtplib
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from smtp_fixture import USERS, ctl_ok, populate  # noqa: E402

INFO = "info@example.test"
INFO_PASSWORD = "info-secret-3"
ALICE = "alice@example.test"
BOB = "bob@example.test"
SHARED = "#shared/" + INFO
for _name in ("LISTRIGHTS", "GETMETADATA", "SETMETADATA"):
    imaplib.Commands.setdefault(_name, ("AUTH", "SELECTED"))


def mail(subject):
    return (b"From: Carol <carol@example.net>\r\nTo: info@example.test\r\nSubject: " + subject +
            b"\r\nMessage-ID: <" + subject + b"@x>\r\n\r\nHello\r\n")


class ImapAcl(TernCase):
    tern_options = {"listeners": ("smtp", "imaps")}

    @classmethod
    def prepare(cls, t):
        populate(t)
        ctl_ok(t, "user", "add", INFO, input=INFO_PASSWORD + "\n")

    def login(self, user):
        m = imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        m.login(user, INFO_PASSWORD if user == INFO else USERS[user])
        self.addCleanup(m.logout)
        return m

    def ok(self, result):
        typ, data = result
        self.assertEqual(typ, "OK", data)
        return data

    def no(self, m, *command, code=None):
        """Runs a raw command expecting NO (with the response code, when given)."""
        typ, data = m._simple_command(*command)
        self.assertEqual(typ, "NO", data)
        if code:
            self.assertIn(b"[" + code + b"]", data[0])

    def listed(self, m):
        data = self.ok(m.list('""', "*"))
        return [re.search(rb'"/" "?([^"]*)"?$', line).group(1).decode() for line in data if line]

    def deliver(self, subject):
        with smtplib.SMTP("127.0.0.1", self.t.port("smtp"), timeout=30) as s:
            s.sendmail("carol@example.net", [INFO], mail(subject))

    def test_a_setacl_share_read_only(self):
        info = self.login(INFO)
        self.assertIn("ACL", info.capabilities)
        self.assertIn("RIGHTS=TEXK", info.capabilities)  # imaplib upper-cases them
        self.deliver(b"first")
        self.ok(info.create("Private"))
        self.ok(info.setacl("INBOX", ALICE, "lr"))
        data = self.ok(info.getacl("INBOX"))
        # RFC 4314 §3.3: the owner's implicit rights and the entry, with "c"/"d" (§2.1.1).
        self.assertEqual(data[0], b"INBOX info@example.test lrswipkxteacd alice@example.test lr")
        typ, data = info._simple_command("LISTRIGHTS", "INBOX", ALICE)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(info._untagged_response(typ, data, "LISTRIGHTS")[1][0],
                         b'INBOX alice@example.test "" l r s w i p k x t e a')

        alice = self.login(ALICE)
        data = self.ok(alice.namespace())
        self.assertEqual(data[0], b'(("" "/")) NIL (("#shared/" "/"))')
        names = self.listed(alice)
        self.assertIn(SHARED + "/INBOX", names)
        self.assertNotIn(SHARED + "/Private", names)  # not shared: not even listed
        data = self.ok(alice.myrights(SHARED + "/INBOX"))
        self.assertEqual(data[0], SHARED.encode() + b"/INBOX lr")
        # Read-only: SELECT answers READ-ONLY, no flag is permanent (imaplib's select() would
        # raise on READ-ONLY, so the command goes raw).
        typ, data = alice._simple_command("SELECT", SHARED + "/INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"[READ-ONLY]", data[0])
        self.assertEqual(alice.response("PERMANENTFLAGS")[1], [b"()"])
        alice.state, alice.is_readonly = "SELECTED", True
        data = self.ok(alice.fetch("1", "(BODY[HEADER.FIELDS (SUBJECT)] FLAGS)"))
        self.assertIn(b"Subject: first", data[0][1])
        # Without "s" reading does not set \Seen (and the owner's flags are the mailbox's).
        info.select("INBOX")
        self.assertNotIn(b"\\Seen", self.ok(info.fetch("1", "FLAGS"))[0])
        self.no(alice, "STORE", "1", "+FLAGS", "(\\Flagged)")
        self.no(alice, "EXPUNGE")
        # RFC 4314 §3.3: GETACL needs "a".
        self.no(alice, "GETACL", SHARED + "/INBOX", code=b"NOPERM")
        self.no(alice, "SETACL", SHARED + "/INBOX", ALICE, "lrswite", code=b"NOPERM")
        # The owner's new mail reaches the other user's session (a store watch on the mailbox).
        self.deliver(b"second")
        for _ in range(50):
            self.ok(alice.noop())
            typ, exists = alice.response("EXISTS")
            if exists and exists[-1] == b"2":
                break
            time.sleep(0.1)
        self.assertEqual(exists[-1], b"2")
        # SEARCH TEXT in the shared mailbox asks the owner's full-text index, not the
        # reader's: alice's own INBOX, indexed under the same UIDs, must not hide the match.
        for word in (b"one", b"two"):
            self.ok(alice.append("INBOX", None, None, b"Subject: own " + word + b"\r\n\r\nnothing shared\r\n"))
        time.sleep(1.0)  # the index fills 100 ms after a commit
        typ, data = alice._simple_command("UID", "SEARCH", "TEXT", "second")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(alice._untagged_response(typ, data, "SEARCH")[1][0].split(), [b"2"])
        # RFC 4314 §4: a mailbox without "l" and "r" looks as if it did not exist.
        self.no(alice, "EXAMINE", SHARED + "/Private", code=b"NONEXISTENT")
        self.no(alice, "STATUS", SHARED + "/Private", "(MESSAGES)", code=b"NONEXISTENT")
        self.no(alice, "MYRIGHTS", SHARED + "/Private", code=b"NONEXISTENT")
        self.no(alice, "APPEND", SHARED + "/INBOX", "{5+}\r\nhello", code=b"NOPERM")

        bob = self.login(BOB)
        self.assertFalse([n for n in self.listed(bob) if n.startswith("#shared")])
        self.no(bob, "SELECT", SHARED + "/INBOX", code=b"NONEXISTENT")

    def test_b_ternctl_share_with_write_rights(self):
        info = self.login(INFO)
        self.ok(info.create("Sales"))
        self.ok(info.append("Sales", None, None, mail(b"lead-1")))
        self.ok(info.append("Sales", None, None, mail(b"lead-2")))
        ctl_ok(self.t, "acl", "set", INFO, "Sales", BOB, "lrsw")
        self.assertIn("Sales\tbob@example.test\tlrsw", ctl_ok(self.t, "acl", "list", INFO, "Sales"))

        bob = self.login(BOB)
        self.assertIn(SHARED + "/Sales", self.listed(bob))
        typ, data = bob.select(SHARED + "/Sales")
        self.assertEqual(typ, "OK", data)
        permanent = bob.response("PERMANENTFLAGS")[1][0]
        self.assertIn(b"\\Seen", permanent)
        self.assertIn(b"\\*", permanent)
        self.assertNotIn(b"\\Deleted", permanent)  # no "t"
        self.ok(bob.store("1", "+FLAGS", "(\\Seen $Lead)"))
        self.no(bob, "STORE", "2", "+FLAGS", "(\\Deleted)", code=b"NOPERM")
        self.no(bob, "EXPUNGE", code=b"NOPERM")
        # Flags are the mailbox's: the owner sees bob's \Seen.
        info.select("Sales")
        self.assertIn(b"\\Seen", self.ok(info.fetch("1", "FLAGS"))[0])
        # COPY out of the shared mailbox into bob's own (two owners: copies are appended).
        typ, data = bob.copy("1", "INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertIn(b"COPYUID", data[0])
        self.no(bob, "APPEND", SHARED + "/Sales", "{5+}\r\nhello", code=b"NOPERM")

        # More rights through ternctl ("+" adds), taken at the next SELECT.
        ctl_ok(self.t, "acl", "set", INFO, "Sales", BOB, "+tei")
        self.ok(bob.select(SHARED + "/Sales"))
        self.ok(bob.store("2", "+FLAGS", "(\\Deleted)"))
        self.ok(bob.expunge())
        self.ok(bob.append(SHARED + "/Sales", None, None, mail(b"lead-3")))
        self.assertEqual(self.ok(info.status("Sales", "(MESSAGES)"))[0], b"Sales (MESSAGES 2)")

        ctl_ok(self.t, "acl", "delete", INFO, "Sales", BOB)
        bob.close()
        self.assertNotIn(SHARED + "/Sales", self.listed(bob))
        self.assertEqual(ctl_ok(self.t, "acl", "list", INFO, "Sales").count("\n"), 1)  # the owner only
        self.assertNotEqual(self.t.ctl("acl", "set", INFO, "Sales", BOB, "lrz").returncode, 0)

    def test_c_setacl_rules(self):
        info = self.login(INFO)
        self.ok(info.create("Notes"))
        # RFC 4314 §3.1: an unknown right is BAD; the owner's rights cannot change.
        with self.assertRaisesRegex(imaplib.IMAP4.error, "BAD"):
            info._simple_command("SETACL", "Notes", BOB, "lrq")
        self.no(info, "SETACL", "Notes", INFO, "l")
        self.ok(info.setacl("Notes", "anyone", "lr"))
        self.ok(info.setacl("Notes", BOB, "+w"))
        self.ok(info.setacl("Notes", BOB, "-w"))
        self.ok(info.setacl("Notes", ALICE, "d"))  # obsolete "d" = x t e
        data = self.ok(info.getacl("Notes"))
        self.assertEqual(data[0], b"Notes info@example.test lrswipkxteacd alice@example.test xted anyone lr")
        self.ok(info.deleteacl("Notes", BOB))  # an absent entry is no error
        bob = self.login(BOB)
        self.assertIn(SHARED + "/Notes", self.listed(bob))  # through "anyone"
        self.assertEqual(self.ok(bob.myrights(SHARED + "/Notes"))[0], SHARED.encode() + b"/Notes lr")
        self.ok(info.deleteacl("Notes", "anyone"))
        self.assertNotIn(SHARED + "/Notes", self.listed(bob))


    def untagged(self, m, command, *args):
        """Runs a raw command expecting OK; returns its untagged `command` lines."""
        typ, data = m._simple_command(command, *args)
        self.assertEqual(typ, "OK", data)
        return m._untagged_response(typ, data, command.replace("GET", "").replace("ROOT", ""))[1]

    def test_d_acl_change_reaches_the_selected_session(self):
        """RFC 4314 §4: the owner's SETACL applies to alice's next command on the mailbox she
        has selected, without a new SELECT."""
        info = self.login(INFO)
        self.ok(info.create("Desk"))
        self.ok(info.append("Desk", None, None, mail(b"desk-1")))
        self.ok(info.setacl("Desk", ALICE, "lrswte"))
        alice = self.login(ALICE)
        self.ok(alice.select(SHARED + "/Desk"))
        self.ok(alice.store("1", "+FLAGS", "(\\Flagged)"))
        self.ok(info.setacl("Desk", ALICE, "lr"))  # write rights gone
        self.no(alice, "STORE", "1", "+FLAGS", "(\\Answered)", code=b"NOPERM")
        self.no(alice, "STORE", "1", "+FLAGS", "(\\Deleted)", code=b"NOPERM")
        self.no(alice, "EXPUNGE", code=b"NOPERM")
        self.assertIn(b"Subject: desk-1", self.ok(alice.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))[0][1])
        self.ok(info.setacl("Desk", ALICE, "l"))  # "r" gone
        self.no(alice, "FETCH", "1", "(FLAGS)", code=b"NOPERM")
        self.no(alice, "UID", "SEARCH", "ALL", code=b"NOPERM")
        self.ok(info.setacl("Desk", ALICE, "lr"))
        self.assertIn(b"Subject: desk-1", self.ok(alice.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))[0][1])

    def test_e_quota_and_metadata_of_a_shared_mailbox(self):
        """RFC 9208 §4.3: a shared mailbox is under its owner's quota; RFC 5464: its /shared
        entries are the owner's mailbox's, /private ones the reader's; RFC 4314 rights."""
        ctl_ok(self.t, "user", "quota", INFO, "10M")
        info = self.login(INFO)
        self.ok(info.create("Reports"))
        self.ok(info.append("Reports", None, None, mail(b"report-1")))
        self.ok(info._simple_command("SETMETADATA", "Reports", '(/shared/comment "monthly")'))
        self.ok(info.setacl("Reports", ALICE, "lr"))
        alice = self.login(ALICE)
        box = SHARED + "/Reports"
        typ, data = alice.getquotaroot(box)
        self.assertEqual(typ, "OK", data)
        roots, quotas = data
        self.assertEqual(roots, [box.encode() + b" " + SHARED.encode()])
        self.assertRegex(quotas[0], rb"^" + re.escape(SHARED.encode()) + rb" \(STORAGE \d+ 10240\)$")
        typ, data = alice.getquota(SHARED)
        self.assertEqual(typ, "OK", data)
        self.no(alice, "GETQUOTAROOT", SHARED + "/Private", code=b"NONEXISTENT")
        lines = self.untagged(alice, "GETMETADATA", box, "(/shared/comment /private/comment)")
        self.assertEqual(lines, [box.encode() + b' (/shared/comment "monthly" /private/comment NIL)'])
        self.ok(alice._simple_command("SETMETADATA", box, '(/private/comment "mine")'))
        lines = self.untagged(alice, "GETMETADATA", box, "(/private/comment)")
        self.assertEqual(lines, [box.encode() + b' (/private/comment "mine")'])
        self.assertEqual(self.untagged(info, "GETMETADATA", "Reports", "(/private/comment)"),
                         [b'Reports (/private/comment NIL)'])
        self.no(alice, "SETMETADATA", box, '(/shared/comment "changed")', code=b"NOPERM")
        self.ok(info.setacl("Reports", ALICE, "lrw"))
        self.ok(alice._simple_command("SETMETADATA", box, '(/shared/comment "changed")'))
        self.assertEqual(self.untagged(info, "GETMETADATA", "Reports", "(/shared/comment)"),
                         [b'Reports (/shared/comment "changed")'])
        self.no(alice, "GETMETADATA", SHARED + "/Private", "(/shared/comment)", code=b"NONEXISTENT")

if __name__ == "__main__":
    unittest.main(verbosity=2)
