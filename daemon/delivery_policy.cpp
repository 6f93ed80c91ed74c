// SMTP delivery policy: see daemon/delivery_policy.h.
#include "daemon/delivery_policy.h"

#include <ctime>
#include <memory>
#include <optional>
#include <utility>

#include <spdlog/fmt/ranges.h>

#include "auth/auth.h"
#include "authn/srs.h"
#include "common/codec.h"
#include "common/common.h"
#include "common/strings.h"
#include "mime/mime.h"
#include "store/store.h"

namespace tern::daemon {

namespace {

smtpd::RecipientResult resolve_recipient(auth::AccountDb& accounts, store::Store& store,
                                         const smtpd::ResolveRecipient& request,
                                         const std::string& hostname,
                                         std::vector<std::string>* forwards, QuotaMap* quotas) {
  using R = smtpd::RecipientResult;
  R out;
  // RFC 5321 §4.5.1: "postmaster" without a domain must be accepted; it is ours.
  std::string address = request.parsed.domain.empty()
                            ? request.parsed.local + "@" + ascii_lower(hostname)
                            : request.parsed.local + "@" + request.parsed.domain;
  auto resolved = accounts.resolve_recipient(address);
  if (!resolved) {
    if (resolved.error().code == Errc::syntax) {
      out.status = R::unknown_user;  // not an address any of our users could have
      return out;
    }
    spdlog::warn("smtp rcpt lookup failed to={} error={}", address, resolved.error().message);
    out.status = R::temporary;
    return out;
  }
  switch (resolved->kind) {
    case auth::Recipient::Kind::unknown_user: out.status = R::unknown_user; return out;
    case auth::Recipient::Kind::not_local_domain:
      // The session refuses it without authentication (never an open relay).
      out.status = request.auth_user.empty() ? R::not_local_domain : R::remote;
      return out;
    case auth::Recipient::Kind::local: break;
  }
  if (forwards) *forwards = resolved->forwards;
  if (resolved->local_users.empty()) {
    // An alias that only forwards off-site: ours, so accepted from anyone; the relay takes it.
    out.status = resolved->forwards.empty() ? R::unknown_user : R::forward;
    return out;
  }
  // The quotas come with the resolution, from one snapshot of the accounts.
  for (size_t i = 0; i < resolved->local_users.size() && i < resolved->local_quotas.size(); ++i) {
    const std::string& user = resolved->local_users[i];
    const uint64_t quota = resolved->local_quotas[i];
    if (quota > 0) {
      auto used = store.usage(user);
      if (!used) {
        spdlog::warn("smtp usage lookup failed user={} error={}", user, used.error().message);
        out.status = R::temporary;
        return out;
      }
      // RFC 3463 §3.3 (X.2.2 mailbox full) is a temporary condition: 452 4.2.2.
      if (*used >= quota) {
        out.status = R::over_quota;
        return out;
      }
    }
    if (quotas) (*quotas)[user] = quota;
    out.users.push_back(user);
  }
  out.status = out.users.empty() ? R::unknown_user : R::local;
  return out;
}


// The store request for a message's local copies, or the answer when there is nothing to do
// or a quota lookup failed.
struct LocalDelivery {
  std::optional<smtpd::DeliverResult> answer;
  std::vector<std::string> users;
  std::shared_ptr<std::string> bytes;
  store::DeliveryRequest request;
};

// The user's \Junk folder (RFC 6154), whatever its name; INBOX when there is none. Listing
// creates a new user's store with its special-use folders first.
std::string junk_mailbox(store::Store& store, const std::string& user) {
  auto boxes = store.list_mailboxes(user);
  if (boxes)
    for (const auto& b : *boxes)
      if (iequals(b.special_use, "\\Junk")) return b.name;
  return "INBOX";
}

LocalDelivery prepare_local(auth::AccountDb& accounts, store::Store& store,
                            const smtpd::Deliver& deliver, const QuotaMap* known, bool junk) {
  LocalDelivery d;
  d.users = deliver.envelope.local_users();
  if (d.users.empty()) {
    d.answer = smtpd::DeliverResult{smtpd::DeliverResult::ok, {}, {}};
    return d;
  }
  // RFC 5321 §4.4: the final delivery SMTP server inserts Return-Path with the reverse-path.
  d.bytes = std::make_shared<std::string>();
  auto& bytes = *d.bytes;
  bytes.reserve(deliver.message.size() + deliver.envelope.sender.size() + 20);
  bytes += "Return-Path: <";
  bytes += deliver.envelope.sender;
  bytes += ">\r\n";
  bytes += deliver.message;

  auto& req = d.request;
  req.message = bytes;
  req.internal_date = static_cast<int64_t>(std::time(nullptr));
  // The IMAP cache (ENVELOPE, BODYSTRUCTURE) is computed once for every copy.
  req.cached_metadata = mime::metadata_blob(bytes);
  // RFC 5788 §3: $Junk tells IMAP clients (and a later classifier) what the server decided.
  if (junk) req.flags.keywords = {"$Junk"};
  for (const auto& user : d.users) {
    store::DeliveryTarget t;
    t.user = user;
    if (junk) t.mailbox = junk_mailbox(store, user);
    if (known)
      if (auto it = known->find(user); it != known->end()) {
        t.quota_bytes = it->second;
        req.targets.push_back(std::move(t));
        continue;
      }
    auto quota = accounts.quota_of(user);
    if (!quota && quota.error().code != Errc::not_found) {
      d.answer = smtpd::DeliverResult{smtpd::DeliverResult::temporary, {},
                                      "quota lookup failed user=" + user + ": " +
                                          quota.error().message};
      return d;
    }
    t.quota_bytes = quota ? *quota : 0;
    req.targets.push_back(std::move(t));
  }
  return d;
}

smtpd::DeliverResult local_result(const std::vector<std::string>& users,
                                  const Result<std::vector<store::DeliveryOutcome>>& outcomes) {
  smtpd::DeliverResult out;
  if (!outcomes) {
    out.status = smtpd::DeliverResult::temporary;
    out.text = "store: " + outcomes.error().message;
    return out;
  }
  std::string failures;
  for (size_t i = 0; i < outcomes->size() && i < users.size(); ++i) {
    const auto& st = (*outcomes)[i].status;
    if (st) continue;
    if (!failures.empty()) failures += "; ";
    failures += users[i] + ": " + to_string(st.error().code) + " " + st.error().message;
  }
  if (outcomes->size() != users.size() && failures.empty())
    failures = "store returned " + std::to_string(outcomes->size()) + " outcomes for " +
               std::to_string(users.size()) + " targets";
  if (!failures.empty()) {
    // Over quota included: a full mailbox is a temporary condition (RFC 3463 X.2.2).
    out.status = smtpd::DeliverResult::temporary;
    out.text = failures;
    return out;
  }
  out.status = smtpd::DeliverResult::ok;
  return out;
}


// RFC 3461 §4.1: the NOTIFY keyword list from the session's flags ("" when absent).
std::string notify_text(uint8_t flags) {
  if (flags == 0) return {};
  if (flags & smtpd::kNotifyNever) return "NEVER";
  std::string out;
  auto add = [&out](const char* w) { out += out.empty() ? w : std::string(",") + w; };
  if (flags & smtpd::kNotifySuccess) add("SUCCESS");
  if (flags & smtpd::kNotifyFailure) add("FAILURE");
  if (flags & smtpd::kNotifyDelay) add("DELAY");
  return out;
}

// RFC 3461 §4: the session validated the xtext; decoded here for the relay (a value that
// does not decode is kept as given).
std::string xtext_text(std::string_view x) {
  auto decoded = xtext_decode(x);
  return decoded ? std::move(*decoded) : std::string(x);
}

// RFC 3461 §4.2: ORCPT is "addr-type;xtext"; we keep rfc822 addresses, decoded.
std::string orcpt_address(std::string_view raw) {
  size_t semi = raw.find(';');
  if (semi == std::string_view::npos || !iequals(trim(raw.substr(0, semi)), "rfc822")) return {};
  return xtext_text(raw.substr(semi + 1));
}

}  // namespace

DeliveryPolicy::DeliveryPolicy(auth::AccountDb& accounts, store::Store& store,
                               std::string hostname, EnqueueRemote enqueue,
                               SenderRewriting rewriting)
    : accounts_(accounts), store_(store), hostname_(std::move(hostname)),
      enqueue_(std::move(enqueue)), rewriting_(std::move(rewriting)) {}

std::optional<smtpd::RecipientResult> DeliveryPolicy::srs_recipient(
    const smtpd::ResolveRecipient& request, std::vector<std::string>* forwards) const {
  using R = smtpd::RecipientResult;
  const auto& to = request.parsed;
  if (!rewriting_.srs || to.domain.empty() || !authn::Srs::looks_like_srs(to.local))
    return std::nullopt;
  // Only at our own domains: elsewhere the address is someone else's (relayed or refused).
  auto local = accounts_.is_local_domain(to.domain);
  if (!local) {
    spdlog::warn("smtp rcpt lookup failed to={} error={}", request.address, local.error().message);
    return R{R::temporary, {}};
  }
  if (!*local && to.domain != rewriting_.domain) return std::nullopt;
  auto back = rewriting_.srs->reverse(to.local, static_cast<int64_t>(std::time(nullptr)));
  if (back.verdict != authn::Srs::Verdict::ok) {
    // A forged, altered or expired bounce address: refusing it keeps us from relaying to
    // whatever an outsider writes into an SRS address.
    spdlog::info("rcpt refused reason=srs-{} to={}", authn::to_string(back.verdict),
                 request.address);
    return R{R::unknown_user, {}};
  }
  forwards->push_back(std::move(back.address));
  return R{R::forward, {}};
}

std::string DeliveryPolicy::forward_sender(const smtpd::Envelope& e,
                                           std::string_view alias_domain) const {
  // RFC 5321 §4.5.5: the null reverse-path stays null (a bounce must never provoke another).
  if (!rewriting_.srs || e.sender.empty() || !e.auth_user.empty() || alias_domain.empty())
    return e.sender;
  std::string_view domain = rewriting_.domain.empty() ? alias_domain : rewriting_.domain;
  return rewriting_.srs->forward(e.sender, domain, static_cast<int64_t>(std::time(nullptr)));
}

RecipientDecision DeliveryPolicy::resolve_recipient(const smtpd::ResolveRecipient& request) const {
  using R = smtpd::RecipientResult;
  RecipientDecision d;
  R& out = d.result;
  if (auto srs = srs_recipient(request, &d.forwards)) out = std::move(*srs);
  else
    out = daemon::resolve_recipient(accounts_, store_, request, hostname_, &d.forwards, &d.quotas);
  // Issue 20: a recipient we would take (a mailbox here or the relay queue, which shares
  // data_dir's file system and is watched too) is deferred while the disk is at its reserve.
  // On a worker: has_room() may statvfs (at most once a second).
  if ((out.status == R::local || out.status == R::remote || out.status == R::forward) &&
      !store_.has_room()) {
    out.status = R::storage_full;
    out.users.clear();
  }
  const bool forwarding = !d.forwards.empty() && (out.status == R::local || out.status == R::forward);
  if (forwarding && !enqueue_) {
    // Part of this alias goes off-site and nothing can take it: defer the whole recipient
    // rather than deliver only the local part.
    spdlog::info("rcpt deferred reason=relay-unavailable to={} forwards={}", request.address,
                 fmt::join(d.forwards, ","));
    out.status = R::temporary;
    out.users.clear();
  }
  return d;
}

smtpd::SenderResult DeliveryPolicy::check_sender(const smtpd::CheckSender& request) const {
  smtpd::SenderResult out;
  auto owned = accounts_.owns_address(request.auth_user, request.address);
  if (!owned) {
    // SenderResult has no temporary outcome: a database failure refuses (logged).
    spdlog::warn("smtp sender check failed user={} from={} error={}", request.auth_user,
                 request.address, owned.error().message);
    return out;
  }
  out.status = *owned ? smtpd::SenderResult::owned : smtpd::SenderResult::not_owned;
  return out;
}

smtpd::DeliverResult DeliveryPolicy::deliver_local(const smtpd::Deliver& deliver,
                                                   const QuotaMap* known, bool junk) const {
  auto d = prepare_local(accounts_, store_, deliver, known, junk);
  if (d.answer) return *d.answer;
  return local_result(d.users, store_.deliver(d.request));
}

void DeliveryPolicy::deliver_local_async(const smtpd::Deliver& deliver, const QuotaMap* known,
                                         bool junk,
                                         std::function<void(smtpd::DeliverResult)> done) const {
  auto d = prepare_local(accounts_, store_, deliver, known, junk);
  if (d.answer) return done(std::move(*d.answer));
  store_.deliver_async(std::move(d.bytes), std::move(d.request),
                       [users = std::move(d.users), done = std::move(done)](
                           Result<std::vector<store::DeliveryOutcome>> outcomes) {
                         done(local_result(users, outcomes));
                       });
}

smtpd::DeliverResult DeliveryPolicy::deliver(const smtpd::Deliver& deliver,
                                             const relay::Envelope& remote,
                                             const QuotaMap* known, bool junk) const {
  auto r = deliver_local(deliver, known, junk);
  if (r.status != smtpd::DeliverResult::ok || remote.recipients.empty()) return r;
  if (!enqueue_) return {smtpd::DeliverResult::temporary, {}, "relay unavailable"};
  if (auto q = enqueue_(remote, deliver.message); !q)
    return {smtpd::DeliverResult::temporary, {}, "relay enqueue: " + q.error().message};
  return r;
}

relay::Envelope remote_envelope(const smtpd::Envelope& e, const ForwardMap& forwards) {
  relay::Envelope out;
  out.sender = e.sender;
  // RFC 3461 §4.4: ENVID is xtext on the wire; kept decoded (the SMTP client re-encodes it
  // for the next hop, the DSN reports it as text, RFC 3464 §2.2.1).
  out.envid = xtext_text(e.envid);
  out.ret = e.ret == smtpd::DsnRet::full ? "FULL" : e.ret == smtpd::DsnRet::hdrs ? "HDRS" : "";
  out.eight_bit = e.body_8bitmime;
  out.smtputf8 = e.smtputf8;
  // Remote recipients: the address itself, or an alias's external forwards.
  for (const auto& r : e.recipients) {
    auto it = forwards.find(ascii_lower(r.address));
    std::vector<std::string> targets;
    if (it != forwards.end()) targets = it->second;
    else if (r.remote) targets.push_back(r.address);
    for (auto& t : targets) {
      std::string orcpt = r.orcpt;
      if (t != r.address && orcpt.empty()) orcpt = "rfc822;" + r.address;
      out.recipients.push_back({t, orcpt_address(orcpt), notify_text(r.notify)});
    }
  }
  return out;
}

}  // namespace tern::daemon
