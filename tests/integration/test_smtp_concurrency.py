#!/usr/bin/python3
"""100 concurrent SMTP clients each deliver 20 messages to one mailbox: every message is
there once, byte for byte, with distinct UIDs in the index and one file per index row."""
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from ternlib import Tern  # noqa: E402
from smtp_fixture import index_rows, make_message, maildir_messages, populate, smtp, split_stored  # noqa: E402

CLIENTS = 100
PER_CLIENT = 20
RCPT = "bob@example.test"


class Concurrency(unittest.TestCase):
    def test_many_clients_one_mailbox(self):
        # 100 clients from 127.0.0.1: lift the per-IP connection limit for the test.
        with Tern(listeners=("smtp",),
                  extra_toml="[limits]\nsmtp_max_connections_per_ip = 200\n") as t:
            populate(t)
            t.start()
            sent = {}
            errors = []
            lock = threading.Lock()
            start = threading.Barrier(CLIENTS)

            def client(n):
                try:
                    start.wait(timeout=60)
                    with smtp(t, timeout=120) as c:
                        for i in range(PER_CLIENT):
                            key = f"c{n:03d}-m{i:02d}"
                            body = (f"client {n} message {i}\r\n".encode() +
                                    bytes(range(32, 127)) * (1 + (n * PER_CLIENT + i) % 7) + b"\r\n")
                            msg = make_message("load@remote.test", RCPT, key, body, message_id=key)
                            refused = c.sendmail("load@remote.test", [RCPT], msg)
                            if refused:
                                raise AssertionError(f"{key} refused: {refused}")
                            with lock:
                                sent[key] = msg
                except Exception as e:  # reported below, the other threads go on
                    with lock:
                        errors.append(f"client {n}: {e!r}")

            threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
            for th in threads:
                th.start()
            for th in threads:
                th.join(timeout=600)
            self.assertFalse(any(th.is_alive() for th in threads), "clients did not finish")
            self.assertEqual(errors, [])
            self.assertEqual(len(sent), CLIENTS * PER_CLIENT)

            # 250 means durable: everything is there now, no waiting.
            stored = maildir_messages(t, RCPT)
            self.assertEqual(len(stored), CLIENTS * PER_CLIENT)
            by_key = {}
            for name, data in stored.items():
                _, _, rest = split_stored(data)
                subject = rest.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode()
                self.assertNotIn(subject, by_key, "duplicate message")
                by_key[subject] = (name, rest)
            self.assertEqual(set(by_key), set(sent))
            for key, msg in sent.items():
                self.assertEqual(by_key[key][1], msg, key)

            rows = index_rows(t, RCPT)
            uids = [uid for uid, _, _ in rows]
            self.assertEqual(len(uids), CLIENTS * PER_CLIENT)
            self.assertEqual(len(set(uids)), len(uids), "UIDs are not distinct")
            # Every index row names an existing file, and every file has a row.
            files = {os.path.basename(f).split(":")[0] for _, f, _ in rows}
            on_disk = {name.split(":")[0] for name in stored}
            self.assertEqual(files, on_disk)
            self.assertEqual(t.log().count("outcome=delivered"), CLIENTS * PER_CLIENT)


if __name__ == "__main__":
    unittest.main(verbosity=2)
