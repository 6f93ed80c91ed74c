#!/usr/bin/python3
"""The content stage end to end, with the real scanners from Debian's packages started here:
clamd (clamav-daemon) with a one-line signature database written by the test (the EICAR test
file as an .ndb body signature; no freshclam, no download), and rspamd with a minimal local
config (no redis, no network modules; one Lua rule of ours that rspamd scores 100). Both
listen on loopback ephemeral ports and are started once for the whole file.

Covered: a clean message passes with X-Spam-* fields (and `ternctl spam explain` reads them
back); EICAR is refused with 554 5.7.1 naming the signature; GTUBE is refused with 550 5.7.1;
rspamd's reject is honoured; an executable attachment goes to Junk with $Junk, seen over
IMAP; a per-user threshold (`ternctl spam set`) moves a message to Junk for that user only;
forged X-Spam-* fields are removed; clamd stopped -> 451 4.7.1, and the same message is
delivered when the sender retries with clamd back."""
import imaplib
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern, TernCase, free_port  # noqa: E402
from relay_harness import ZoneDns  # noqa: E402
from smtp_fixture import USERS, make_message, populate  # noqa: E402

BOB = "bob@example.test"
ALICE = "alice@example.test"
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
SIGNATURE = "Tern-Test.EICAR"

RSPAMD_LUA = """
rspamd_config:register_symbol({
  name = 'TERN_TEST_REJECT', score = 100.0,
  callback = function(task)
    local s = task:get_subject()
    return s ~= nil and s:find('rspamd%-reject%-me') ~= nil
  end
})
rspamd_config:register_symbol({
  name = 'TERN_TEST_SOFT', type = 'prefilter',
  callback = function(task)
    local s = task:get_subject()
    if s ~= nil and s:find('rspamd%-soft%-me') ~= nil then
      task:set_pre_result('soft reject', 'try again later')
    end
  end
})
"""


