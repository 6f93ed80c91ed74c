#!/usr/bin/python3
"""The HTTP listeners with curl: Thunderbird autoconfig, Autodiscover (POST), the Apple
profile, the MTA-STS policy by Host name (plain and over HTTPS with SNI), /metrics (a counter
moves after an SMTP delivery; 403 outside http.metrics_allow), /healthz, an
unknown ACME challenge, bad requests answered with their status codes, and `ternctl dns`
listing the MTA-STS and autoconfig names."""
import os
import re
import shutil
import smtplib
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET

from ternlib import LISTENERS, Checks, Tern, make_cert  # noqa: E402

check = Checks()
DOMAIN = "example.test"
USER = "erin@example.test"


def curl(*args):
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "20", "-w", "\n%{http_code}", *args],
                       capture_output=True, timeout=30)
    out = p.stdout.decode(errors="replace")
    body, _, code = out.rpartition("\n")
    return p.returncode, int(code or 0), body, p.stderr.decode(errors="replace")


def metric(text, name, labels=""):
    m = re.search(r"^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def raw_request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.settimeout(10)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def main():
    if not shutil.which("curl"):
        print("curl not installed", file=sys.stderr)
        return 1
    t = Tern(listeners=LISTENERS + ("http", "https"),
             sections={"mta_sts": {"mode": "enforce", "max_age": 86400}})
    # The policy host's certificate, offered by server name (SNI) beside the default one.
    sts_cert, sts_key = make_cert(t.dir, f"mta-sts.{DOMAIN}", name="sts",
                                  san=f"DNS:mta-sts.{DOMAIN},DNS:autoconfig.{DOMAIN}")
    t.extra_toml = f'[[tls.sni]]\ncert = "{sts_cert}"\nkey = "{sts_key}"\n'
    t.write_config()
    with t:
        t.start()
        for args, pw in ((["domain", "add", DOMAIN], None), (["user", "add", USER], "erin-pw-1")):
            p = t.ctl(*args, input=(pw + "\n") if pw else None)
            if p.returncode != 0:
                raise RuntimeError(f"ternctl {args}: {p.stderr}")
        http = f"http://127.0.0.1:{t.port('http')}"
        ports = {k: str(t.port(k)) for k in ("imaps", "imap", "pop3s", "submissions", "submission")}

        # Thunderbird autoconfig: the real ports and socket types.
        rc, code, body, err = curl(f"{http}/mail/config-v1.1.xml?emailaddress=erin%40{DOMAIN}")
        check("autoconfig 200", rc == 0 and code == 200, (rc, code, err))
        try:
            root = ET.fromstring(body)
            incoming = [(s.get("type"), s.findtext("port"), s.findtext("socketType"))
                        for s in root.iter("incomingServer")]
            outgoing = [(s.findtext("port"), s.findtext("socketType")) for s in root.iter("outgoingServer")]
            check("autoconfig imap ssl", ("imap", ports["imaps"], "SSL") in incoming, incoming)
            check("autoconfig imap starttls", ("imap", ports["imap"], "STARTTLS") in incoming, incoming)
            check("autoconfig pop3", ("pop3", ports["pop3s"], "SSL") in incoming, incoming)
            check("autoconfig smtp", outgoing[:2] == [(ports["submissions"], "SSL"),
                                                      (ports["submission"], "STARTTLS")], outgoing)
            check("autoconfig hostname", root.find(".//hostname").text == t.hostname, body)
            check("autoconfig username", root.find(".//username").text == "%EMAILADDRESS%", body)
        except ET.ParseError as e:
            check("autoconfig is XML", False, f"{e}: {body!r}")
        # By the autoconfig.<domain> name, as Thunderbird asks it; a foreign domain is 404.
        rc, code, _, err = curl("-H", f"Host: autoconfig.{DOMAIN}",
                                f"{http}/.well-known/autoconfig/mail/config-v1.1.xml")
        check("autoconfig by host", code == 200, (code, err))
        _, code, _, _ = curl(f"{http}/mail/config-v1.1.xml?emailaddress=x%40other.test")
        check("autoconfig foreign domain 404", code == 404, code)

        # Autodiscover: POST the request XML.
        req = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
               'exchange/autodiscover/outlook/requestschema/2006"><Request>'
               f'<EMailAddress>{USER}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/'
               'exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request>'
               '</Autodiscover>')
        rc, code, body, err = curl("-X", "POST", "-H", "Content-Type: text/xml", "--data-binary", req,
                                   f"{http}/autodiscover/autodiscover.xml")
        check("autodiscover 200", code == 200, (code, err, body))
        ns = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"
        try:
            protos = {p.findtext(ns + "Type"): (p.findtext(ns + "Port"), p.findtext(ns + "LoginName"))
                      for p in ET.fromstring(body).iter(ns + "Protocol")}
            check("autodiscover imap", protos.get("IMAP") == (ports["imaps"], USER), protos)
            check("autodiscover smtp", protos.get("SMTP") == (ports["submissions"], USER), protos)
        except ET.ParseError as e:
            check("autodiscover is XML", False, f"{e}: {body!r}")
        _, code, _, _ = curl(f"{http}/Autodiscover/Autodiscover.xml")
        check("autodiscover GET 405", code == 405, code)

        # The Apple profile.
        rc, code, body, err = curl("-D", "-", f"{http}/apple/profile.mobileconfig?emailaddress=erin%40{DOMAIN}")
        check("mobileconfig 200", code == 200, (code, err))
        check("mobileconfig type", "content-type: application/x-apple-aspen-config" in body.lower(), body[:300])
        check("mobileconfig payload", "<string>com.apple.mail.managed</string>" in body
              and f"<integer>{ports['imaps']}</integer>" in body, body[-800:])

        # MTA-STS: per policy host, plain HTTP with a Host header...
        want = f"version: STSv1\r\nmode: enforce\r\nmx: {t.hostname}\r\nmax_age: 86400\r\n"
        rc, code, body, err = curl("-H", f"Host: mta-sts.{DOMAIN}", f"{http}/.well-known/mta-sts.txt")
        check("mta-sts policy", code == 200 and body == want, (code, body, err))
        _, code, _, _ = curl("-H", "Host: mta-sts.other.test", f"{http}/.well-known/mta-sts.txt")
        check("mta-sts unknown host 404", code == 404, code)
        # ...and as senders fetch it: HTTPS, the name resolved to us, the certificate verified.
        hp = t.port("https")
        rc, code, body, err = curl("--cacert", sts_cert, "--resolve", f"mta-sts.{DOMAIN}:{hp}:127.0.0.1",
                                   f"https://mta-sts.{DOMAIN}:{hp}/.well-known/mta-sts.txt")
        check("mta-sts over https (SNI certificate verified)", rc == 0 and code == 200 and body == want,
              (rc, code, body, err))
        rc, code, body, err = curl("--cacert", t.cert, "--resolve", f"localhost:{hp}:127.0.0.1",
                                   f"https://localhost:{hp}/healthz")
        check("https default certificate", rc == 0 and code == 200 and body == "ok\n", (rc, code, body, err))

        # /healthz and a pending-challenge miss.
        rc, code, body, _ = curl(f"{http}/healthz")
        check("healthz", code == 200 and body == "ok\n", (code, body))
        _, code, _, _ = curl(f"{http}/.well-known/acme-challenge/NoSuchToken_1")
        check("unknown acme token 404", code == 404, code)

        # /metrics (loopback is allowed by default): a delivery moves the counters.
        def metrics():
            _, code, body, _ = curl(f"{http}/metrics")
            check("metrics 200", code == 200, code)
            return body
        before = metrics()
        for name in ("tern_connections_total", "tern_queue_messages", "tern_auth_failures_total",
                     "tern_delivery_latency_seconds_bucket", "tern_store_commit_batches_total"):
            check(f"metrics has {name}", re.search("^" + name, before, re.M) is not None, before[:2000])
        with smtplib.SMTP("127.0.0.1", t.port("smtp"), local_hostname="client.test", timeout=30) as c:
            c.sendmail("sender@remote.test", [USER], b"Subject: hi\r\n\r\nhello\r\n")
        after = metrics()
        key = ('tern_messages_received_total', '{listener="mx",outcome="delivered"}')
        check("received counter moved", (metric(before, *key) or 0) + 1 == metric(after, *key),
              (metric(before, *key), metric(after, *key)))
        check("latency count moved", (metric(before, "tern_delivery_latency_seconds_count") or 0) + 1
              == metric(after, "tern_delivery_latency_seconds_count"), after[-600:])
        check("store delivered moved", (metric(before, "tern_store_delivered_total") or 0) + 1
              == metric(after, "tern_store_delivered_total"), after[:1500])
        check("smtp connection counted", (metric(after, "tern_connections_total", '{proto="smtp"}') or 0) >= 1, after[:800])

        # Keep-alive: two requests on one connection, HTTP/1.1 and pipelined.
        out = raw_request(t.port("http"), b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                          b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        check("pipelined keep-alive", out.count(b"HTTP/1.1 200 OK") == 2, out)
        # Bad input: clear status codes, then the connection closes.
        for name, data, status in (
                ("chunked 411", b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"411"),
                ("no host 400", b"GET /healthz HTTP/1.1\r\n\r\n", b"400"),
                ("long target 414", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"414"),
                ("big body 413", b"POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Length: 999999\r\n\r\n", b"413"),
                ("unknown method 501", b"BREW /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"501")):
            out = raw_request(t.port("http"), data)
            check(name, out.startswith(b"HTTP/1.1 " + status + b" "), out[:200])
        rc, code, _, _ = curl(f"{http}/healthz")
        check("still serving after bad input", code == 200, code)

        # ternctl dns lists the names these listeners answer for.
        p = t.ctl("dns", DOMAIN)
        check("ternctl dns: _mta-sts", f'_mta-sts.{DOMAIN}. 3600 IN TXT "v=STSv1; id=' in p.stdout, p.stdout + p.stderr)
        for name in ("mta-sts", "autoconfig", "autodiscover"):
            check(f"ternctl dns: {name}", f"{name}.{DOMAIN}. 3600 IN CNAME {t.hostname}." in p.stdout, p.stdout)
        if check.failures:
            print(t.log()[-4000:], file=sys.stderr)

    # http.metrics_allow without loopback: /metrics is refused, the rest still answers.
    with Tern(listeners=("http",), tls=False, sections={"http": {"metrics_allow": ["192.0.2.0/24"]}}) as t2:
        t2.start()
        base = f"http://127.0.0.1:{t2.port('http')}"
        _, code, _, _ = curl(f"{base}/metrics")
        check("metrics refused outside metrics_allow", code == 403, code)
        _, code, _, _ = curl(f"{base}/healthz")
        check("healthz without metrics_allow", code == 200, code)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
