#!/usr/bin/python3
"""SIGKILL in the middle of concurrent IMAP APPENDs and MOVEs.

After the restart, as an IMAP client sees it:
- every APPEND that got OK is stored exactly once, byte for byte, under the UID its APPENDUID
  named (unless a later acknowledged MOVE took it to "Saved");
- every acknowledged MOVE left its message in "Saved" only, under the UID its COPYUID named;
- nothing is duplicated, nothing appears that nobody sent, and the index agrees with the files;
- the restarted server takes new APPENDs with a higher UID and the same UIDVALIDITY.
"""
import imaplib
import os
import re
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern  # noqa: E402
from smtp_fixture import USERS, index_rows, populate  # noqa: E402

USER = "alice@example.test"
APPENDERS = 8
KILL_AFTER = 200            # acknowledged APPENDs before the SIGKILL
MAX_PER_CLIENT = 3000       # bound: the kill comes long before
FILLER = (b"y" * 70 + b"\r\n") * 30  # ~2 KB


def message(key):
    return (f"From: <load@client.test>\r\nTo: <{USER}>\r\nSubject: {key}\r\n"
            f"Message-ID: <{key}@client.test>\r\nDate: Sun, 22 Nov 2026 12:00:00 +0000\r\n\r\n"
            ).encode() + f"{key}\r\n".encode() + FILLER


def login(t):
    c = imaplib.IMAP4("127.0.0.1", t.port("imap"), timeout=60)
    c.login(USER, USERS[USER])
    return c


def code(resp, name):
    """The numbers of an APPENDUID/COPYUID response code in imaplib's answer."""
    for item in resp:
        m = re.search(rb"\[" + name.encode() + rb" ([^\]]*)\]", item or b"")
        if m:
            return m.group(1).decode().split()
    return None


def mailbox_by_subject(t, mailbox):
    """{subject: [(uid, bytes)]} and UIDVALIDITY of a mailbox, over IMAP."""
    c = login(t)
    try:
        typ, data = c.select(mailbox, readonly=True)
        assert typ == "OK", data
        uidvalidity = int(c.response("UIDVALIDITY")[1][0])
        out = {}
        if int(data[0]) == 0:
            return out, uidvalidity
        typ, data = c.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        assert typ == "OK", data
        for item in data:
            if not isinstance(item, tuple):
                continue
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            subject = re.search(rb"Subject: ([^\r\n]*)", item[1]).group(1).decode()
            out.setdefault(subject, []).append((uid, item[1]))
        return out, uidvalidity
    finally:
        c.logout()


