// authn: inbound sender authentication: SPF (RFC 7208), DKIM verification (RFC 6376,
// RFC 8463, RFC 8301), DMARC (RFC 7489, DMARCbis np=/t=), iprev (RFC 8601 §3) and the
// Authentication-Results header field (RFC 8601). Pure and sans-I/O: every check is a `Check`
// (authn/resolver.h) that lists DNS questions and is fed answers; no sockets, clocks, files
// (except loading the Public Suffix List once) or global state.
//
// Depends on common/, mime/ (DKIM canonicalisation shared with relay/'s signer, From
// parsing) and dns/records.h (the RecordResolver interface only; no c-ares here).
//
// Intended wiring in the SMTP glue (daemon/, not done yet; the session stays sans-I/O and the
// glue owns one InboundAuth per MX connection, on the loop thread):
//
//   on accept:      auth = InboundAuth(resolver, psl, {hostname}, clock, random);
//                   auth.connected(peer_ip, hostname);                  // iprev starts
//   MAIL accepted:  auth.mail_from(helo, reverse_path);                 // SPF starts now,
//                   // its DNS overlaps RCPT and DATA; RFC 7208 §2.4: <> is checked via HELO
//   DATA bytes:     auth.data(unstuffed_chunk);                         // DKIM hashes on the
//                   // fly; key lookups start when the header block is complete
//   end of DATA:    auth.end_of_data([](AuthOutcome o) {
//                     // o.verdicts.dmarc->disposition: reject -> 550 5.7.1 naming
//                     //   record_domain and policy_tag; quarantine -> Junk; none -> INBOX
//                     //   (local overrides first: authenticated submission, allow list);
//                     // temperror and a "4xx on temperror" policy -> 451 (RFC 7208 §8.6);
//                     // then deliver strip_authentication_results(msg, hostname) with
//                     // o.header prepended (RFC 8601 §5).
//                   });
//   submission:     no InboundAuth at all (our own users' mail gets no A-R).
//   deadline:       a loop timer armed at end of DATA calls auth.give_up(): whatever DNS is
//                   still missing becomes temperror and the end_of_data callback runs at once,
//                   so a dead DNS server costs at most that timeout, never a hang.
// The resolver is dns::CachingResolver over dns::CaresResolver (one per ternd, loop thread);
// each query also has c-ares's own timeout, so checks finish even without give_up().
//
// Pieces usable alone: parse_spf_record, SpfCheck, DkimVerifier, parse_dkim_signature,
// DmarcCheck, parse_dmarc_record, PublicSuffixList, IprevCheck,
// render_authentication_results, strip_authentication_results.
#pragma once

#include "authn/auth_results.h"  // IWYU pragma: export
#include "authn/dkim.h"          // IWYU pragma: export
#include "authn/dmarc.h"         // IWYU pragma: export
#include "authn/inbound.h"       // IWYU pragma: export
#include "authn/ip.h"            // IWYU pragma: export
#include "authn/iprev.h"         // IWYU pragma: export
#include "authn/psl.h"           // IWYU pragma: export
#include "authn/resolver.h"      // IWYU pragma: export
#include "authn/spf.h"           // IWYU pragma: export