def wait_port(port, proc, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


class Clamd:
    """clamd with one signature, on a loopback TCP port; stop() and start() again."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "clamd")
        os.makedirs(os.path.join(self.dir, "db"))
        with open(os.path.join(self.dir, "db", "tern.ndb"), "w") as f:
            # name:target type (0 = any file):offset (* = anywhere):hex body
            f.write(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "clamd.conf")
        with open(self.conf, "w") as f:
            f.write(f"DatabaseDirectory {self.dir}/db\nTCPSocket {self.port}\nTCPAddr 127.0.0.1\n"
                    f"Foreground yes\nLogFile {self.dir}/clamd.log\nTemporaryDirectory {self.dir}\n"
                    f"User {os.getenv('USER') or 'root'}\nSelfCheck 0\n")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["/usr/sbin/clamd", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "clamd")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Rspamd:
    def __init__(self, directory):
        self.dir = os.path.join(directory, "rspamd")
        for sub in ("db", "run"):
            os.makedirs(os.path.join(self.dir, sub))
        self.port = free_port()
        with open(os.path.join(self.dir, "test.lua"), "w") as f:
            f.write(RSPAMD_LUA)
        # A short TLD list and no Hyperscan, language detection for English only: rspamd
        # starts in seconds instead of compiling its full databases.
        with open(os.path.join(self.dir, "tld.dat"), "w") as f:
            f.write("com\norg\nnet\ntest\nexample\n")
        self.conf = os.path.join(self.dir, "rspamd.conf")
        with open(self.conf, "w") as f:
            f.write(f"""options {{
  pidfile = "{self.dir}/run/rspamd.pid";
  dbdir = "{self.dir}/db";
  filters = "";
  url_tld = "{self.dir}/tld.dat";
  disable_hyperscan = true;
  dns {{ nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 0; }}
}}
lang_detection {{ languages_enable = ["en"]; }}
logging {{ type = "file"; filename = "{self.dir}/rspamd.log"; level = "info"; }}
worker "normal" {{ bind_socket = "127.0.0.1:{self.port}"; count = 1; }}
actions {{ reject = 15; add_header = 6; greylist = 4; }}
lua = "{self.dir}/test.lua";
""")
        user = os.getenv("USER") or "root"
        self.proc = subprocess.Popen(["/usr/bin/rspamd", "-c", self.conf, "-f", "-u", user, "-g", user],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_port(self.port, self.proc, "rspamd", timeout=90)

    def stop(self):
        if self.proc.poll() is None:
            # Its workers are children of the main process, in the session we made for it.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def send(t, rcpts, msg, sender="sender@remote.test"):
    """(code, text) of the end of DATA (or of the first refusal)."""
    with smtplib.SMTP("127.0.0.1", t.port("smtp"), local_hostname="client.test", timeout=60) as c:
        try:
            c.sendmail(sender, rcpts, msg)
            return 250, b""
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error


def mime_with_attachment(subject, filename, payload=b"AAAA"):
    import base64
    return (f"From: <sender@remote.test>\r\nTo: <{BOB}>\r\nSubject: {subject}\r\n"
            "Date: Sun, 22 Nov 2026 12:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@client.test>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: multipart/mixed; boundary=bnd\r\n\r\n"
            "--bnd\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
            f"--bnd\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode() + \
        base64.b64encode(payload) + b"\r\n--bnd--\r\n"


class Spam(TernCase):
    @classmethod
    def make_tern(cls):
        cls.scratch = tempfile.mkdtemp(prefix="tern-spam-")
        cls.addClassCleanup(shutil.rmtree, cls.scratch, True)
        cls.clamd = Clamd(cls.scratch)
        cls.clamd.start()
        cls.addClassCleanup(cls.clamd.stop)
        cls.rspamd = Rspamd(cls.scratch)
        cls.addClassCleanup(cls.rspamd.stop)
        # A URI blocklist on a loopback DNS server: one listed domain, and one answered with
        # the lists' "query refused" code, which must not count.
        cls.dns = ZoneDns({"listed-link.test.dbl.test": [("A", "127.0.1.2")],
                           "refused-link.test.dbl.test": [("A", "127.255.255.254")]},
                          silent=("slow-link.test.dbl.test",))
        cls.addClassCleanup(cls.dns.close)
        return Tern(listeners=("smtp", "imap"), allow_plaintext_without_tls=True, sections={
            "dns": {"servers": [f"127.0.0.1:{cls.dns.port}"]},
            "spam": {"enabled": True, "junk_threshold": 5, "reject_threshold": 15,
                     "uribl": ["dbl.test:5"], "dns_timeout": 2},
            "clamav": {"address": f"127.0.0.1:{cls.clamd.port}", "timeout": 10},
            "rspamd": {"address": f"127.0.0.1:{cls.rspamd.port}", "timeout": 20},
        })

    @classmethod
    def prepare(cls, t):
        populate(t)

    def fetch(self, user, box, marker, timeout=10.0):
        """[(uid, flags, bytes)] of the messages of `box` holding `marker`."""
        deadline = time.monotonic() + timeout
        while True:
            out = []
            with imaplib.IMAP4("127.0.0.1", self.t.port("imap")) as m:
                m.login(user, USERS[user])
                typ, _ = m.select(box)
                self.assertEqual(typ, "OK", box)
                typ, data = m.uid("SEARCH", None, "ALL")
                for uid in data[0].split():
                    typ, d = m.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
                    raw, flags = d[0][1], d[0][0]
                    if marker in raw:
                        out.append((int(uid), flags.decode(), raw))
            if out or time.monotonic() > deadline:
                return out
            time.sleep(0.1)

    def only(self, user, box, marker):
        got = self.fetch(user, box, marker)
        self.assertEqual(len(got), 1, f"{marker!r} in {box}")
        return got[0]

    def explain(self, box, uid):
        out = self.t.ctl("spam", "explain", BOB, box, str(uid))
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout

    def test_clean_message_passes_with_headers_and_explain(self):
        msg = make_message("sender@remote.test", BOB, "clean one", b"Hello Bob.\r\n")
        self.assertEqual(send(self.t, [BOB], msg)[0], 250)
        uid, flags, raw = self.only(BOB, "INBOX", b"Subject: clean one")
        self.assertNotIn("$Junk", flags)
        self.assertIn(b"\r\nX-Spam-Score: ", raw)
        self.assertIn(b"\r\nX-Spam-Status: No, score=", raw)
        self.assertIn(b"RSPAMD:0.0", raw)  # rspamd's score is one of the contributions
        out = self.explain("INBOX", uid)
        self.assertIn("spam: No", out)
        self.assertIn("RSPAMD", out)
        self.assertRegex(self.t.log(), r"content id=\S+ ip=127\.0\.0\.1 score=\S+ verdict=inbox")

    def test_eicar_refused_naming_the_signature(self):
        msg = make_message("sender@remote.test", BOB, "eicar", EICAR + b"\r\n")
        code, text = send(self.t, [BOB], msg)
        self.assertEqual(code, 554, text)
        self.assertTrue(text.startswith(b"5.7.1"), text)
        self.assertIn(SIGNATURE.encode(), text)
        self.assertEqual(self.fetch(BOB, "INBOX", b"Subject: eicar", timeout=0.5), [])
        # Inside a base64 attachment too: clamd decodes MIME.
        code, text = send(self.t, [BOB], mime_with_attachment("eicar attached", "readme.txt", EICAR))
        self.assertEqual(code, 554, text)
        self.assertIn(SIGNATURE.encode(), text)

    def test_gtube_refused(self):
        msg = make_message("sender@remote.test", BOB, "gtube", GTUBE + b"\r\n")
        code, text = send(self.t, [BOB], msg)
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith(b"5.7.1"), text)
        self.assertEqual(self.fetch(BOB, "INBOX", b"Subject: gtube", timeout=0.5), [])
        self.assertRegex(self.t.log(), r"verdict=reject tests=\S*GTUBE")

    def test_rspamd_reject_honoured(self):
        # Nothing of ours scores this one: only rspamd's rule (100 > its reject at 15).
        msg = make_message("sender@remote.test", BOB, "rspamd-reject-me", b"Hello.\r\n")
        code, text = send(self.t, [BOB], msg)
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith(b"5.7.1"), text)
        self.assertRegex(self.t.log(), r"verdict=reject tests=RSPAMD\b")

    def test_rspamd_soft_reject_is_a_tempfail(self):
        # rspamd's "soft reject" (its rate limits, its greylisting) asks for a later retry.
        msg = make_message("sender@remote.test", BOB, "rspamd-soft-me", b"Hello again.\r\n")
        code, text = send(self.t, [BOB], msg)
        self.assertEqual(code, 451, text)
        self.assertTrue(text.startswith(b"4.7.1"), text)
        self.assertIn(b"soft reject", text)
        self.assertIn("rspamd soft reject", self.t.log())

    def test_executable_attachment_goes_to_junk_with_keyword(self):
        code, _ = send(self.t, [BOB], mime_with_attachment("invoice attached", "invoice.pdf.exe"))
        self.assertEqual(code, 250)
        self.assertEqual(self.fetch(BOB, "INBOX", b"Subject: invoice attached", timeout=0.5), [])
        uid, flags, raw = self.only(BOB, "Junk", b"Subject: invoice attached")
        self.assertIn("$Junk", flags)
        self.assertIn(b"X-Spam-Status: Yes, score=6.0", raw)
        self.assertIn(b"ATTACH_DOUBLE_EXT", raw)
        out = self.explain("Junk", uid)
        self.assertIn("ATTACH_DOUBLE_EXT", out)
        self.assertIn("invoice.pdf.exe", out)

    def test_per_user_threshold(self):
        # No Date: 1.5 points, under the global junk threshold, over alice's own.
        msg = (f"From: <sender@remote.test>\r\nTo: <{ALICE}>\r\nSubject: undated\r\n"
               "Message-ID: <undated@client.test>\r\n\r\nhi\r\n").encode()
        out = self.t.ctl("spam", "set", ALICE, "--junk", "1", "--reject", "50")
        self.assertEqual(out.returncode, 0, out.stderr)
        shown = self.t.ctl("spam", "show", ALICE).stdout
        self.assertIn("junk\t1.0\tuser", shown)
        self.assertIn("reject\t50.0\tuser", shown)
        bad = self.t.ctl("spam", "set", ALICE, "--reject", "0.5")
        self.assertNotEqual(bad.returncode, 0)
        self.assertEqual(len(bad.stderr.strip().splitlines()), 1, bad.stderr)
        self.assertEqual(send(self.t, [ALICE], msg)[0], 250)
        self.assertEqual(len(self.fetch(ALICE, "Junk", b"Subject: undated")), 1)
        self.assertEqual(send(self.t, [BOB], msg.replace(b"undated", b"undated bob"))[0], 250)
        self.assertEqual(len(self.fetch(BOB, "INBOX", b"Subject: undated bob")), 1)
        self.assertEqual(self.t.ctl("spam", "set", ALICE, "--junk", "default").returncode, 0)
        self.assertIn("junk\t5.0\tternd.toml", self.t.ctl("spam", "show", ALICE).stdout)

    def test_uri_blocklist(self):
        body = (b"Cheap: http://www.listed-link.test/offer and https://refused-link.test/x\r\n"
                b"<a href=\"http://slow-link.test/\">more</a>\r\n")
        msg = make_message("sender@remote.test", BOB, "uribl hit", body)
        started = time.monotonic()
        self.assertEqual(send(self.t, [BOB], msg)[0], 250)
        # The silent name costs at most spam.dns_timeout; the listed one still counts.
        self.assertLess(time.monotonic() - started, 10)
        raw = self.only(BOB, "Junk", b"Subject: uribl hit")[2]
        self.assertIn(b"URIBL_1:5.0", raw)
        self.assertIn(b"listed-link.test listed in dbl.test", raw)
        self.assertNotIn(b"refused-link.test listed", raw)
        asked = {q[0].rstrip(".") for q in self.dns.queries}
        self.assertIn("listed-link.test.dbl.test", asked)
        self.assertIn("refused-link.test.dbl.test", asked)

    def test_forged_spam_fields_are_removed(self):
        msg = make_message("sender@remote.test", BOB, "forged status", b"hi\r\n")
        msg = b"X-Spam-Status: No, score=-100.0 junk=5.0 reject=15.0 verdict=inbox\r\n" \
              b"X-Spam-Score: -100.0\r\n" + msg
        self.assertEqual(send(self.t, [BOB], msg)[0], 250)
        raw = self.fetch(BOB, "INBOX", b"Subject: forged status")[0][2]
        self.assertNotIn(b"-100.0", raw)
        self.assertEqual(raw.count(b"X-Spam-Status:"), 1)

    def test_zz_clamd_down_tempfails_then_retry_delivers(self):
        msg = make_message("sender@remote.test", BOB, "while clamd is down", b"hi\r\n")
        self.clamd.stop()
        try:
            code, text = send(self.t, [BOB], msg)
            self.assertEqual(code, 451, text)
            self.assertTrue(text.startswith(b"4.7.1"), text)
            self.assertEqual(self.fetch(BOB, "INBOX", b"Subject: while clamd", timeout=0.5), [])
            self.assertRegex(self.t.log(), r"clamav id=\S+ unavailable: .*on_failure=tempfail")
        finally:
            self.clamd.start()
        # The sender's retry: the same message, now scanned and delivered.
        self.assertEqual(send(self.t, [BOB], msg)[0], 250)
        self.assertEqual(len(self.fetch(BOB, "INBOX", b"Subject: while clamd")), 1)


if __name__ == "__main__":
    unittest.main()
