// daemon (private): the SMTP service, which runs smtpd::Session on the smtp, submission and
// submissions listeners.
//
// Implementation notes
// - One SmtpHandler (smtp_service.cpp) per connection owns one smtpd::Session. Bytes read are
//   fed to the session; its Output is applied in order: log notes, bytes, start_tls,
//   close_after_write, then the action (at most one is pending at a time).
// - Actions run on rt.workers through the blocking helpers below; the result is fed back on
//   the loop thread through net::if_alive, so a completion for a closed connection does
//   nothing. While an action is pending the handler stops reading (the session would only
//   buffer the input) and the idle timer is off (the session must not time out while we are
//   the slow side).
// - AUTH: the Authenticator's throttle delay is honoured with a net::Timer before the result
//   is fed back, for success and failure alike.
// - Delivery (RFC 5321 §4.4): "Return-Path: <sender>" is prepended at final delivery, the IMAP
//   metadata blob is computed once, and store::Store::deliver writes every local copy durably
//   (group commit) before the session may answer 250. Every local target must succeed, else
//   the whole message gets a temporary failure (the client retries; a duplicate is possible
//   for the targets that did succeed, a loss is not).
// - Remote recipients (submission to other domains, and alias forwards to external
//   addresses) go through Runtime::enqueue_remote, the relay seam. An alias that only forwards
//   off-site is a `forward` recipient: ours, so accepted without authentication. When the
//   relay is not running, relay_available is false: remote and forward recipients get
//   451 4.3.2, and so does an alias mixing local users and forwards (nothing silently dropped).
// - Sender checks (MX listener only, daemon/inbound_checks.h): an MxAuth per connection;
//   the first RCPT of a transaction starts SPF, and the Deliver action waits for the verdicts
//   (bounded by inbound_auth.timeout) before anything is stored: a DMARC reject answers
//   550 5.7.1 (DeliverResult::policy_rejected), a quarantine files the copies in \Junk.
// - Log, one line per message:
//     msg id=<queueid> from=<sender> rcpt=<a,b> size=<n> outcome=delivered|tempfail|rejected
//         proto=smtp listener=<name> ip=<ip> [reason=...]
// Threading: the handler lives on the loop thread; the helpers below are blocking and run on
// workers only.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/config.h"
#include "daemon/runtime.h"
#include "smtpd/smtpd.h"

namespace tern::daemon {

// The session settings for one listener, copied from the configuration.
smtpd::SessionSettings smtp_session_settings(const Config& config, ListenerKind kind,
                                             bool tls_available, bool relay_available);

// ---- Blocking helpers (worker threads) ----

// Quota in bytes (0: none) per local user, as RCPT read it: DATA delivers with these rather
// than reading each user's account again.
using QuotaMap = std::map<std::string, uint64_t>;

// RCPT: resolves through accounts (aliases, sub-addresses, catch-all) and checks quotas.
// `forwards` receives the external targets of an alias (relay recipients), `quotas` (may be
// null) the quota of each accepted local user.
smtpd::RecipientResult smtp_resolve_recipient(auth::AccountDb& accounts, store::Store& store,
                                              const smtpd::ResolveRecipient& request,
                                              const std::string& hostname,
                                              std::vector<std::string>* forwards,
                                              QuotaMap* quotas = nullptr);

// MAIL FROM on submission: may the authenticated user send as this address?
smtpd::SenderResult smtp_check_sender(auth::AccountDb& accounts,
                                      const smtpd::CheckSender& request);

// DATA/BDAT: durable local delivery of `deliver` to every local user of its envelope.
// Ok only when every copy is committed.
// `known` (may be null): quotas from RCPT; a user missing there is looked up.
// `junk`: file every copy in the user's \\Junk folder (a sender check said so; INBOX when the
// user has none).
smtpd::DeliverResult smtp_deliver_local(auth::AccountDb& accounts, store::Store& store,
                                        const smtpd::Deliver& deliver,
                                        const QuotaMap* known = nullptr, bool junk = false);
// The same through Store::deliver_async: returns once the copies are queued; `done` gets the
// result on the thread that committed them (or on this one, when nothing was queued).
void smtp_deliver_local_async(auth::AccountDb& accounts, store::Store& store,
                              const smtpd::Deliver& deliver, const QuotaMap* known,
                              std::function<void(smtpd::DeliverResult)> done, bool junk = false);

}  // namespace tern::daemon
