#!/usr/bin/python3
"""Outbound relay through a smarthost ([relay] smarthost = "host:port"), end to end: a real
ternd relays to an aiosmtpd sink that checks AUTH credentials, over STARTTLS or implicit TLS
(smarthost_tls = "implicit"). The sink's certificate is self-signed, names 127.0.0.20 (the
smarthost address) and is given to ternd as relay.smarthost_ca_file, so it verifies.

Cases: STARTTLS + AUTH PLAIN; AUTH LOGIN when PLAIN is not offered; implicit TLS; wrong
credentials -> deferred with the server's reply in the queue state (ternctl queue show), then
delivered once the credentials are fixed; a smarthost without STARTTLS is never given the
password in clear (deferred, 4.7.0); a certificate that does not name the smarthost, or is
not trusted, gets nothing, not even the password (deferred), unless smarthost_verify = false.
Debian: python3-aiosmtpd.
"""
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import test_relay  # noqa: E402
from test_relay import BOB, Env, check, submit, wait_until, with_subject  # noqa: E402
from relay_harness import Sink  # noqa: E402
from smtp_fixture import ctl_ok, make_message  # noqa: E402
from ternlib import make_cert  # noqa: E402

HOST = "127.0.0.20"
CREDS = {"relay-user@provider.test": "s3cret pass"}


def smarthost_env(tls, password="s3cret pass", san=f"IP:{HOST}", verify=True):
    env = Env({}, relay={"smarthost_tls": tls, "smarthost_username": "relay-user@provider.test",
                         "smarthost_password": password, "retry_schedule": [1]})
    env.cert = make_cert(env.t.dir, "smarthost.provider.test", "smarthost", san=san)
    env.t.sections["relay"]["smarthost"] = f"{HOST}:{env.port}"
    env.t.sections["relay"]["smarthost_ca_file"] = env.cert[0]
    env.t.sections["relay"]["smarthost_verify"] = verify
    env.t.write_config()
    return env


def queue_id(env, rcpt):
    m = wait_until(lambda: re.search(rf"relay queued id=(\S+) from=<{re.escape(BOB)}>", env.t.log()), "queued")
    return m.group(1)


def deliver_through(env, sink, subject, rcpt="someone@far.test"):
    submit(env, BOB, [rcpt], make_message(BOB, rcpt, subject, b"via the smarthost\r\n"))
    got = wait_until(lambda: with_subject(sink, subject), f"delivery of {subject}")
    check(len(got) == 1, f"{len(got)} copies")
    mail_from, rcpts, _ = got[0]
    check(mail_from == BOB and rcpts == [rcpt], f"envelope {mail_from} {rcpts}")
    return sink.details[sink.messages.index(got[0])]


def test_starttls_auth_plain():
    env = smarthost_env("starttls")
    try:
        sink = Sink(HOST, env.port, Sink.accept, tls_cert=env.cert, auth=CREDS)
        env.sinks.append(sink)
        env.start()
        d = deliver_through(env, sink, "plain over starttls")
        check(d["tls"], "sent without TLS")
        check(d["auth"] == "relay-user@provider.test", f"authenticated as {d['auth']}")
        check(sink.auth_attempts and sink.auth_attempts[0][1] == "PLAIN", f"auth {sink.auth_attempts}")
        # The sink has the message before ternd reads its 250 and logs the delivery: wait.
        wait_until(lambda: re.search(rf"relay delivered id=\S+ rcpt=someone@far.test mx={re.escape(HOST)}", env.t.log()),
                   "'relay delivered' naming the smarthost", timeout=10)
        check("relay started smtp_port" in env.t.log() and f"smarthost={HOST}:{env.port}" in env.t.log(),
              "the smarthost is not logged at start")
        env.shutdown_clean()
    finally:
        env.close()


def test_starttls_auth_login():
    env = smarthost_env("starttls")
    try:
        sink = Sink(HOST, env.port, Sink.accept, tls_cert=env.cert, auth=CREDS, exclude_auth=("PLAIN",))
        env.sinks.append(sink)
        env.start()
        d = deliver_through(env, sink, "login over starttls")
        check(d["tls"] and d["auth"] == "relay-user@provider.test", f"details {d}")
        check([a[1] for a in sink.auth_attempts] == ["LOGIN"], f"auth {sink.auth_attempts}")
        env.shutdown_clean()
    finally:
        env.close()


def test_implicit_tls():
    env = smarthost_env("implicit")
    try:
        sink = Sink(HOST, env.port, Sink.accept, tls_cert=env.cert, implicit_tls=True, auth=CREDS)
        env.sinks.append(sink)
        env.start()
        d = deliver_through(env, sink, "implicit tls")
        check(d["tls"] and d["auth"] == "relay-user@provider.test", f"details {d}")
        env.shutdown_clean()
    finally:
        env.close()


