// daemon/delivery_policy: what happens to the mail SMTP accepts, between smtpd::Session and
// the store and the relay. The SMTP service asks; the rules live here, tested on their own
// (tests/unit/daemon/delivery_policy_test.cpp), for the inbound checks and scanners to extend.
//
// - RCPT (resolve_recipient): the address goes through the account db (aliases,
//   sub-addresses, catch-all). A local user over quota is 452 4.2.2 (RFC 3463 X.2.2 is
//   temporary); a recipient we would take is deferred while the disk is at its reserve
//   (issue 20). An alias that forwards off-site is a `forward` recipient: ours, so accepted
//   without authentication; when the relay is not running, remote and forward recipients,
//   and an alias mixing local users and forwards, are deferred (nothing silently dropped).
// - MAIL FROM on submission (check_sender): may the authenticated user send as this address?
// - DATA (deliver_local): "Return-Path: <sender>" is prepended at final delivery (RFC 5321
//   §4.4), the IMAP metadata blob is computed once for every copy, and Store::deliver writes
//   every local copy durably (group commit) before the session may answer 250. Every local
//   target must succeed, else the whole message gets a temporary failure (the client
//   retries; a duplicate is possible for the targets that did succeed, a loss is not).
//   `junk` (a sender check said quarantine) files the copies in the user's \Junk folder.
// - Remote copies (remote_envelope): the recipients marked remote and the external targets
//   of aliases, as the relay's protocol-neutral envelope (relay/queue.h); deliver() queues
//   them through Runtime::enqueue_remote only once the local copies are in.
// - SRS ([srs], authn/srs.h): a forward's envelope sender is rewritten to an SRS address at
//   our domain (forward_sender), so the next hop's SPF check sees a domain that authorizes
//   us; RCPT to an SRS address of ours (a bounce of such a forward) is verified (hash, age)
//   and becomes a forward to the original sender; a forged or expired one is 550 5.1.1.
//
// Threading: every member blocks (SQLite, fsync): worker threads only. remote_envelope() is
// pure.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "relay/queue.h"
#include "smtpd/smtpd.h"

namespace tern::auth {
class AccountDb;
}  // namespace tern::auth
namespace tern::authn {
class Srs;
}  // namespace tern::authn
namespace tern::store {
class Store;
}  // namespace tern::store

namespace tern::daemon {

// Quota in bytes (0: none) per local user, as RCPT read it: DATA delivers with these rather
// than reading each user's account again.
using QuotaMap = std::map<std::string, uint64_t>;
// RCPT address (lower-cased) -> the alias's external targets, for one transaction.
using ForwardMap = std::map<std::string, std::vector<std::string>>;
// The relay seam (Runtime::enqueue_remote): durably queues the message, returns its id.
using EnqueueRemote = std::function<Result<std::string>(const relay::Envelope&, std::string_view)>;

struct RecipientDecision {
  smtpd::RecipientResult result;
  std::vector<std::string> forwards;  // an accepted alias's external targets
  QuotaMap quotas;                    // an accepted recipient's local users
};

// SRS for forwards: `srs` null = off; `domain` empty = the forwarding alias's domain.
struct SenderRewriting {
  std::shared_ptr<const authn::Srs> srs;
  std::string domain;
};

class DeliveryPolicy {
 public:
  // `enqueue` empty: no relay running.
  DeliveryPolicy(auth::AccountDb& accounts, store::Store& store, std::string hostname,
                 EnqueueRemote enqueue = {}, SenderRewriting rewriting = {});

  RecipientDecision resolve_recipient(const smtpd::ResolveRecipient& request) const;
  smtpd::SenderResult check_sender(const smtpd::CheckSender& request) const;

  // The envelope sender of the relay copy of `e`, whose forwarding alias is at
  // `alias_domain` ("" when no alias forwards): SRS-rewritten for mail received on the MX,
  // unchanged for the null sender, submitted mail (our own users' addresses pass SPF for
  // our domains already) and when SRS is off. Pure but for the clock.
  std::string forward_sender(const smtpd::Envelope& e, std::string_view alias_domain) const;

  // Local copies only. `known` (may be null): quotas from RCPT; a user missing there is
  // looked up.
  smtpd::DeliverResult deliver_local(const smtpd::Deliver& deliver, const QuotaMap* known,
                                     bool junk = false) const;
  // The same through Store::deliver_async: returns once the copies are queued; `done` gets
  // the result on the thread that committed them (or on this one, when nothing was queued).
  void deliver_local_async(const smtpd::Deliver& deliver, const QuotaMap* known, bool junk,
                           std::function<void(smtpd::DeliverResult)> done) const;
  // Local copies, then (only if they are all in) the relay copy for `remote`.
  smtpd::DeliverResult deliver(const smtpd::Deliver& deliver, const relay::Envelope& remote,
                               const QuotaMap* known, bool junk = false) const;

 private:
  // RCPT to an SRS address at one of our domains: the forward it stands for, or a refusal;
  // nullopt when it is not one (or SRS is off).
  std::optional<smtpd::RecipientResult> srs_recipient(const smtpd::ResolveRecipient& request,
                                                      std::vector<std::string>* forwards) const;
  auth::AccountDb& accounts_;
  store::Store& store_;
  std::string hostname_;
  EnqueueRemote enqueue_;
  SenderRewriting rewriting_;
};

// The relay envelope for a message's remote copies (see above). RFC 3461: NOTIFY, ORCPT
// (the alias, for a forward without one), ENVID and RET carry over.
relay::Envelope remote_envelope(const smtpd::Envelope& envelope, const ForwardMap& forwards);

}  // namespace tern::daemon
