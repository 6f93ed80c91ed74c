#!/usr/bin/python3
"""Outbound relay end to end: `ternctl queue` against a running ternd, and how the relay uses
connections. A real ternd relays through a loopback DNS to aiosmtpd sinks.

Cases: queue list / show (state, attempts, reply) / flush ID (the daemon retries now, long
before the next scheduled attempt) / delete ID (never delivered) / bounce ID (DSN to the
sender, gone from the queue), all while ternd runs; several queued messages to one
destination travel on one connection; max_per_destination = 1 keeps one connection at a time
to a slow destination, and 2 allows two in parallel.
Debian: python3-aiosmtpd, python3-dnslib.
"""
import os
import re
import smtplib
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import test_relay  # noqa: E402
from test_relay import BOB, USERS, Env, check, delivery_status, dsn_in_inbox, wait_until, with_subject  # noqa: E402
from relay_harness import Sink  # noqa: E402
from smtp_fixture import ctl_ok, maildir_messages, make_message  # noqa: E402

ZONE = {"q.test.": [("MX", (10, "mx.q.test."))], "mx.q.test.": [("A", "127.0.0.40")]}


def queue_lines(env):
    return [l.split("\t") for l in ctl_ok(env.t, "queue", "list").splitlines() if l.strip()]


def submit_deferred(env, subjects):
    """Submits one message per subject to <subject>@q.test on one connection (one AUTH);
    waits until each is deferred. Returns {subject: queue id}."""
    n = len(re.findall(r"relay queued id=", env.t.log()))
    with smtplib.SMTP("127.0.0.1", env.t.port("submission"), local_hostname="client.test", timeout=30) as c:
        c.ehlo()
        c.login(BOB, USERS[BOB])
        for s in subjects:
            refused = c.sendmail(BOB, [f"{s}@q.test"], make_message(BOB, f"{s}@q.test", s, b"x\r\n"))
            check(not refused, f"refused {refused}")
    ids = wait_until(lambda: (lambda got: got if len(got) == len(subjects) else None)(
        re.findall(r"relay queued id=(\S+)", env.t.log())[n:]), "every message queued")
    ids = dict(zip(subjects, ids))  # submitted one after another on one connection: in order
    for s, qid in ids.items():
        wait_until(lambda: re.search(rf"relay deferred id={qid} ", env.t.log()), f"{s} deferred")
    return ids


