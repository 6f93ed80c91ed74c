#!/usr/bin/python3
"""ACME (RFC 8555) against Debian's pebble, on loopback only.

pebble runs with its own HTTPS certificate (a CA made here: Debian ships none), validates
HTTP-01 on ternd's http listener and TLS-ALPN-01 (RFC 8737) on its https listener, and
resolves every name through a dnslib server in this process that answers 127.0.0.1 (no
PEBBLE_VA_ALWAYS_VALID: the validations are real). ternd starts with [acme] pointing at pebble;
the test waits for the certificate, then `openssl s_client -servername` must show a chain that
`openssl verify` accepts against pebble's root (from its management port), with pebble's
intermediate. Renewal (HTTP-01 run): the test-only key acme.test_renew_after makes ternd renew
10 s after notBefore; a new serial must then be served by the same process, without a restart
or SIGHUP.
"""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

from dnslib import QTYPE, RR, A, DNSRecord

from ternlib import Checks, Tern, TernError, free_port

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import dns_server  # noqa: E402  (tests/support)

PEBBLE = shutil.which("pebble") or "/usr/bin/pebble"
HOST = "mail.example.test"
DOMAIN = "example.test"
NAMES = [HOST, "mta-sts." + DOMAIN, "autoconfig." + DOMAIN]
RENEW_AFTER = 10

check = Checks()


# -- a DNS server that puts every name on 127.0.0.1 (UDP and TCP, one port) ------------------

def dns_answer(data):
    q = DNSRecord.parse(data)
    reply = q.reply()
    if q.q.qtype == QTYPE.A:
        reply.add_answer(RR(q.q.qname, QTYPE.A, rdata=A("127.0.0.1"), ttl=60))
    return reply.pack()  # other types: NOERROR, no records (pebble also asks AAAA and CAA)


def serve_dns():
    """UDP and TCP on one port, with tests/support/dns_server.py's loops."""
    port = free_port()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", port))
    tcp.listen(16)

    def tcp_loop():
        while True:
            conn, _ = tcp.accept()
            threading.Thread(target=dns_server.serve_tcp_conn, args=(conn, dns_answer),
                             daemon=True).start()

    threading.Thread(target=dns_server.serve_udp, args=(udp, dns_answer), daemon=True).start()
    threading.Thread(target=tcp_loop, daemon=True).start()
    return port


# -- pebble ------------------------------------------------------------------------------

def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise TernError(f"openssl {args[0]} failed: {p.stderr}")
    return p.stdout


def make_pebble_tls(directory):
    """A CA and a certificate for 127.0.0.1/localhost signed by it: pebble's HTTPS."""
    ca_key, ca_cert = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.pem")
    key, csr, cert = (os.path.join(directory, n) for n in ("pebble.key", "pebble.csr", "pebble.pem"))
    ext = os.path.join(directory, "pebble.ext")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", ca_key, "-out", ca_cert, "-days", "2", "-subj", "/CN=test ACME server CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", ext)
    return ca_cert, cert, key


