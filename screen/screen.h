// screen: the MX listener's cheap checks before DATA (issue 17, connection and envelope
// stage): DNS blocklists and allowlists for the client address, per-address rate limits,
// and greylisting. The early-talker and pipelining checks are in smtpd/ (session) and the
// greeting delay in daemon/smtp_service.cpp; daemon/screen_glue.h strings all of them
// together for one connection.
//
// Implementation notes
// - Pure parts, unit-tested without sockets: blocklist query names and return-code matching
//   (dnsbl.h), rate-limit accounting with an injected clock (rate_limit.h), the greylist
//   decision for one triplet (greylist.h, decide()).
// - DNS goes through dns::RecordResolver (dns/records.h, ternd's c-ares cache); the lookups
//   are sans-I/O callbacks on the resolver's thread (the loop).
// - The greylist table is SQLite (sqlite/), data_dir/greylist.db: BLOCKING, workers only.
// - RateLimiter is not thread-safe: the loop thread owns it.
#pragma once

#include "screen/dnsbl.h"
#include "screen/greylist.h"
#include "screen/rate_limit.h"