def test_ternctl_queue_while_running():
    # retry_schedule 3600 s: nothing is retried during the test unless ternctl says so.
    env = Env(ZONE, relay={"retry_schedule": [3600]})
    try:
        sink = env.sink("127.0.0.40", Sink.reject("451 4.3.0 later (sink)"))
        env.start()
        ids = submit_deferred(env, ["flushme", "deleteme", "bounceme"])
        lines = {l[0]: l for l in queue_lines(env)}
        for s, qid in ids.items():
            check(qid in lines, f"{s} ({qid}) not listed: {lines}")
            check(lines[qid][3] == f"<{BOB}>" and lines[qid][4] == f"{s}@q.test", f"list line {lines[qid]}")
            check(lines[qid][5] == "pending=0 deferred=1 delivered=0 failed=0", f"states {lines[qid][5]}")
        show = ctl_ok(env.t, "queue", "show", ids["flushme"])
        check(f"id: {ids['flushme']}" in show and f"sender: <{BOB}>" in show, show)
        r = [l for l in show.splitlines() if l.startswith("recipient: flushme@q.test")]
        check(len(r) == 1 and "\tdeferred\t" in r[0] and "attempts=1" in r[0]
              and 'reply="451 4.3.0 later (sink)"' in r[0] and "mx=mx.q.test" in r[0], f"show: {show}")
        check(env.t.ctl("queue", "show", "no-such-id").returncode != 0, "show of an unknown id succeeded")

        sink.behaviour = Sink.accept
        # delete: gone at once, never delivered (even by the flush of everything below).
        ctl_ok(env.t, "queue", "delete", ids["deleteme"])
        check(ids["deleteme"] not in ctl_ok(env.t, "queue", "list"), "deleted message still listed")
        # flush ID: the running daemon retries now (SIGUSR1), not in an hour.
        t0 = time.monotonic()
        out = ctl_ok(env.t, "queue", "flush", ids["flushme"])
        check(out.startswith("1 recipient(s) scheduled now"), f"flush said {out!r}")
        wait_until(lambda: with_subject(sink, "flushme"), "delivery after flush")
        check(time.monotonic() - t0 < 15, "flush did not make the daemon retry promptly")
        check(with_subject(sink, "bounceme") == [], "flush ID retried another message")
        # bounce ID: DSN to the sender, message gone.
        before = maildir_messages(env.t, BOB)
        out = ctl_ok(env.t, "queue", "bounce", ids["bounceme"])
        check(out.startswith("1 recipient(s) failed"), f"bounce said {out!r}")
        dsn = dsn_in_inbox(env.t, BOB, before)
        _, rcpts = delivery_status(dsn)
        check(rcpts[0]["Final-Recipient"].replace(" ", "").lower() == "rfc822;bounceme@q.test",
              f"Final-Recipient {rcpts[0]['Final-Recipient']}")
        check(rcpts[0]["Action"].strip().lower() == "failed" and rcpts[0]["Status"].strip().startswith("5."),
              f"Action {rcpts[0]['Action']} Status {rcpts[0]['Status']}")
        wait_until(lambda: ids["bounceme"] not in ctl_ok(env.t, "queue", "list")
                   and ids["flushme"] not in ctl_ok(env.t, "queue", "list"), "finished messages purged")
        ctl_ok(env.t, "queue", "flush")  # everything: nothing left to send
        time.sleep(1.5)
        check(with_subject(sink, "deleteme") == [] and with_subject(sink, "bounceme") == [],
              "a deleted or bounced message was delivered")
        check(len(with_subject(sink, "flushme")) == 1, "flushed message delivered more than once")
        env.shutdown_clean()
    finally:
        env.close()


def run_batch(max_per_destination, count, data_delay):
    """`count` deferred messages to q.test, then one flush; returns the sink."""
    env = Env(ZONE, relay={"retry_schedule": [3600], "max_per_destination": max_per_destination})
    try:
        sink = Sink("127.0.0.40", env.port, Sink.reject("451 4.3.0 later (sink)"), data_delay=data_delay)
        env.sinks.append(sink)
        env.start()
        subjects = [f"m{i:02d}" for i in range(count)]
        submit_deferred(env, subjects)
        sink.behaviour = Sink.accept
        conns_before = sink.connections
        ctl_ok(env.t, "queue", "flush")
        wait_until(lambda: len(sink.messages) == count, f"all {count} delivered", timeout=60)
        time.sleep(0.5)
        check(len(sink.messages) == count, "delivered more than once")
        env.shutdown_clean()
        return sink, sink.connections - conns_before
    finally:
        env.close()


def overlap(details):
    """True if DATA answers of two different connections were in progress at the same time."""
    by_conn = {}
    for d in details:
        c = by_conn.setdefault(d["conn"], [d["start"], d["end"]])
        c[0], c[1] = min(c[0], d["start"]), max(c[1], d["end"])
    spans = sorted(by_conn.values())
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def test_one_connection_several_messages():
    sink, conns = run_batch(4, 6, 0.0)
    check(conns == 1, f"6 queued messages to one destination took {conns} connections")
    check(len({d["conn"] for d in sink.details}) == 1, "messages on different connections")


def test_concurrency_per_destination():
    # 25 messages: at most 20 per connection (RelayOptions::max_messages_per_connection), so
    # two connections; each DATA answered 50 ms late.
    sink, conns = run_batch(1, 25, 0.05)
    check(conns == 2, f"{conns} connections for 25 messages")
    check(not overlap(sink.details), "two connections at once with max_per_destination = 1")
    sink, conns = run_batch(2, 25, 0.05)
    check(conns == 2, f"{conns} connections for 25 messages")
    check(overlap(sink.details), "max_per_destination = 2 did not run two connections in parallel")


CASES = [test_ternctl_queue_while_running, test_one_connection_several_messages,
         test_concurrency_per_destination]


if __name__ == "__main__":
    sys.exit(test_relay.run_cases(CASES, sys.argv[1:]))