def start_pebble(directory, http_port, tls_port, dns_port):
    ca_cert, cert, key = make_pebble_tls(directory)
    api, mgmt = free_port(), free_port()
    config = os.path.join(directory, "pebble.json")
    with open(config, "w") as f:
        json.dump({"pebble": {
            "listenAddress": f"127.0.0.1:{api}",
            "managementListenAddress": f"127.0.0.1:{mgmt}",
            "certificate": cert, "privateKey": key,
            "httpPort": http_port, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": False}}, f)
    env = dict(os.environ, PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
    log = open(os.path.join(directory, "pebble.log"), "wb")
    proc = subprocess.Popen([PEBBLE, "-config", config, "-dnsserver", f"127.0.0.1:{dns_port}"],
                            stdout=log, stderr=log, env=env, cwd=directory)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", api), timeout=1).close()
            socket.create_connection(("127.0.0.1", mgmt), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise TernError("pebble did not start")
            time.sleep(0.1)
    return proc, ca_cert, api, mgmt


def fetch_pem(url, ca_cert):
    ctx = ssl.create_default_context(cafile=ca_cert)
    with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
        return r.read().decode()


# -- the certificate ternd serves -------------------------------------------------------------

def served_chain(port, servername):
    """The PEM certificates `openssl s_client -servername` receives, leaf first."""
    p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername",
                        servername, "-showcerts"], input="", capture_output=True, text=True,
                       timeout=30)
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", p.stdout, re.S)


def cert_field(pem, *args):
    p = subprocess.run(["openssl", "x509", "-noout", *args], input=pem, capture_output=True,
                       text=True, timeout=30)
    return p.stdout.strip()


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.3)
    return None


def issued_chain(port, name):
    """The served chain when pebble issued it (not the placeholder), else None."""
    chain = served_chain(port, name)
    if chain and "Pebble" in cert_field(chain[0], "-issuer"):
        return chain
    return None


def stop_pebble(pebble):
    pebble.terminate()
    try:
        pebble.wait(10)
    except subprocess.TimeoutExpired:
        pebble.kill()


def scenario(challenge, dns_port, renew):
    """ternd with [acme] against a fresh pebble that validates `challenge` on ternd's http
    (HTTP-01) or https (TLS-ALPN-01) listener."""
    print(f"-- {challenge}")
    t = Tern(listeners=("smtp", "imaps", "http", "https"), hostname=HOST)
    pebble = None
    try:
        pebble, pebble_ca, api, mgmt = start_pebble(t.dir, t.port("http"), t.port("https"),
                                                    dns_port)
        t.ctl("domain", "add", DOMAIN)
        t.sections["acme"] = {"enabled": True, "directory": f"https://127.0.0.1:{api}/dir",
                              "contact": "postmaster@example.test", "ca_file": pebble_ca,
                              "challenge": challenge}
        if renew:
            t.sections["acme"]["test_renew_after"] = RENEW_AFTER
        t.write_config()
        started = time.monotonic()
        t.start()
        pid = t.pid

        # Until the order completes the self-signed placeholder answers.
        chain = wait_for(lambda: issued_chain(t.port("imaps"), HOST), 40)
        check(f"{challenge}: a certificate from pebble is served for the hostname",
              chain is not None)
        if not chain:
            return
        print(f"first certificate after {time.monotonic() - started:.1f} s")
        san = cert_field(chain[0], "-ext", "subjectAltName")
        check(f"{challenge}: every default name is covered (hostname, mta-sts., autoconfig.)",
              all(f"DNS:{n}" in san for n in NAMES), san)
        check(f"{challenge}: the CA validated each name by {challenge}",
              t.log().count(f"proven by {challenge}") >= len(NAMES), t.log()[-2000:])

        root = fetch_pem(f"https://127.0.0.1:{mgmt}/roots/0", pebble_ca)
        intermediate = fetch_pem(f"https://127.0.0.1:{mgmt}/intermediates/0", pebble_ca)
        files = {}
        for name, pem in (("root", root), ("leaf", chain[0]),
                          ("served-intermediate", chain[1] if len(chain) > 1 else "")):
            files[name] = os.path.join(t.dir, name + ".pem")
            with open(files[name], "w") as f:
                f.write(pem)
        check(f"{challenge}: the chain served includes pebble's intermediate",
              len(chain) > 1 and cert_field(chain[1], "-fingerprint") ==
              cert_field(intermediate, "-fingerprint"), f"{len(chain)} certificates")
        v = subprocess.run(["openssl", "verify", "-CAfile", files["root"], "-untrusted",
                            files["served-intermediate"], "-verify_hostname",
                            "mta-sts." + DOMAIN, files["leaf"]],
                           capture_output=True, text=True, timeout=30)
        check(f"{challenge}: openssl verify accepts the leaf with pebble's root",
              v.returncode == 0, v.stdout + v.stderr)
        https_chain = served_chain(t.port("https"), "autoconfig." + DOMAIN) or [""]
        check(f"{challenge}: the https listener serves it for autoconfig. too",
              cert_field(https_chain[0], "-serial") == cert_field(chain[0], "-serial"))
        check(f"{challenge}: the account key and the pair are in data_dir/acme",
              all(os.path.exists(os.path.join(t.data_dir, "acme", p)) for p in
                  ("account.key", f"{HOST}/cert.pem", f"{HOST}/key.pem")))
        mode = os.stat(os.path.join(t.data_dir, "acme", HOST, "key.pem")).st_mode & 0o777
        check(f"{challenge}: the certificate key is private (0600)", mode == 0o600, oct(mode))

        # A client offering only acme-tls/1 for a name with no pending challenge is refused
        # (RFC 7301 §3.2 no_application_protocol); an ordinary client is unaffected.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["acme-tls/1"])
        try:
            with socket.create_connection(("127.0.0.1", t.port("https")), timeout=10) as s:
                with ctx.wrap_socket(s, server_hostname=HOST):
                    refused = False
        except ssl.SSLError as e:
            refused = "no application protocol" in str(e).lower()
        check(f"{challenge}: acme-tls/1 without a pending challenge is refused", refused)
        with t.connect_tls("imaps", server_hostname=HOST) as s:
            check(f"{challenge}: an IMAP client still gets the greeting",
                  s.recv(100).startswith(b"* OK"))

        if renew:
            # Due RENEW_AFTER s after notBefore; the new serial is served by the same process
            # (no restart, no SIGHUP).
            first_serial = cert_field(chain[0], "-serial")

            def renewed():
                c = issued_chain(t.port("imaps"), HOST)
                serial = cert_field(c[0], "-serial") if c else None
                return serial if serial and serial != first_serial else None
            new_serial = wait_for(renewed, RENEW_AFTER + 30)
            check(f"{challenge}: a renewed certificate (new serial) is served without restart",
                  new_serial is not None and t.pid == pid and t.proc.poll() is None,
                  f"{first_serial} -> {new_serial}")
            check(f"{challenge}: the reload was logged", "acme: certificate reloaded" in t.log())
        t.stop()
    finally:
        if pebble:
            stop_pebble(pebble)
        if check.failures:
            sys.stderr.write("\n".join(l for l in t.log().splitlines() if "acme" in l)[-5000:])
            with open(os.path.join(t.dir, "pebble.log"), errors="replace") as f:
                sys.stderr.write(f.read()[-3000:])
        t.cleanup()


def main():
    dns_port = serve_dns()
    scenario("http-01", dns_port, renew=True)
    if not check.failures:
        scenario("tls-alpn-01", dns_port, renew=False)
    return check.exit_code()


if __name__ == "__main__":
    sys.exit(main())
