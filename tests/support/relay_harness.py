#!/usr/bin/python3
"""Relay test harness: an in-process loopback DNS server fed from a zone table (dnslib) and
loopback SMTP sinks with scripted behaviour (aiosmtpd). Debian: python3-dnslib, python3-aiosmtpd.

    dns = ZoneDns({"good.test.": [("MX", (10, "mx1.good.test."))], "mx1.good.test.": [("A", "127.0.0.2")]})
    sink = Sink("127.0.0.2", port, behaviour=Sink.accept)   # or Sink.reject(550, "5.1.1 no"),
                                                            # Sink.tempfail_then_accept(n)
"""
import socket
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord


class ZoneDns:
    """UDP-only loopback DNS server on an ephemeral port. zone: name -> [(type, rdata)]."""

    def __init__(self, zone, host="127.0.0.1"):
        self.zone = {k.lower(): v for k, v in zone.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _rdata(self, kind, value):
        if kind == "MX":
            return QTYPE.MX, MX(value[1], value[0])
        if kind == "A":
            return QTYPE.A, A(value)
        if kind == "AAAA":
            return QTYPE.AAAA, AAAA(value)
        if kind == "TXT":
            return QTYPE.TXT, TXT([value[i:i + 250] for i in range(0, len(value), 250)])
        raise ValueError(kind)

    def _answer(self, data):
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return None
        qname = str(req.q.qname).lower()
        self.queries.append((qname, QTYPE[req.q.qtype]))
        reply = req.reply()
        if qname not in self.zone:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply.pack()
        for kind, value in self.zone[qname]:
            qtype, rdata = self._rdata(kind, value)
            if qtype == req.q.qtype:
                reply.add_answer(RR(qname, qtype, rdata=rdata, ttl=60))
        return reply.pack()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            out = self._answer(data)
            if out is not None:
                self.sock.sendto(out, peer)

    def txt(self, name):
        """For dkimpy's dnsfunc: the TXT record of name as bytes, or None."""
        name = name.decode() if isinstance(name, bytes) else name
        if not name.endswith("."):
            name += "."
        for kind, value in self.zone.get(name.lower(), []):
            if kind == "TXT":
                return value.encode()
        return None

    def close(self):
        self.sock.close()


class Sink:
    """An SMTP server on host:port recording every accepted message."""

    def __init__(self, host, port, behaviour):
        self.messages = []  # (mail_from, [rcpts], bytes)
        self.rcpt_attempts = 0
        self.behaviour = behaviour
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                sink.rcpt_attempts += 1
                answer = sink.behaviour(sink, address)
                if answer is not None:
                    return answer
                envelope.rcpt_tos.append(address)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
                return "250 2.0.0 accepted"

        self.controller = Controller(Handler(), hostname=host, port=port, ready_timeout=10,
                                     server_kwargs={"decode_data": False})
        self.controller.start()

    @staticmethod
    def accept(sink, address):
        return None

    @staticmethod
    def reject(code_text):
        return lambda sink, address: code_text

    @staticmethod
    def tempfail_then_accept(n):
        state = {"left": n}

        def behaviour(sink, address):
            if state["left"] > 0:
                state["left"] -= 1
                return "451 4.3.0 try again later"
            return None
        return behaviour

    def stop(self):
        self.controller.stop()


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port
