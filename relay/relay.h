// relay: outbound delivery. This header exposes the building blocks that exist so far;
// the queue, scheduling and daemon wiring land later and will be added here.
//
//   dkim.h         - DKIM signer (RFC 6376 relaxed/relaxed; rsa-sha256 and ed25519-sha256,
//                    RFC 8463), key generation and the DNS TXT record to publish. Pure.
//   smtp_client.h  - sans-I/O SMTP client session (RFC 5321) for one connection to a remote
//                    MX or a smarthost: bytes in -> bytes out + start-TLS request + results.
//
// Invariants: nothing here does I/O, reads clocks or global config; time (DKIM t=) and
// credentials arrive as arguments. DNS comes from dns::Resolver (relay depends on dns/).
// Threading: all objects are plain values used from one thread (the loop thread); DkimKey is
// immutable after loading and may be shared between threads.
#pragma once

#include "relay/dkim.h"
#include "relay/smtp_client.h"
