#!/usr/bin/python3
"""Relay test harness: an in-process loopback DNS server fed from a zone table (dnslib) and
loopback SMTP sinks with scripted behaviour (aiosmtpd). Debian: python3-dnslib, python3-aiosmtpd.

    dns = ZoneDns({"good.test.": [("MX", (10, "mx1.good.test."))], "mx1.good.test.": [("A", "127.0.0.2")]})
    sink = Sink("127.0.0.2", port, behaviour=Sink.accept)   # or Sink.reject(550, "5.1.1 no"),
                                                            # Sink.tempfail_then_accept(n)
"""
import asyncio
import socket
import threading
import time

from aiosmtpd.controller import Controller
from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord


def wait_until(pred, what, timeout=30.0):
    """Polls pred() until it is true (returns its value) or raises after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


class ZoneDns:
    """UDP-only loopback DNS server on an ephemeral port. zone: name -> [(type, value)], the
    value either plain data (MX: (preference, exchange); A/AAAA/TXT: a string) or a dnslib
    rdata object. Names in `silent` (everything when silent is True) are never answered, as
    from a dead server. `queries` lists (qname, qtype) as asked."""

    def __init__(self, zone, host="127.0.0.1", silent=()):
        self.zone = {k.lower().rstrip(".") + ".": v for k, v in zone.items()}
        self.silent = silent
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _rdata(self, kind, value):
        if not isinstance(value, (str, tuple)):
            return getattr(QTYPE, kind), value  # already a dnslib rdata
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
        if self.silent is True or qname.rstrip(".") in self.silent:
            return None
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
    """An SMTP server on host:port recording every accepted message.

    Options for the relay's client features: tls_cert=(cert, key) offers STARTTLS (or, with
    implicit_tls=True, speaks TLS from the first byte); auth={user: password} requires AUTH
    (PLAIN or LOGIN, minus exclude_auth; only after TLS when TLS is offered) and checks the
    credentials;
    drop_ehlo=("8BITMIME", ...) removes keywords from the EHLO answer; smtputf8=True offers
    SMTPUTF8; data_delay=S answers each DATA S seconds late. `details` has one dict per
    accepted message: mail_options, rcpt_options, tls (bool), auth (the login or None), conn
    (a per-connection number), start/end (monotonic time of the DATA answer)."""

    def __init__(self, host, port, behaviour, tls_cert=None, implicit_tls=False, auth=None,
                 drop_ehlo=(), smtputf8=False, exclude_auth=(), data_delay=0.0):
        self.messages = []  # (mail_from, [rcpts], bytes)
        self.details = []
        self.rcpt_attempts = 0
        self.connections = 0
        self.peers = []
        self.auth_attempts = []  # (login, accepted)
        self.behaviour = behaviour
        self.auth = auth
        sink = self

        class Handler:
            async def handle_EHLO(self, server, session, envelope, hostname, responses):
                session.host_name = hostname
                if session.peer not in sink.peers:  # EHLO again after STARTTLS: same peer
                    sink.peers.append(session.peer)
                    sink.connections += 1
                return [r for r in responses
                        if not any(r[4:].upper().startswith(k) for k in drop_ehlo)]

            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                sink.rcpt_attempts += 1
                answer = sink.behaviour(sink, address)
                if answer is not None:
                    return answer
                envelope.rcpt_tos.append(address)
                envelope.rcpt_options.append(rcpt_options)
                return "250 2.1.5 OK"

            async def handle_DATA(self, server, session, envelope):
                start = time.monotonic()
                if data_delay:
                    await asyncio.sleep(data_delay)  # a slow server, without blocking others
                sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
                login = session.auth_data
                sink.details.append({"mail_options": list(envelope.mail_options),
                                     "rcpt_options": list(envelope.rcpt_options),
                                     "tls": server.transport.get_extra_info("ssl_object") is not None,
                                     "auth": login if session.authenticated else None,
                                     "conn": sink.peers.index(session.peer) + 1,
                                     "start": start, "end": time.monotonic()})
                return "250 2.0.0 accepted"

        kwargs = {"decode_data": False, "enable_SMTPUTF8": smtputf8}
        ssl_context = None
        if tls_cert:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls_cert)
            if implicit_tls:
                ssl_context = ctx
            else:
                kwargs["tls_context"] = ctx
        if auth is not None:
            kwargs["auth_required"] = True
            # Implicit TLS is invisible to aiosmtpd's SMTP object: let it offer AUTH anyway.
            kwargs["auth_require_tls"] = tls_cert is not None and not implicit_tls
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_exclude_mechanism"] = list(exclude_auth)
        self.controller = Controller(Handler(), hostname=host, port=port, ready_timeout=10,
                                     ssl_context=ssl_context, server_kwargs=kwargs)
        self.controller.start()

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult
        login = auth_data.login.decode()
        ok = self.auth.get(login) == auth_data.password.decode()
        self.auth_attempts.append((login, mechanism, ok))
        return AuthResult(success=ok, handled=False, auth_data=login)

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

