#!/usr/bin/python3
"""Outbound relay end to end: a real ternd relays through a loopback DNS (zone table) to
loopback SMTP sinks on distinct 127.0.0.x addresses sharing one port ([relay] smtp_port).

Cases: preferred MX, fallback when the first MX is down, retry after 4xx, 550 -> DSN in the
local sender's INBOX, expiry -> DSN, null-sender failure not bounced, restart resumes deferred
mail exactly once, SIGTERM during a relay session (clean exit, resumed), DKIM (rsa-sha256 and ed25519-sha256) verifies with dkimpy.
Debian: python3-aiosmtpd, python3-dnslib, python3-dkim, python3-nacl.
"""
import email
import email.policy
import os
import re
import smtplib
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import ternlib  # noqa: E402
from ternlib import Tern, free_port  # noqa: E402
from relay_harness import Sink, ZoneDns  # noqa: E402
from smtp_fixture import USERS, ctl_ok, maildir_messages, make_message, populate  # noqa: E402

BOB = "bob@example.test"
ALICE = "alice@example.test"
WAIT = 30.0  # bound for every "eventually" (ASan build, retries of 1-2 s)
LAST_LOG = [""]  # the ternd log of the last case, printed when it fails


class Env:
    """One ternd + loopback DNS + sinks. Sinks listen on 127.0.0.N:port (one port for all:
    ternd dials every MX on [relay] smtp_port)."""

    def __init__(self, zone, relay=None):
        self.port = free_port()
        self.dns = ZoneDns(zone)
        self.sinks = []
        cfg = {"dns": [f"127.0.0.1:{self.dns.port}"], "smtp_port": self.port,
               "retry_schedule": [1, 1, 2], "connect_timeout": 5}
        cfg.update(relay or {})
        self.t = Tern(listeners=("smtp", "submission"), allow_plaintext_without_tls=True,
                      sections={"relay": cfg})
        populate(self.t)

    def sink(self, host, behaviour):
        s = Sink(host, self.port, behaviour=behaviour)
        self.sinks.append(s)
        return s

    def start(self):
        self.t.start()
        return self

    def shutdown_clean(self):
        """SIGTERM: exits 0 within the bound, no sanitizer report (relay stopped cleanly)."""
        rc = self.t.stop()
        check(rc == 0, f"ternd exit status {rc}")
        log = self.t.log()
        check("Sanitizer" not in log and "runtime error:" not in log, "sanitizer report in the log")
        check("ternd stopped" in log, "no 'ternd stopped' line")

    def close(self):
        for s in self.sinks:
            try:
                s.stop()
            except Exception:
                pass
        LAST_LOG[0] = self.t.log()
        self.t.cleanup()
        self.dns.close()


def submit(env, sender, rcpts, msg):
    """AUTH PLAIN on the submission listener (plaintext allowed on loopback)."""
    with smtplib.SMTP("127.0.0.1", env.t.port("submission"), local_hostname="client.test",
                      timeout=30) as c:
        c.ehlo()
        c.login(sender, USERS[sender])
        refused = c.sendmail(sender, rcpts, msg)
        if refused:
            raise AssertionError(f"refused: {refused}")


