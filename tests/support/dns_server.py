#!/usr/bin/python3
"""Tiny loopback DNS server for tests (dnslib), UDP and TCP on one ephemeral port.

Prints the port on stdout (one line) and serves until killed. Zones are fixed test data:
  mx.test          MX 10 mx1.mx.test, MX 10 mx2.mx.test, MX 5 primary.mx.test
  nullmx.test      MX 0 .                      (RFC 7505 null MX)
  implicit.test    A 192.0.2.7, no MX          (implicit MX)
  primary.mx.test  A 192.0.2.1, AAAA 2001:db8::1
  mx1.mx.test      A 192.0.2.2
  v6only.test      AAAA 2001:db8::6
  servfail.test    SERVFAIL for every query
  timeout.test     never answered
  txt.auth.test    TXT "v=spf1 " "-all" (two strings, one record), TXT "hello"
  mx.auth.test     MX 10 MX1.Auth.Test.
  nodata.auth.test A 192.0.2.9 only
  1.2.0.192.in-addr.arpa  PTR Host.Auth.Test.
  *.auth.test      negative answers carry SOA auth.test (TTL 300, MINIMUM 120: RFC 2308 TTL 120)
  anything else    NXDOMAIN
"""
import socket
import threading

from dnslib import AAAA, A, MX, PTR, QTYPE, RCODE, RR, SOA, TXT, DNSRecord

ZONE = {
    "mx.test.": [(QTYPE.MX, MX("mx1.mx.test.", 10)), (QTYPE.MX, MX("mx2.mx.test.", 10)),
                 (QTYPE.MX, MX("primary.mx.test.", 5))],
    "nullmx.test.": [(QTYPE.MX, MX(".", 0))],
    "implicit.test.": [(QTYPE.A, A("192.0.2.7"))],
    "primary.mx.test.": [(QTYPE.A, A("192.0.2.1")), (QTYPE.AAAA, AAAA("2001:db8::1"))],
    "mx1.mx.test.": [(QTYPE.A, A("192.0.2.2"))],
    "mx2.mx.test.": [(QTYPE.A, A("192.0.2.3"))],
    "v6only.test.": [(QTYPE.AAAA, AAAA("2001:db8::6"))],
    "txt.auth.test.": [(QTYPE.TXT, TXT(["v=spf1 ", "-all"])), (QTYPE.TXT, TXT("hello"))],
    "mx.auth.test.": [(QTYPE.MX, MX("MX1.Auth.Test.", 10))],
    "nodata.auth.test.": [(QTYPE.A, A("192.0.2.9"))],
    "1.2.0.192.in-addr.arpa.": [(QTYPE.PTR, PTR("Host.Auth.Test."))],
}

# RFC 2308 §3: negative answers include the zone's SOA in the authority section.
AUTH_SOA = RR("auth.test.", QTYPE.SOA, ttl=300,
              rdata=SOA("ns.auth.test.", "hostmaster.auth.test.", (1, 3600, 600, 86400, 120)))


def answer(data):
    try:
        request = DNSRecord.parse(data)
    except Exception:
        return None
    qname = str(request.q.qname).lower()
    reply = request.reply()
    if qname == "timeout.test.":
        return None
    if qname == "servfail.test.":
        reply.header.rcode = RCODE.SERVFAIL
        return reply.pack()
    negative_soa = qname.endswith(".auth.test.")
    if qname not in ZONE:
        reply.header.rcode = RCODE.NXDOMAIN
        if negative_soa:
            reply.add_auth(AUTH_SOA)
        return reply.pack()
    for qtype, rdata in ZONE[qname]:
        if qtype == request.q.qtype:
            reply.add_answer(RR(qname, qtype, rdata=rdata, ttl=60))
    if not reply.rr and negative_soa:
        reply.add_auth(AUTH_SOA)
    return reply.pack()


def serve_udp(sock, answer_fn=None):
    """Answers queries on `sock` with answer_fn (default: the zones above)."""
    while True:
        data, peer = sock.recvfrom(4096)
        out = (answer_fn or answer)(data)
        if out is not None:
            sock.sendto(out, peer)


def serve_tcp_conn(conn, answer_fn=None):
    with conn:
        while True:
            head = conn.recv(2)
            if len(head) < 2:
                return
            size = int.from_bytes(head, "big")
            data = b""
            while len(data) < size:
                chunk = conn.recv(size - len(data))
                if not chunk:
                    return
                data += chunk
            out = (answer_fn or answer)(data)
            if out is not None:
                conn.sendall(len(out).to_bytes(2, "big") + out)


def main():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    port = udp.getsockname()[1]
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        tcp.bind(("127.0.0.1", port))
        tcp.listen(8)
    except OSError:
        tcp = None  # UDP only; fine for our small answers
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    print(port, flush=True)
    if tcp is None:
        threading.Event().wait()
    while True:
        conn, _ = tcp.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
