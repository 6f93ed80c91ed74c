#!/usr/bin/python3
"""SIGKILL in the middle of a concurrent SMTP ingest: after a restart every message that got
250 is in the store exactly once, nothing is duplicated, and the index agrees with the files."""
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern  # noqa: E402
from smtp_fixture import index_rows, make_message, maildir_messages, populate, smtp, split_stored  # noqa: E402

CLIENTS = 20
KILL_AFTER = 300       # acknowledged messages before the SIGKILL
MAX_PER_CLIENT = 2000  # bound: the kill comes long before
RCPT = "alice@example.test"
FILLER = (b"z" * 98 + b"\r\n") * 20  # 2 KB in lines of 100 bytes


def subject_of(data):
    _, _, rest = split_stored(data)
    return rest.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()


class Crash(unittest.TestCase):
    def test_sigkill_during_ingest(self):
        with Tern(listeners=("smtp",), extra_toml="[limits]\nsmtp_max_connections_per_ip = 100\n") as t:
            populate(t)
            t.start()
            acked, attempted = set(), set()
            lock = threading.Lock()
            stop = threading.Event()

            def client(n):
                try:
                    with smtp(t, timeout=60) as c:
                        for i in range(MAX_PER_CLIENT):
                            if stop.is_set():
                                return
                            key = f"crash-{n:02d}-{i:04d}"
                            msg = make_message("load@remote.test", RCPT, key,
                                               f"{key}\r\n".encode() + FILLER,
                                               message_id=key)
                            with lock:
                                attempted.add(key)
                            if c.sendmail("load@remote.test", [RCPT], msg) == {}:
                                with lock:
                                    acked.add(key)
                except Exception as e:  # the server was killed under us: expected
                    if not stop.is_set():
                        print(f"client {n} before the kill: {e!r}", file=sys.stderr)

            threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
            for th in threads:
                th.start()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with lock:
                    if len(acked) >= KILL_AFTER:
                        break
                time.sleep(0.01)
            with lock:
                self.assertGreaterEqual(len(acked), KILL_AFTER, "ingest too slow to test")
            t.kill()  # SIGKILL mid-ingest: several transactions are in flight right now
            stop.set()
            for th in threads:
                th.join(timeout=120)
            self.assertFalse(any(th.is_alive() for th in threads))
            in_flight = attempted - acked
            self.assertGreater(len(in_flight), 0, "nothing was in flight at the kill")

            t.start()  # recovery runs when the store opens
            stored = maildir_messages(t, RCPT)
            subjects = [subject_of(d) for d in stored.values()]
            counts = {}
            for s in subjects:
                counts[s] = counts.get(s, 0) + 1
            dupes = {s: c for s, c in counts.items() if c > 1}
            self.assertEqual(dupes, {}, "messages stored twice")
            missing = acked - set(counts)
            self.assertEqual(missing, set(), "acknowledged messages lost")
            self.assertTrue(set(counts) <= attempted, "messages nobody sent")
            # A message in flight may or may not have made it; either way it is whole.
            for data in stored.values():
                key = subject_of(data)
                self.assertTrue(data.endswith(f"{key}\r\n".encode() + FILLER), key)

            rows = index_rows(t, RCPT)
            self.assertEqual(len(rows), len(stored), "index rows != files")
            self.assertEqual(len({uid for uid, _, _ in rows}), len(rows))
            self.assertEqual({os.path.basename(f).split(":")[0] for _, f, _ in rows},
                             {name.split(":")[0] for name in stored})
            # Half-written copies may stay in tmp/ (the store removes them after 36 hours,
            # the Maildir convention) but are never indexed.
            tmp = os.path.join(t.data_dir, "mail", "example.test", "alice", "tmp")
            leftovers = set(os.listdir(tmp)) if os.path.isdir(tmp) else set()
            self.assertEqual(leftovers & {os.path.basename(f).split(",")[0] for _, f, _ in rows},
                             set())

            # And the restarted server takes mail again, with the next UID.
            msg = make_message("load@remote.test", RCPT, "after restart", b"fine\r\n")
            with smtp(t) as c:
                self.assertEqual(c.sendmail("load@remote.test", [RCPT], msg), {})
            rows_after = index_rows(t, RCPT)
            self.assertEqual(len(rows_after), len(rows) + 1)
            self.assertGreater(rows_after[-1][0], max(uid for uid, _, _ in rows))
            print(f"acked={len(acked)} in_flight={len(in_flight)} stored={len(stored)}",
                  file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