class AppendCrash(unittest.TestCase):
    def test_sigkill_during_append_and_move(self):
        with Tern(listeners=("imap",), allow_plaintext_without_tls=True,
                  sections={"limits": {"max_unauthenticated_per_ip": 100, "max_user_ip_connections": 100},
                            "auth": {"max_failures_per_ip": 1000}}) as t:
            populate(t)
            t.start()
            c = login(t)
            self.assertEqual(c.create("Saved")[0], "OK")
            c.select("INBOX")
            uidvalidity = {"INBOX": int(c.response("UIDVALIDITY")[1][0])}
            c.select("Saved")
            uidvalidity["Saved"] = int(c.response("UIDVALIDITY")[1][0])
            c.logout()

            appended = {}    # key -> uid (acknowledged)
            attempted = set()
            moved = {}       # key -> uid in Saved (acknowledged)
            lock = threading.Lock()
            stop = threading.Event()

            def appender(n):
                try:
                    cl = login(t)
                    for i in range(MAX_PER_CLIENT):
                        if stop.is_set():
                            return
                        key = f"append-{n:02d}-{i:04d}"
                        with lock:
                            attempted.add(key)
                        typ, resp = cl.append("INBOX", None, None, message(key))
                        if typ == "OK":
                            uv, uid = code(resp, "APPENDUID")
                            self.assertEqual(int(uv), uidvalidity["INBOX"])
                            with lock:
                                appended[key] = int(uid)
                except Exception as e:  # the server was killed under us: expected
                    if not stop.is_set():
                        print(f"appender {n} before the kill: {e!r}", file=sys.stderr)

            def mover():
                try:
                    cl = login(t)
                    cl.select("INBOX")
                    while not stop.is_set():
                        with lock:
                            candidates = sorted(set(appended) - set(moved))[:5]
                            uids = [appended[k] for k in candidates]
                        if not uids:
                            time.sleep(0.01)
                            continue
                        typ, resp = cl.uid("MOVE", ",".join(map(str, uids)), "Saved")
                        if typ != "OK":
                            continue
                        got = code(cl.response("COPYUID")[1] or [], "COPYUID")
                        if got is None:
                            # imaplib files the untagged OK [COPYUID ...] under "OK".
                            got = code(cl.response("OK")[1] or [], "COPYUID")
                        if got is None:
                            # None of those UIDs had reached this session yet (other sessions
                            # appended them): UID MOVE then moves nothing and says OK.
                            continue
                        src = expand(got[1])
                        dst = expand(got[2])
                        by_uid = {u: k for k, u in zip(candidates, uids)}
                        with lock:
                            for s, d in zip(src, dst):
                                moved[by_uid[s]] = d
                except Exception as e:
                    if not stop.is_set():
                        print(f"mover before the kill: {e!r}", file=sys.stderr)

            threads = [threading.Thread(target=appender, args=(n,)) for n in range(APPENDERS)]
            threads.append(threading.Thread(target=mover))
            for th in threads:
                th.start()
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                with lock:
                    if len(appended) >= KILL_AFTER and len(moved) >= 10:
                        break
                time.sleep(0.01)
            with lock:
                self.assertGreaterEqual(len(appended), KILL_AFTER, "APPEND too slow to test")
                self.assertGreaterEqual(len(moved), 10, "MOVE too slow to test")
            t.kill()  # SIGKILL: APPENDs and MOVEs are in flight right now
            stop.set()
            for th in threads:
                th.join(timeout=120)
            self.assertFalse(any(th.is_alive() for th in threads))
            self.assertGreater(len(attempted - set(appended)), 0, "nothing was in flight")

            t.start()  # recovery runs when the store opens
            inbox, inbox_uv = mailbox_by_subject(t, "INBOX")
            saved, saved_uv = mailbox_by_subject(t, "Saved")
            self.assertEqual(inbox_uv, uidvalidity["INBOX"], "UIDVALIDITY changed")
            self.assertEqual(saved_uv, uidvalidity["Saved"], "UIDVALIDITY changed")

            everywhere = {}
            for box in (inbox, saved):
                for key, copies in box.items():
                    everywhere[key] = everywhere.get(key, 0) + len(copies)
            # RFC 6851 §3.1: a MOVE is one transaction, so even the MOVE the kill cut short left
            # each of its messages in exactly one folder.
            twice = {k for k, n in everywhere.items() if n > 1}
            self.assertEqual(twice, set(), "messages stored twice")
            self.assertTrue(set(everywhere) <= attempted, "messages nobody sent")
            self.assertEqual(set(appended) - set(everywhere), set(), "acknowledged APPENDs lost")
            for key, copies in list(inbox.items()) + list(saved.items()):
                self.assertTrue(copies[0][1] == message(key), f"{key} not stored whole")
            for key, uid in moved.items():
                self.assertNotIn(key, inbox, f"{key} moved (acknowledged) but still in INBOX")
                self.assertEqual(saved[key][0][0], uid, f"{key}: COPYUID named another UID")
            for key, uid in appended.items():
                if key in inbox:
                    self.assertEqual(inbox[key][0][0], uid, f"{key}: APPENDUID named another UID")

            # The index agrees with the files, for both folders.
            for box, name in ((inbox, "INBOX"), (saved, "Saved")):
                rows = index_rows(t, USER, name)
                self.assertEqual(sorted(u for copies in box.values() for u, _ in copies),
                                 [uid for uid, _, _ in rows], name)
                for _, path, _ in rows:
                    folder = os.path.join(t.data_dir, "mail", "example.test", "alice",
                                          "" if name == "INBOX" else ".Saved")
                    self.assertTrue(os.path.exists(os.path.join(folder, path)), path)

            # The restarted server appends with a higher UID under the same UIDVALIDITY.
            cl = login(t)
            typ, resp = cl.append("INBOX", None, None, message("after-restart"))
            self.assertEqual(typ, "OK")
            uv, uid = code(resp, "APPENDUID")
            self.assertEqual(int(uv), uidvalidity["INBOX"])
            all_uids = [u for copies in inbox.values() for u, _ in copies] + list(appended.values())
            self.assertGreater(int(uid), max(all_uids))
            cl.logout()
            print(f"appended={len(appended)} moved={len(moved)} "
                  f"in_flight={len(attempted - set(appended))} stored={sum(everywhere.values())}",
                  file=sys.stderr)


def expand(uid_set):
    out = []
    for part in uid_set.split(","):
        if ":" in part:
            a, b = map(int, part.split(":"))
            step = 1 if b >= a else -1
            out.extend(range(a, b + step, step))
        else:
            out.append(int(part))
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
