#!/usr/bin/python3
"""Loopback SMTP sink for relay benchmarks (python3-aiosmtpd): accepts everything, keeps nothing.

Interface:
    smtp_sink.py [--port P]
Listens on 127.0.0.1:P and [::1]:P (same P). Prints "port=P" on stdout once listening, then one line per accepted message:
    "msg <messages so far> <recipients so far>"
(flushed at once, so a reader can timestamp arrivals). Serves until killed or stdin closes.
Speaks ESMTP with PIPELINING, 8BITMIME, SMTPUTF8 and SIZE; no TLS, no AUTH.
"""
import argparse
import asyncio
import sys

from aiosmtpd.smtp import SMTP


class Counter:
    def __init__(self):
        self.messages = 0
        self.recipients = 0

    async def handle_DATA(self, server, session, envelope):
        self.messages += 1
        self.recipients += len(envelope.rcpt_tos)
        sys.stdout.write(f"msg {self.messages} {self.recipients}\n")
        sys.stdout.flush()
        return "250 2.0.0 OK"


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    loop = asyncio.get_running_loop()
    handler = Counter()
    factory = lambda: SMTP(handler, hostname="sink.bench.invalid", enable_SMTPUTF8=True,
                           data_size_limit=64 << 20, ident="bench sink")
    # The same port on 127.0.0.1 and [::1] (a Postfix on 127.0.0.1 must reach it by [::1],
    # or it takes the sink for itself).
    servers = []
    for _ in range(20):
        v4 = await loop.create_server(factory, host="127.0.0.1", port=args.port, backlog=512)
        port = v4.sockets[0].getsockname()[1]
        try:
            v6 = await loop.create_server(factory, host="::1", port=port, backlog=512)
            servers = [v4, v6]
            break
        except OSError:
            v4.close()
            if args.port:
                raise
    if not servers:
        raise SystemExit("smtp_sink: no port free on both 127.0.0.1 and ::1")
    sys.stdout.write(f"port={port}\n")
    sys.stdout.flush()
    # Stop when stdin closes (the parent benchmark went away), so no sink outlives its run.
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass
    for server in servers:
        server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
