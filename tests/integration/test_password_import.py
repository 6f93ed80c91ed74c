#!/usr/bin/python3
"""Password hashes from Dovecot (issue 19, "Password hashes in"), with the real `doveadm pw`:

- each scheme's hash is taken over (`ternctl user add --hash` for some, `ternctl user import`
  of a passwd-file for the rest, plus a bare /etc/shadow-style string from `openssl passwd`);
- before the first plain login SCRAM-SHA-256 fails like a wrong password (no keys yet);
- each user logs in over IMAPS (LOGIN) and SMTP submission (AUTH PLAIN after STARTTLS); a
  wrong password is refused; afterwards accounts.db holds an argon2id hash and SCRAM works;
- weak schemes are refused with one line naming the scheme; bad passwd-file lines are
  reported and skipped, existing users kept unless --update.
"""
import imaplib
import os
import smtplib
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import TernCase, client_tls_context  # noqa: E402
from test_scram import ScramClient  # noqa: E402

DOMAIN = "example.test"
ADD_SCHEMES = ("ARGON2ID", "BLF-CRYPT", "SSHA512")
FILE_SCHEMES = ("ARGON2I", "SHA512-CRYPT", "SHA256-CRYPT")


def doveadm_pw(scheme, password):
    out = subprocess.run(["doveadm", "pw", "-s", scheme, "-p", password], capture_output=True, text=True,
                         timeout=30, check=True).stdout.strip()
    assert out.startswith("{" + scheme + "}"), out
    return out


def user_of(scheme):
    return f"u-{scheme.lower()}@{DOMAIN}"


def password_of(scheme):
    return f"Pw-{scheme.lower()}-7x"


