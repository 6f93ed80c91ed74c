#!/usr/bin/python3
"""Outbound relay end to end, regressions: SIGTERM while an outbound connect is still in
progress (the remote never answers the SYN), a bounce to a local sender whose mailbox is over
quota (retried on the schedule, delivered once there is room, or expired and dropped instead
of being retried on every tick), and a bounce to a sender that is an alias with several
targets (every target gets it, once).
Debian: python3-aiosmtpd, python3-dnslib.
"""
import email
import email.policy
import os
import re
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import test_relay  # noqa: E402
from test_relay import ALICE, BOB, Env, check, delivery_status, submit, wait_until, with_subject  # noqa: E402
from relay_harness import Sink  # noqa: E402
from smtp_fixture import ctl_ok, maildir_messages, make_message  # noqa: E402


class Blackhole:
    """A listener on host:port whose accept queue is full: further SYNs are dropped, so a
    connect to it stays in progress until the client gives up."""

    def __init__(self, host, port):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(0)
        self.fill = []
        for _ in range(3):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect((host, port))
            except BlockingIOError:
                pass
            self.fill.append(s)
        time.sleep(0.2)

    def close(self):
        for s in self.fill:
            s.close()
        self.listener.close()


def test_shutdown_during_connect():
    # connect_timeout 60 s: without cancellation ternd would sit on the pending connect.
    env = Env({"hole.test.": [("MX", (10, "mx.hole.test."))], "mx.hole.test.": [("A", "127.0.0.14")]},
              relay={"connect_timeout": 60})
    hole = Blackhole("127.0.0.14", env.port)
    try:
        env.start()
        submit(env, BOB, ["r@hole.test"], make_message(BOB, "r@hole.test", "never connects", b"x\r\n"))
        wait_until(lambda: "relay queued" in env.t.log(), "the message to be queued")
        time.sleep(1.0)  # the connect is now in progress (SYN dropped)
        check("relay deferred" not in env.t.log(), "the connect ended before the shutdown")
        t0 = time.monotonic()
        env.shutdown_clean()
        took = time.monotonic() - t0
        check(took < 10, f"shutdown took {took:.1f}s: waited for the connect")
        check(re.search(r"relay deferred id=\S+ rcpt=r@hole.test .*connect cancelled", env.t.log()),
              "the cancelled attempt was not recorded as a deferral")
        # The recipient is still queued; a real MX there now gets it exactly once.
        hole.close()
        sink = env.sink("127.0.0.14", Sink.accept)
        env.t.start()
        wait_until(lambda: with_subject(sink, "never connects"), "delivery after restart")
        time.sleep(1.5)
        check(len(with_subject(sink, "never connects")) == 1, "delivered more than once")
        env.shutdown_clean()
    finally:
        hole.close()
        env.close()


def bounce_attempts(log, dsn_id):
    return re.findall(rf"relay deferred id={re.escape(dsn_id)} rcpt=bob@example.test \S+ "
                      r"attempts=(\d+) next_in=(\d+)s reply=\"452 4\.2\.2", log)


def first_bounce(env):
    m = wait_until(lambda: re.search(r"relay bounce id=\S+ to=bob@example.test .*queued dsn_id=(\S+)",
                                     env.t.log()), "the bounce to be queued")
    return m.group(1)


def test_bounce_to_full_mailbox_retried_on_schedule():
    env = Env({"reject.test.": [("MX", (10, "mx.reject.test."))], "mx.reject.test.": [("A", "127.0.0.6")]},
              relay={"retry_schedule": [2], "max_queue_lifetime": 60})
    try:
        env.sink("127.0.0.6", Sink.reject("550 5.1.1 no such user (sink)"))
        env.start()
        before = maildir_messages(env.t, BOB)
        ctl_ok(env.t, "user", "quota", BOB, "1")  # any DSN is over quota
        submit(env, BOB, ["nobody@reject.test"], make_message(BOB, "nobody@reject.test", "full box", b"x\r\n"))
        dsn_id = first_bounce(env)
        wait_until(lambda: len(bounce_attempts(env.t.log(), dsn_id)) >= 2, "two deferrals of the bounce")
        t_two = time.monotonic()
        time.sleep(1.0)
        attempts = bounce_attempts(env.t.log(), dsn_id)
        # Not every tick: each deferral waits next_in=2 s (whole seconds), so within 1 s of the
        # second there is at most one more.
        check(len(attempts) <= 3, f"retried too often: {attempts}")
        check(all(n == "2" for _, n in attempts), f"next_in not from retry_schedule: {attempts}")
        check([a for a, _ in attempts] == [str(i + 1) for i in range(len(attempts))],
              f"attempt counts {attempts}")
        check(maildir_messages(env.t, BOB) == before, "the DSN was delivered over quota")
        ctl_ok(env.t, "user", "quota", BOB, "0")  # room now
        got = wait_until(lambda: [v for k, v in maildir_messages(env.t, BOB).items() if k not in before],
                         "the DSN after the quota was raised")
        check(time.monotonic() - t_two < 10, "not delivered on the next retry")
        time.sleep(2.5)
        new = [v for k, v in maildir_messages(env.t, BOB).items() if k not in before]
        check(len(new) == 1 and b"report-type=delivery-status" in got[0], f"{len(new)} DSNs in the INBOX")
        check(re.search(rf"relay delivered id={re.escape(dsn_id)} rcpt=bob@example.test", env.t.log()),
              "no 'relay delivered' for the bounce")
        env.shutdown_clean()
    finally:
        env.close()