def test_wrong_credentials_deferred():
    env = smarthost_env("starttls", password="wrong password")
    try:
        sink = Sink(HOST, env.port, Sink.accept, tls_cert=env.cert, auth=CREDS)
        env.sinks.append(sink)
        env.start()
        submit(env, BOB, ["someone@far.test"], make_message(BOB, "someone@far.test", "bad creds", b"x\r\n"))
        qid = queue_id(env, "someone@far.test")
        wait_until(lambda: re.search(rf"relay deferred id={qid} rcpt=someone@far.test", env.t.log()),
                   "the deferral")
        show = ctl_ok(env.t, "queue", "show", qid)
        line = [l for l in show.splitlines() if l.startswith("recipient: someone@far.test")]
        check(len(line) == 1 and "\tdeferred\t" in line[0], f"queue show: {show}")
        check(re.search(r'reply="535[ -]', line[0]), f"the 535 reply is not in the queue state: {line[0]}")
        check(f"mx={HOST}" in line[0], f"no mx in {line[0]}")
        check(sink.messages == [], "delivered with wrong credentials")
        check(sink.auth_attempts and not any(ok for _, _, ok in sink.auth_attempts),
              f"auth attempts {sink.auth_attempts}")
        # Still queued: no bounce for a credentials problem (temporary, the admin fixes it).
        check(not re.search(rf"relay bounce id={qid}", env.t.log()), "bounced")
        # Fix the password, restart: delivered.
        rc = env.t.stop()
        check(rc == 0, f"ternd exit status {rc}")
        env.t.sections["relay"]["smarthost_password"] = "s3cret pass"
        env.t.write_config()
        env.t.start()
        wait_until(lambda: with_subject(sink, "bad creds"), "delivery with the right password")
        check(sink.details[-1]["auth"] == "relay-user@provider.test", "not authenticated")
        env.shutdown_clean()
    finally:
        env.close()


def test_no_starttls_no_password_in_clear():
    env = smarthost_env("starttls")
    try:
        sink = Sink(HOST, env.port, Sink.accept, auth=CREDS)  # no TLS: AUTH offered in clear
        env.sinks.append(sink)
        env.start()
        submit(env, BOB, ["someone@far.test"], make_message(BOB, "someone@far.test", "cleartext", b"x\r\n"))
        qid = queue_id(env, "someone@far.test")
        m = wait_until(lambda: re.search(rf'relay deferred id={qid} rcpt=someone@far.test .*reply="([^"]*)"',
                                         env.t.log()), "the deferral")
        check(m.group(1).startswith("421 4.7.0"), f"reply {m.group(1)}")
        check(sink.auth_attempts == [], f"credentials sent in clear: {sink.auth_attempts}")
        check(sink.messages == [], "delivered without TLS")
        env.shutdown_clean()
    finally:
        env.close()


def test_certificate_not_naming_the_smarthost_gets_nothing():
    for tls in ("starttls", "implicit"):
        env = smarthost_env(tls, san="DNS:smarthost.provider.test")  # we connect to 127.0.0.20
        try:
            sink = Sink(HOST, env.port, Sink.accept, tls_cert=env.cert, auth=CREDS,
                        implicit_tls=(tls == "implicit"))
            env.sinks.append(sink)
            env.start()
            subject = f"wrong name {tls}"
            submit(env, BOB, ["someone@far.test"], make_message(BOB, "someone@far.test", subject, b"x\r\n"))
            qid = queue_id(env, "someone@far.test")
            wait_until(lambda: re.search(rf"relay deferred id={qid} rcpt=someone@far.test", env.t.log()),
                       "the deferral")
            time.sleep(1.5)  # at least one retry (retry_schedule = [1]) fails the same way
            check(sink.auth_attempts == [], f"credentials sent to an unverified server: {sink.auth_attempts}")
            check(sink.messages == [], "delivered to an unverified server")
            env.shutdown_clean()
        finally:
            env.close()


def test_verify_off_encrypts_without_checking():
    env = smarthost_env("starttls", san="DNS:smarthost.provider.test", verify=False)
    try:
        sink = Sink(HOST, env.port, Sink.accept, tls_cert=env.cert, auth=CREDS)
        env.sinks.append(sink)
        env.start()
        d = deliver_through(env, sink, "verify off")
        check(d["tls"], "not encrypted")
        check(d["auth"] == "relay-user@provider.test", "not authenticated")
        env.shutdown_clean()
    finally:
        env.close()


CASES = [test_starttls_auth_plain, test_starttls_auth_login, test_implicit_tls,
         test_wrong_credentials_deferred, test_no_starttls_no_password_in_clear,
         test_certificate_not_naming_the_smarthost_gets_nothing, test_verify_off_encrypts_without_checking]


if __name__ == "__main__":
    sys.exit(test_relay.run_cases(CASES, sys.argv[1:]))