class PasswordImport(TernCase):
    # Each user fails a few times on purpose: keep the brute-force throttle out of the way.
    tern_options = {"listeners": ("submission", "imaps"),
                    "sections": {"auth": {"max_failures_per_ip": 1000, "max_failures_per_account": 1000,
                                          "delay_after_failures": 1000}}}

    @classmethod
    def prepare(cls, t):
        assert t.ctl("domain", "add", DOMAIN).returncode == 0

    @classmethod
    def started(cls):
        t = cls.t
        for scheme in ADD_SCHEMES:
            p = t.ctl("user", "add", user_of(scheme), "--hash", doveadm_pw(scheme, password_of(scheme)))
            assert p.returncode == 0, p.stderr
        shadow = subprocess.run(["openssl", "passwd", "-6", "Shadow-pw-3"], capture_output=True, text=True,
                                check=True).stdout.strip()
        lines = [f"{user_of(s)}:{doveadm_pw(s, password_of(s))}:1000:1000::/home/x::" for s in FILE_SCHEMES]
        lines += [
            "# a comment, then a blank line",
            "",
            f"shadow:{shadow}:1001:1001::/home/shadow:/bin/false",      # no domain: needs --domain
            f"weak@{DOMAIN}:{doveadm_pw('PLAIN-MD5', 'x')}:1:1::::",  # refused
            "garbage line without colons",
            f"nodomain@elsewhere.test:{doveadm_pw('SHA512-CRYPT', 'x')}",  # not a local domain
        ]
        cls.passwd_file = os.path.join(t.dir, "passwd")
        with open(cls.passwd_file, "w") as f:
            f.write("\n".join(lines) + "\n")
        cls.first_import = t.ctl("user", "import", cls.passwd_file)
        cls.second_import = t.ctl("user", "import", cls.passwd_file, "--domain", DOMAIN)
        cls.users = {user_of(s): password_of(s) for s in ADD_SCHEMES + FILE_SCHEMES}
        cls.users[f"shadow@{DOMAIN}"] = "Shadow-pw-3"

    def stored(self, user):
        db = sqlite3.connect(os.path.join(self.t.data_dir, "accounts.db"))
        try:
            return db.execute("SELECT password, scram FROM users WHERE address=?", (user,)).fetchone()
        finally:
            db.close()

    def imap_auth(self, log_in):
        """True when log_in(connection) is accepted over IMAPS."""
        m = imaplib.IMAP4_SSL("127.0.0.1", self.t.port("imaps"), ssl_context=client_tls_context(), timeout=30)
        try:
            log_in(m)
            m.logout()
            return True
        except imaplib.IMAP4.error:
            m.shutdown()
            return False

    def imap_login(self, user, password):
        return self.imap_auth(lambda m: m.login(user, password))

    def imap_scram(self, user, password):
        return self.imap_auth(lambda m: m.authenticate("SCRAM-SHA-256", ScramClient(user, password).imap_authobject()))

    def smtp_login(self, user, password):
        with smtplib.SMTP("127.0.0.1", self.t.port("submission"), timeout=30) as s:
            s.starttls(context=client_tls_context())
            try:
                s.login(user, password)
                return True
            except smtplib.SMTPAuthenticationError:
                return False

    def test_import_reports_bad_lines_and_keeps_the_good(self):
        first, second = self.first_import, self.second_import
        self.assertEqual(first.returncode, 1, first.stdout + first.stderr)
        self.assertIn("imported 3, updated 0, existing 0, skipped 4", first.stdout)
        self.assertIn("skipped line 6 shadow: not a full address (give --domain)", first.stdout)
        self.assertRegex(first.stdout, r"skipped line 7 weak@example.test: weak password scheme \{PLAIN-MD5\}")
        self.assertIn("skipped line 8: no ':'", first.stdout)
        self.assertIn("skipped line 9 nodomain@elsewhere.test:", first.stdout)
        self.assertNotIn("$6$", first.stdout + first.stderr)  # hashes are never echoed
        self.assertEqual(first.stderr.count("\n"), 1, first.stderr)
        # Run again with --domain: the three are kept, the shadow line now imports.
        self.assertIn("imported 1, updated 0, existing 3, skipped 3", second.stdout)
        self.assertIsNone(self.stored(f"weak@{DOMAIN}"))
        # --update replaces an existing user's password (and drops its SCRAM keys with it).
        update = os.path.join(self.t.dir, "passwd-update")
        with open(update, "w") as f:
            f.write(f"shadow@{DOMAIN}:{doveadm_pw('SHA512-CRYPT', 'Shadow-pw-4')}\n")
        p = self.t.ctl("user", "import", update)
        self.assertIn("imported 0, updated 0, existing 1, skipped 0", p.stdout)
        p = self.t.ctl("user", "import", update, "--update")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("imported 0, updated 1, existing 0, skipped 0", p.stdout)
        self.assertEqual(self.stored(f"shadow@{DOMAIN}")[1], "")
        self.assertTrue(self.imap_login(f"shadow@{DOMAIN}", "Shadow-pw-4"))
        self.assertFalse(self.imap_login(f"shadow@{DOMAIN}", "Shadow-pw-3"))

    def test_weak_schemes_are_refused_by_name(self):
        for scheme, password in (("PLAIN", "x"), ("CLEARTEXT", "x"), ("MD5", "x"), ("SHA", "x"),
                                 ("SHA256", "x"), ("SHA512", "x")):
            p = self.t.ctl("user", "add", f"weak-{scheme.lower()}@{DOMAIN}", "--hash", doveadm_pw(scheme, password))
            self.assertEqual(p.returncode, 1, scheme)
            self.assertRegex(p.stderr, r"^ternctl: weak password scheme \{" + scheme + r"\} \(.*\) refused", scheme)
            self.assertEqual(p.stderr.count("\n"), 1)
            self.assertIsNone(self.stored(f"weak-{scheme.lower()}@{DOMAIN}"))
        # Dovecot's {CRYPT} is the system crypt(3): DES when it has no "$id$" prefix.
        p = self.t.ctl("user", "add", f"des@{DOMAIN}", "--hash", "{CRYPT}abvOVwEVZZ8hM")
        self.assertEqual(p.returncode, 1)
        self.assertRegex(p.stderr, r"^ternctl: weak password scheme \{CRYPT\} \(DES crypt\) refused")
        p = self.t.ctl("user", "add", f"md5crypt@{DOMAIN}", "--hash", "$1$ALzulS8g$bEN7Lw2qN/57557bksytw1")
        self.assertEqual(p.returncode, 1)
        self.assertIn("md5-crypt", p.stderr)

    def test_each_scheme_logs_in_then_is_argon2id(self):
        for user, password in sorted(self.users.items()):
            with self.subTest(user=user):
                before = self.stored(user)
                self.assertIsNotNone(before)
                self.assertFalse(before[0].startswith("$argon2id$") and "argon2id" not in user, before[0])
                self.assertEqual(before[1], "")
                # No SCRAM keys yet: fails even with the right password.
                self.assertFalse(self.imap_scram(user, password))
                self.assertFalse(self.imap_login(user, password + "x"))
                self.assertTrue(self.imap_login(user, password))
                after = self.stored(user)
                self.assertTrue(after[0].startswith("$argon2id$"), after[0])
                self.assertNotEqual(after[0], before[0])
                self.assertTrue(after[1].startswith("SCRAM-SHA-256$"), after[1])
                self.assertTrue(self.smtp_login(user, password))
                self.assertTrue(self.imap_scram(user, password))
                self.assertFalse(self.imap_login(user, password + "x"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