def test_bounce_to_full_mailbox_expires():
    env = Env({"reject.test.": [("MX", (10, "mx.reject.test."))], "mx.reject.test.": [("A", "127.0.0.6")]},
              relay={"retry_schedule": [2], "max_queue_lifetime": 6})
    try:
        env.sink("127.0.0.6", Sink.reject("550 5.1.1 no such user (sink)"))
        env.start()
        before = maildir_messages(env.t, BOB)
        ctl_ok(env.t, "user", "quota", BOB, "1")
        submit(env, BOB, ["nobody@reject.test"], make_message(BOB, "nobody@reject.test", "expire", b"x\r\n"))
        dsn_id = first_bounce(env)
        wait_until(lambda: f"relay bounce dropped id={dsn_id} reason=undeliverable-dsn" in env.t.log(),
                   "the undeliverable bounce to expire and be dropped", timeout=30)
        n = len(bounce_attempts(env.t.log(), dsn_id))
        check(1 <= n <= 5, f"{n} attempts in a 6 s lifetime with 2 s retries")
        time.sleep(3.0)  # and nothing afterwards
        check(len(bounce_attempts(env.t.log(), dsn_id)) == n, "retried after expiry")
        listing = ctl_ok(env.t, "queue", "list")
        check(dsn_id not in listing, f"the expired bounce is still queued: {listing}")
        check(maildir_messages(env.t, BOB) == before, "a DSN reached the full INBOX")
        env.shutdown_clean()
    finally:
        env.close()


def test_bounce_to_alias_reaches_every_target():
    # team@example.test -> bob, alice (smtp_fixture.populate); bob may send as team@.
    env = Env({"reject.test.": [("MX", (10, "mx.reject.test."))], "mx.reject.test.": [("A", "127.0.0.6")]})
    try:
        env.sink("127.0.0.6", Sink.reject("550 5.1.1 no such user (sink)"))
        ctl_ok(env.t, "alias", "add", "dup@example.test", "bob@example.test,team@example.test")
        env.start()
        before = {u: maildir_messages(env.t, u) for u in (BOB, ALICE)}
        import smtplib
        with smtplib.SMTP("127.0.0.1", env.t.port("submission"), local_hostname="client.test", timeout=30) as c:
            c.ehlo()
            c.login(BOB, test_relay.USERS[BOB])
            refused = c.sendmail("dup@example.test", ["nobody@reject.test"],
                                 make_message("dup@example.test", "nobody@reject.test", "alias bounce", b"x\r\n"))
            check(not refused, f"refused {refused}")

        def new(u):
            return [v for k, v in maildir_messages(env.t, u).items() if k not in before[u]]
        wait_until(lambda: new(BOB) and new(ALICE), "the bounce in both targets' INBOXes")
        time.sleep(2.0)
        for u in (BOB, ALICE):
            got = new(u)
            check(len(got) == 1, f"{u}: {len(got)} DSNs (expected exactly one)")
            dsn = email.message_from_bytes(got[0], policy=email.policy.compat32)
            _, rcpts = delivery_status(dsn)
            check(rcpts[0]["Status"].strip() == "5.1.1", f"{u}: Status {rcpts[0]['Status']}")
        env.shutdown_clean()
    finally:
        env.close()


CASES = [test_shutdown_during_connect, test_bounce_to_full_mailbox_retried_on_schedule,
         test_bounce_to_full_mailbox_expires, test_bounce_to_alias_reaches_every_target]


if __name__ == "__main__":
    sys.exit(test_relay.run_cases(CASES, sys.argv[1:]))