def wait_until(pred, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def with_subject(sink, subject):
    return [m for m in sink.messages if f"Subject: {subject}\r\n".encode() in m[2]]


def check(cond, text):
    if not cond:
        raise AssertionError(text)


def dsn_in_inbox(t, user, before):
    """Waits for a new message in user's INBOX (not in `before`) and parses it."""
    def new():
        msgs = maildir_messages(t, user)
        return [v for k, v in msgs.items() if k not in before]
    got = wait_until(new, f"a DSN in {user}'s INBOX")
    check(len(got) == 1, f"expected one new message, got {len(got)}")
    return email.message_from_bytes(got[0], policy=email.policy.compat32)


def delivery_status(dsn):
    """(per-message fields, [per-recipient fields]) of a multipart/report DSN."""
    check(dsn.get_content_type() == "multipart/report", f"type {dsn.get_content_type()}")
    check(dsn.get_param("report-type") == "delivery-status",
          f"report-type {dsn.get_param('report-type')}")
    check(dsn["From"] is not None and "MAILER-DAEMON" in dsn["From"], f"From {dsn['From']}")
    parts = dsn.get_payload()
    check(len(parts) >= 2, "fewer than two report parts")
    check(parts[0].get_content_type() == "text/plain", "first part not text/plain")
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    check(len(status) == 1, "no message/delivery-status part")
    blocks = status[0].get_payload()
    check(len(blocks) >= 2, "delivery-status without per-recipient block")
    return blocks[0], blocks[1:]


# -- cases -------------------------------------------------------------------------------------

def test_preferred_mx():
    env = Env({"pref.test.": [("MX", (20, "mx2.pref.test.")), ("MX", (10, "mx1.pref.test."))],
               "mx1.pref.test.": [("A", "127.0.0.2")], "mx2.pref.test.": [("A", "127.0.0.3")]})
    try:
        best = env.sink("127.0.0.2", Sink.accept)
        other = env.sink("127.0.0.3", Sink.accept)
        env.start()
        submit(env, BOB, ["rcpt@pref.test"], make_message(BOB, "rcpt@pref.test", "pref", b"hi\r\n"))
        wait_until(lambda: with_subject(best, "pref"), "delivery to the preferred MX")
        time.sleep(0.5)
        check(len(with_subject(best, "pref")) == 1, "delivered more than once")
        check(other.messages == [] and other.rcpt_attempts == 0, "the less preferred MX was used")
        mail_from, rcpts, _ = with_subject(best, "pref")[0]
        check(mail_from == BOB and rcpts == ["rcpt@pref.test"], f"envelope {mail_from} {rcpts}")
        check(re.search(r"relay delivered id=\S+ rcpt=rcpt@pref.test mx=mx1.pref.test", env.t.log()),
              "no 'relay delivered' log line naming mx1")
        env.shutdown_clean()
    finally:
        env.close()


def test_fallback_when_first_mx_down():
    env = Env({"down.test.": [("MX", (10, "mx1.down.test.")), ("MX", (20, "mx2.down.test."))],
               "mx1.down.test.": [("A", "127.0.0.9")],  # nothing listens there
               "mx2.down.test.": [("A", "127.0.0.4")]})
    try:
        backup = env.sink("127.0.0.4", Sink.accept)
        env.start()
        submit(env, BOB, ["rcpt@down.test"], make_message(BOB, "rcpt@down.test", "fallback", b"x\r\n"))
        wait_until(lambda: with_subject(backup, "fallback"), "delivery to the second MX")
        time.sleep(0.5)
        check(len(with_subject(backup, "fallback")) == 1, "delivered more than once")
        check(re.search(r"relay delivered id=\S+ rcpt=rcpt@down.test mx=mx2.down.test", env.t.log()),
              "no 'relay delivered' log line naming mx2")
        env.shutdown_clean()
    finally:
        env.close()


def test_retry_after_4xx():
    env = Env({"retry.test.": [("MX", (10, "mx.retry.test."))],
               "mx.retry.test.": [("A", "127.0.0.5")]})
    try:
        sink = env.sink("127.0.0.5", Sink.tempfail_then_accept(2))
        env.start()
        t0 = time.monotonic()
        submit(env, BOB, ["rcpt@retry.test"], make_message(BOB, "rcpt@retry.test", "retry", b"x\r\n"))
        wait_until(lambda: with_subject(sink, "retry"), "delivery after two 4xx")
        elapsed = time.monotonic() - t0
        time.sleep(1.5)
        check(len(with_subject(sink, "retry")) == 1, "delivered more than once")
        check(sink.rcpt_attempts == 3, f"expected 3 RCPT attempts, got {sink.rcpt_attempts}")
        # retry_schedule [1, 1, 2]: each deferral schedules the next attempt 1 s later. The
        # queue keeps whole seconds, so two retries take a little more than 1 s at least.
        deferred = re.findall(r"relay deferred id=\S+ rcpt=rcpt@retry.test \S+ attempts=(\d+) next_in=(\d+)s",
                              env.t.log())
        check(deferred == [("1", "1"), ("2", "1")], f"deferrals (attempts, next_in): {deferred}")
        check(elapsed >= 0.9, f"retried too early ({elapsed:.2f}s)")
        env.shutdown_clean()
    finally:
        env.close()


def test_550_dsn_in_senders_inbox():
    env = Env({"reject.test.": [("MX", (10, "mx.reject.test."))],
               "mx.reject.test.": [("A", "127.0.0.6")]})
    try:
        sink = env.sink("127.0.0.6", Sink.reject("550 5.1.1 no such user here (sink)"))
        env.start()
        before = maildir_messages(env.t, BOB)
        submit(env, BOB, ["nobody@reject.test"],
               make_message(BOB, "nobody@reject.test", "will bounce", b"bounce me\r\n"))
        dsn = dsn_in_inbox(env.t, BOB, before)
        per_msg, rcpts = delivery_status(dsn)
        check(per_msg["Reporting-MTA"] and env.t.hostname in per_msg["Reporting-MTA"],
              f"Reporting-MTA {per_msg['Reporting-MTA']}")
        check(per_msg["Arrival-Date"] is not None, "no Arrival-Date")
        check(len(rcpts) == 1, f"{len(rcpts)} recipient blocks")
        r = rcpts[0]
        check(r["Final-Recipient"].replace(" ", "").lower() == "rfc822;nobody@reject.test",
              f"Final-Recipient {r['Final-Recipient']}")
        check(r["Action"].strip().lower() == "failed", f"Action {r['Action']}")
        check(r["Status"].strip() == "5.1.1", f"Status {r['Status']}")
        diag = " ".join(r["Diagnostic-Code"].split())
        check(diag.lower().startswith("smtp;") and "550" in diag and "no such user here (sink)" in diag,
              f"Diagnostic-Code {diag}")
        check(r["Remote-MTA"] is not None and "mx.reject.test" in r["Remote-MTA"].lower(),
              f"Remote-MTA {r['Remote-MTA']}")
        check(r["Last-Attempt-Date"] is not None, "no Last-Attempt-Date")
        # The returned original (message or headers) names the bounced subject.
        check(b"Subject: will bounce" in dsn.as_bytes(), "original not returned")
        check(sink.messages == [], "the sink accepted a message it rejected")
        check(re.search(r"relay failed id=\S+ rcpt=nobody@reject.test", env.t.log()), "no 'relay failed'")
        # Logged once the store returned: the file may be visible in new/ a moment earlier.
        wait_until(lambda: re.search(r"relay bounce id=\S+ to=bob@example.test", env.t.log()),
                   "the 'relay bounce' log line")
        env.shutdown_clean()
    finally:
        env.close()


def test_expiry_bounces():
    env = Env({"slow.test.": [("MX", (10, "mx.slow.test."))],
               "mx.slow.test.": [("A", "127.0.0.7")]},
              relay={"retry_schedule": [1], "max_queue_lifetime": 4})
    try:
        sink = env.sink("127.0.0.7", Sink.reject("451 4.3.0 busy forever"))
        env.start()
        before = maildir_messages(env.t, BOB)
        submit(env, BOB, ["late@slow.test"], make_message(BOB, "late@slow.test", "expires", b"x\r\n"))
        dsn = dsn_in_inbox(env.t, BOB, before)
        _, rcpts = delivery_status(dsn)
        check(len(rcpts) == 1, f"{len(rcpts)} recipient blocks")
        r = rcpts[0]
        check(r["Action"].strip().lower() == "failed", f"Action {r['Action']}")
        check(r["Status"].strip() == "4.4.7", f"Status {r['Status']}")
        check(r["Final-Recipient"].replace(" ", "").lower() == "rfc822;late@slow.test",
              f"Final-Recipient {r['Final-Recipient']}")
        check(sink.rcpt_attempts >= 2, f"only {sink.rcpt_attempts} attempts before expiry")
        check(sink.messages == [], "accepted by a sink that tempfails")
        env.shutdown_clean()
    finally:
        env.close()


def test_null_sender_failure_not_bounced():
    # An alias on our domain forwarding off-site: MX traffic with MAIL FROM:<> is accepted for it
    # (bob's copy is local), the remote copy is relayed and rejected; nobody gets a bounce.
    env = Env({"reject.test.": [("MX", (10, "mx.reject.test."))],
               "mx.reject.test.": [("A", "127.0.0.8")]})
    try:
        sink = env.sink("127.0.0.8", Sink.reject("550 5.1.1 gone"))
        ctl_ok(env.t, "alias", "add", "fwd@example.test", "bob@example.test,gone@reject.test")
        env.start()
        before = {u: maildir_messages(env.t, u) for u in USERS}
        msg = make_message("", "fwd@example.test", "null sender", b"a bounce itself\r\n")
        with smtplib.SMTP("127.0.0.1", env.t.port("smtp"), local_hostname="mx.client.test",
                          timeout=30) as c:
            c.ehlo()
            check(c.mail("<>")[0] == 250, "MAIL FROM:<> refused")
            code, text = c.rcpt("fwd@example.test")
            check(code == 250, f"RCPT {code} {text}")
            code, text = c.data(msg)
            check(code == 250, f"DATA {code} {text}")
        m = wait_until(lambda: re.search(r"relay failed id=(\S+) rcpt=gone@reject.test", env.t.log()),
                       "the remote copy to fail")
        qid = m.group(1)
        wait_until(lambda: f"relay bounce suppressed id={qid} reason=null-sender" in env.t.log(),
                   "the suppressed bounce")
        time.sleep(2.0)  # a few more ticks: still no DSN anywhere
        after = {u: maildir_messages(env.t, u) for u in USERS}
        new_bob = [v for k, v in after[BOB].items() if k not in before[BOB]]
        check(len(new_bob) == 1 and b"Subject: null sender" in new_bob[0],
              f"bob should have only the forwarded copy, has {len(new_bob)} new")
        check(after[ALICE] == before[ALICE], "alice got a message")
        check(not re.search(rf"relay bounce id={re.escape(qid)} to=", env.t.log()), "a bounce was sent")
        check(sink.messages == [], "the sink accepted a rejected message")
        env.shutdown_clean()
    finally:
        env.close()


def test_restart_resumes_deferred():
    env = Env({"later.test.": [("MX", (10, "mx.later.test."))],
               "mx.later.test.": [("A", "127.0.0.10")]},
              relay={"retry_schedule": [2]})
    try:
        sink = env.sink("127.0.0.10", Sink.reject("451 4.3.0 not now"))
        env.start()
        submit(env, BOB, ["r@later.test"], make_message(BOB, "r@later.test", "resumes", b"x\r\n"))
        wait_until(lambda: re.search(r"relay deferred id=\S+ rcpt=r@later.test", env.t.log()),
                   "the first deferral")
        rc = env.t.stop()
        check(rc == 0, f"ternd exit status {rc}")
        listing = env.t.ctl("queue", "list")
        check(listing.returncode == 0 and "r@later.test" in listing.stdout,
              f"not in the queue while stopped: {listing.stdout} {listing.stderr}")
        sink.behaviour = Sink.accept
        env.t.start()
        wait_until(lambda: with_subject(sink, "resumes"), "delivery after restart")
        time.sleep(3.0)  # past another retry interval: no second copy
        check(len(with_subject(sink, "resumes")) == 1, "delivered more than once")
        listing = env.t.ctl("queue", "list")
        check(listing.returncode == 0, listing.stderr)
        # Delivered recipients are final: not pending/deferred any more.
        check(not re.search(r"r@later\.test.*(pending|deferred)", listing.stdout),
              f"still queued: {listing.stdout}")
        env.shutdown_clean()
    finally:
        env.close()


def test_shutdown_during_session():
    # SIGTERM while a relay session waits on a slow remote: ternd exits 0 at once (no leak
    # report), the recipient stays queued, and the next start delivers it exactly once.
    env = Env({"slow.test.": [("MX", (10, "mx.slow.test."))],
               "mx.slow.test.": [("A", "127.0.0.13")]})
    try:
        state = {"first": True}

        def slow_once(sink, address):
            if state["first"]:
                state["first"] = False
                time.sleep(3)  # blocks this sink's thread: the RCPT reply is late
            return None
        sink = env.sink("127.0.0.13", slow_once)
        env.start()
        submit(env, BOB, ["s@slow.test"], make_message(BOB, "s@slow.test", "in flight", b"x\r\n"))
        wait_until(lambda: sink.rcpt_attempts >= 1, "the relay session to reach RCPT")
        t0 = time.monotonic()
        env.shutdown_clean()
        check(time.monotonic() - t0 < 10, "shutdown waited for the remote")
        env.t.start()
        wait_until(lambda: with_subject(sink, "in flight"), "delivery after restart")
        time.sleep(1.5)
        check(len(with_subject(sink, "in flight")) == 1, "delivered more than once")
        env.shutdown_clean()
    finally:
        env.close()


def dkim_key(t, domain, selector, algorithm):
    out = ctl_ok(t, "dkim", "generate", domain, "--selector", selector, "--algorithm", algorithm)
    fields = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    check(fields.get("name") == f"{selector}._domainkey.{domain}", f"name {fields.get('name')}")
    return fields["name"], fields["value"]


def test_dkim_rsa_and_ed25519():
    import dkim  # python3-dkim (dkimpy); ed25519 needs python3-nacl
    env = Env({"dk.test.": [("MX", (10, "mx.dk.test."))], "mx.dk.test.": [("A", "127.0.0.11")]})
    try:
        sink = env.sink("127.0.0.11", Sink.accept)
        ctl_ok(env.t, "domain", "add", "other.test")
        ctl_ok(env.t, "user", "add", "carol@other.test", input="carol-secret-3\n")
        USERS.setdefault("carol@other.test", "carol-secret-3")
        for domain, selector, alg in (("example.test", "s1", "rsa"), ("other.test", "s2", "ed25519")):
            name, value = dkim_key(env.t, domain, selector, alg)
            env.dns.zone[name.lower() + "."] = [("TXT", value)]
        env.start()
        cases = [(BOB, "signed rsa", b"rsa-sha256", "example.test", "s1"),
                 ("carol@other.test", "signed ed25519", b"ed25519-sha256", "other.test", "s2")]
        for sender, subject, alg, domain, selector in cases:
            submit(env, sender, ["x@dk.test"],
                   make_message(sender, "x@dk.test", subject, b"DKIM body line\r\n\r\nmore  text \r\n"))
        for sender, subject, alg, domain, selector in cases:
            got = wait_until(lambda: with_subject(sink, subject), f"delivery of {subject}")
            data = got[0][2]
            check(data.startswith(b"DKIM-Signature:") or b"\r\nDKIM-Signature:" in data,
                  f"{subject}: no DKIM-Signature")
            sig = data[data.index(b"DKIM-Signature:"):].split(b"\r\n\r\n")[0]
            check(b"a=" + alg in sig and f"d={domain}".encode() in sig and f"s={selector}".encode() in sig,
                  f"{subject}: signature tags {sig[:200]!r}")
            ok = dkim.verify(data, dnsfunc=lambda n, timeout=5: env.dns.txt(n))
            check(ok, f"{subject}: dkimpy does not verify the signature")
            # And a tampered body does not verify (the check can fail).
            check(not dkim.verify(data.replace(b"DKIM body line", b"DKIM b0dy line"),
                                  dnsfunc=lambda n, timeout=5: env.dns.txt(n)),
                  f"{subject}: a tampered message verifies")
        env.shutdown_clean()
    finally:
        env.close()


CASES = [test_preferred_mx, test_fallback_when_first_mx_down, test_retry_after_4xx,
         test_550_dsn_in_senders_inbox, test_expiry_bounces, test_null_sender_failure_not_bounced,
         test_restart_resumes_deferred, test_shutdown_during_session, test_dkim_rsa_and_ed25519]


def run_cases(cases, only=()):
    """The shared runner of the test_relay_*.py files: ternlib.run_cases with the ternd log
    of the failing case."""
    return ternlib.run_cases(cases, only, log=lambda: LAST_LOG[0])


if __name__ == "__main__":
    sys.exit(run_cases(CASES, sys.argv[1:]))
