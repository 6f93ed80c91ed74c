#!/usr/bin/python3
"""Outbound relay end to end: DSN options (RFC 3461) and content the remote cannot take.
A real ternd relays through a loopback DNS (zone table) to aiosmtpd sinks.

Cases: NOTIFY=NEVER (no bounce); NOTIFY=SUCCESS past a sink without DSN -> "relayed" report
(§5.2.2) carrying ENVID and ORCPT, and no DSN parameters sent to that sink; NOTIFY=DELAY ->
one "delayed" report after delay_warning_after (shortened retry schedule), only for the
recipient that asked; RET=HDRS (headers only) vs RET=FULL (whole message); require_tls_domains
with a sink that offers no STARTTLS -> deferred (never sent in clear), then an expiry bounce,
and with a sink that does -> sent over TLS; an 8-bit body to a sink without 8BITMIME and an
SMTPUTF8 address to a sink without SMTPUTF8 -> bounced with 5.6.3 / 5.6.7 and a clear reason.
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
from smtp_fixture import maildir_messages, make_message  # noqa: E402
from ternlib import make_cert  # noqa: E402


def zone(*domains):
    """domain -> MX mx.domain -> A 127.0.0.N (N from 30 on)."""
    z, hosts = {}, {}
    for i, d in enumerate(domains):
        ip = f"127.0.0.{30 + i}"
        z[f"{d}."] = [("MX", (10, f"mx.{d}."))]
        z[f"mx.{d}."] = [("A", ip)]
        hosts[d] = ip
    return z, hosts


def send(env, rcpts, msg, mail_options=(), rcpt_options=None, sender=BOB):
    """Submission with per-recipient RCPT parameters: rcpt_options {address: [params]}."""
    with smtplib.SMTP("127.0.0.1", env.t.port("submission"), local_hostname="client.test", timeout=30) as c:
        c.ehlo()
        c.login(sender, USERS[sender])
        code, text = c.mail(sender, list(mail_options))
        check(code == 250, f"MAIL {code} {text}")
        for r in rcpts:
            code, text = c.rcpt(r, (rcpt_options or {}).get(r, []))
            check(code == 250, f"RCPT {r}: {code} {text}")
        code, text = c.data(msg)
        check(code == 250, f"DATA {code} {text}")


def parts(dsn):
    return dsn.get_payload()


def new_inbox(env, before):
    return [v for k, v in maildir_messages(env.t, BOB).items() if k not in before]


def test_notify_never_and_ret():
    z, hosts = zone("reject.test")
    env = Env(z)
    try:
        env.sink(hosts["reject.test"], Sink.reject("550 5.1.1 no such user (sink)"))
        env.start()
        before = maildir_messages(env.t, BOB)
        send(env, ["never@reject.test"], make_message(BOB, "never@reject.test", "never", b"x\r\n"),
             rcpt_options={"never@reject.test": ["NOTIFY=NEVER"]})
        wait_until(lambda: re.search(r"relay failed id=\S+ rcpt=never@reject.test", env.t.log()), "the failure")
        # RET=HDRS: headers only; RET=FULL: the whole message (RFC 3461 §4.3, RFC 6522).
        body_marker = b"BODY-MARKER-1234"
        send(env, ["hdrs@reject.test"], make_message(BOB, "hdrs@reject.test", "ret hdrs", body_marker + b"\r\n"),
             mail_options=["RET=HDRS", "ENVID=env-hdrs"])
        dsn = dsn_in_inbox(env.t, BOB, before)
        check(b"Subject: ret hdrs" in dsn.as_bytes(), "the first DSN is not about RET=HDRS (NOTIFY=NEVER bounced?)")
        p = parts(dsn)
        check(len(p) == 3 and p[2].get_content_type() == "text/rfc822-headers",
              f"RET=HDRS returned {[x.get_content_type() for x in p]}")
        check(body_marker not in dsn.as_bytes(), "RET=HDRS returned the body")
        per_msg, _ = delivery_status(dsn)
        check((per_msg["Original-Envelope-Id"] or "").strip() == "env-hdrs",
              f"Original-Envelope-Id {per_msg['Original-Envelope-Id']}")
        seen = set(maildir_messages(env.t, BOB))
        send(env, ["full@reject.test"], make_message(BOB, "full@reject.test", "ret full", body_marker + b"\r\n"),
             mail_options=["RET=FULL"])
        dsn = dsn_in_inbox(env.t, BOB, seen)
        p = parts(dsn)
        check(len(p) == 3 and p[2].get_content_type() == "message/rfc822",
              f"RET=FULL returned {[x.get_content_type() for x in p]}")
        check(body_marker in dsn.as_bytes(), "RET=FULL did not return the body")
        time.sleep(1.0)
        got = new_inbox(env, before)
        check(len(got) == 2, f"{len(got)} DSNs: NOTIFY=NEVER must not produce one")
        check(not any(b"Subject: never" in m for m in got), "a DSN for NOTIFY=NEVER")
        env.shutdown_clean()
    finally:
        env.close()


def test_notify_success_relayed_with_envid_orcpt():
    z, hosts = zone("ok.test")
    env = Env(z)
    try:
        sink = env.sink(hosts["ok.test"], Sink.accept)
        env.start()
        before = maildir_messages(env.t, BOB)
        send(env, ["yes@ok.test"], make_message(BOB, "yes@ok.test", "success", b"x\r\n"),
             mail_options=["ENVID=QQ+2Bid-42", "RET=HDRS"],
             rcpt_options={"yes@ok.test": ["NOTIFY=SUCCESS", "ORCPT=rfc822;first+2Balias@ok.test"]})
        wait_until(lambda: with_subject(sink, "success"), "delivery")
        d = sink.details[-1]
        # aiosmtpd does not offer DSN: the parameters must not be passed on (RFC 3461 §4).
        check(d["rcpt_options"] == [[]] and not any(o.upper().startswith(("RET=", "ENVID="))
                                                    for o in d["mail_options"]),
              f"DSN parameters sent to a server without DSN: {d}")
        dsn = dsn_in_inbox(env.t, BOB, before)
        per_msg, rcpts = delivery_status(dsn)
        check((per_msg["Original-Envelope-Id"] or "").strip() == "QQ+id-42",
              f"Original-Envelope-Id {per_msg['Original-Envelope-Id']}")
        r = rcpts[0]
        check(r["Action"].strip().lower() == "relayed", f"Action {r['Action']} (RFC 3461 §5.2.2)")
        check(r["Status"].strip().startswith("2."), f"Status {r['Status']}")
        check(r["Original-Recipient"].replace(" ", "").lower() == "rfc822;first+alias@ok.test",
              f"Original-Recipient {r['Original-Recipient']}")
        check(r["Final-Recipient"].replace(" ", "").lower() == "rfc822;yes@ok.test",
              f"Final-Recipient {r['Final-Recipient']}")
        env.shutdown_clean()
    finally:
        env.close()


def test_notify_delay_once():
    z, hosts = zone("slow.test")
    env = Env(z, relay={"retry_schedule": [1], "delay_warning_after": 2, "max_queue_lifetime": 60})
    try:
        sink = env.sink(hosts["slow.test"], Sink.reject("451 4.3.0 busy (sink)"))
        env.start()
        before = maildir_messages(env.t, BOB)
        send(env, ["d@slow.test", "f@slow.test"], make_message(BOB, "d@slow.test", "delay", b"x\r\n"),
             rcpt_options={"d@slow.test": ["NOTIFY=DELAY,FAILURE"], "f@slow.test": ["NOTIFY=FAILURE"]})
        dsn = dsn_in_inbox(env.t, BOB, before)
        _, rcpts = delivery_status(dsn)
        check(len(rcpts) == 1, f"{len(rcpts)} recipients in the delay report (f@ did not ask)")
        r = rcpts[0]
        check(r["Final-Recipient"].replace(" ", "").lower() == "rfc822;d@slow.test", f"{r['Final-Recipient']}")
        check(r["Action"].strip().lower() == "delayed", f"Action {r['Action']}")
        check(r["Status"].strip() == "4.3.0", f"Status {r['Status']}")
        check(r["Will-Retry-Until"] is not None, "no Will-Retry-Until")
        check(r["Diagnostic-Code"] and "busy (sink)" in r["Diagnostic-Code"], f"Diagnostic {r['Diagnostic-Code']}")
        n = sink.rcpt_attempts
        wait_until(lambda: sink.rcpt_attempts >= n + 4, "more retries after the delay report")
        sink.behaviour = Sink.accept
        wait_until(lambda: with_subject(sink, "delay"), "delivery at last")
        time.sleep(1.5)
        got = new_inbox(env, before)
        check(len(got) == 1, f"{len(got)} DSNs: the delay report is sent once, no success report")
        env.shutdown_clean()
    finally:
        env.close()


def test_require_tls():
    z, hosts = zone("secure.test", "tls.test")
    env = Env(z, relay={"require_tls_domains": ["secure.test", "tls.test"], "retry_schedule": [1],
                        "max_queue_lifetime": 4})
    try:
        plain = env.sink(hosts["secure.test"], Sink.accept)  # no STARTTLS
        cert = make_cert(env.t.dir, "mx.tls.test", "mx")
        tls = Sink(hosts["tls.test"], env.port, Sink.accept, tls_cert=cert)
        env.sinks.append(tls)
        env.start()
        before = maildir_messages(env.t, BOB)
        send(env, ["r@secure.test"], make_message(BOB, "r@secure.test", "must be tls", b"x\r\n"))
        send(env, ["r@tls.test"], make_message(BOB, "r@tls.test", "is tls", b"x\r\n"))
        m = wait_until(lambda: re.search(r'relay deferred id=\S+ rcpt=r@secure.test .*reply="([^"]*)"', env.t.log()),
                       "the deferral")
        check(m.group(1).startswith("421 4.7.0") and "TLS" in m.group(1), f"reply {m.group(1)}")
        got = wait_until(lambda: with_subject(tls, "is tls"), "delivery over STARTTLS")
        check(tls.details[tls.messages.index(got[0])]["tls"], "sent without TLS to a require_tls domain")
        dsn = dsn_in_inbox(env.t, BOB, before)
        _, rcpts = delivery_status(dsn)
        r = rcpts[0]
        check(r["Final-Recipient"].replace(" ", "").lower() == "rfc822;r@secure.test", f"{r['Final-Recipient']}")
        check(r["Action"].strip().lower() == "failed" and r["Status"].strip() == "4.4.7",
              f"Action {r['Action']} Status {r['Status']}")
        check("TLS" in " ".join((r["Diagnostic-Code"] or "").split()), f"Diagnostic {r['Diagnostic-Code']}")
        check(plain.messages == [] and plain.rcpt_attempts == 0, "the message was sent in clear")
        env.shutdown_clean()
    finally:
        env.close()


def test_8bit_and_smtputf8_refused_by_remote():
    z, hosts = zone("seven.test", "ascii.test", "utf.test")
    env = Env(z)
    try:
        seven = Sink(hosts["seven.test"], env.port, Sink.accept, drop_ehlo=("8BITMIME",))
        ascii_only = env.sink(hosts["ascii.test"], Sink.accept)  # no SMTPUTF8
        utf = Sink(hosts["utf.test"], env.port, Sink.accept, smtputf8=True)
        env.sinks += [seven, utf]
        env.start()
        before = maildir_messages(env.t, BOB)
        body8 = "caf\u00e9 cr\u00e8me\r\n".encode()
        msg8 = make_message(BOB, "r@seven.test", "eight bit", body8).replace(b"us-ascii", b"utf-8")
        send(env, ["r@seven.test"], msg8, mail_options=["BODY=8BITMIME"])
        dsn = dsn_in_inbox(env.t, BOB, before)
        _, rcpts = delivery_status(dsn)
        r = rcpts[0]
        check(r["Status"].strip() == "5.6.3", f"8-bit: Status {r['Status']}")
        diag = " ".join((r["Diagnostic-Code"] or "").split())
        check("8BITMIME" in diag, f"8-bit: unclear reason {diag}")
        check(seven.messages == [], "8-bit content sent to a server without 8BITMIME")
        seen = set(maildir_messages(env.t, BOB))
        rcpt = "jos\u00e9@ascii.test"
        msgu = make_message(BOB, "x@ascii.test", "utf8 address", b"x\r\n")
        send(env, [rcpt, "jos\u00e9@utf.test"], msgu, mail_options=["SMTPUTF8"])
        dsn = dsn_in_inbox(env.t, BOB, seen)
        _, rcpts = delivery_status(dsn)
        check(len(rcpts) == 1, f"{len(rcpts)} recipients bounced (utf.test offers SMTPUTF8)")
        r = rcpts[0]
        check(r["Status"].strip() == "5.6.7", f"SMTPUTF8: Status {r['Status']}")
        check("SMTPUTF8" in " ".join((r["Diagnostic-Code"] or "").split()), f"SMTPUTF8: {r['Diagnostic-Code']}")
        check(ascii_only.messages == [] and ascii_only.rcpt_attempts == 0, "sent to a server without SMTPUTF8")
        got = wait_until(lambda: with_subject(utf, "utf8 address"), "delivery to the SMTPUTF8 sink")
        d = utf.details[utf.messages.index(got[0])]
        check("SMTPUTF8" in [o.upper() for o in d["mail_options"]], f"MAIL options {d['mail_options']}")
        env.shutdown_clean()
    finally:
        env.close()


CASES = [test_notify_never_and_ret, test_notify_success_relayed_with_envid_orcpt, test_notify_delay_once,
         test_require_tls, test_8bit_and_smtputf8_refused_by_remote]


if __name__ == "__main__":
    sys.exit(test_relay.run_cases(CASES, sys.argv[1:]))
