// The SMTP service: smtpd::Session on the smtp, submission and submissions listeners.
// See smtp_service.h for the implementation notes.
#include "daemon/smtp_service.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "auth/auth.h"
#include "common/common.h"
#include "daemon/inbound_checks.h"
#include "daemon/services.h"
#include "mime/mime.h"
#include "store/store.h"

namespace tern::daemon {

namespace {

constexpr size_t kQueueIdLength = 12;
// Input read while an action runs is buffered by the session (RFC 2920 pipelining); reading
// pauses only past this much, so a pipelining client does not cost a pause and a resume of
// the socket (two epoll_ctl calls) per command. The session's own cap stays the hard bound.
constexpr size_t kReadWhilePending = 256 * 1024;

smtpd::ListenerKind session_kind(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::submission: return smtpd::ListenerKind::submission;
    case ListenerKind::submissions: return smtpd::ListenerKind::submissions;
    default: return smtpd::ListenerKind::mx;
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Every envelope address of the message, for the log line.
std::vector<std::string> envelope_rcpts(const smtpd::Envelope& e) {
  std::vector<std::string> out;
  for (const auto& r : e.recipients) out.push_back(r.address);
  return out;
}

}  // namespace

smtpd::SessionSettings smtp_session_settings(const Config& config, ListenerKind kind,
                                             bool tls_available, bool relay_available) {
  smtpd::SessionSettings s;
  s.hostname = config.hostname;
  s.kind = session_kind(kind);
  s.max_message_size = config.smtp.max_message_size;
  s.max_recipients = config.smtp.max_recipients;
  s.max_line_length = config.smtp.max_line_length;
  s.max_errors = config.smtp.max_errors;
  s.allow_plaintext_auth = config.auth.allow_plaintext_without_tls;
  // Password guessing arrives on port 25: AUTH only on submission unless asked for.
  s.auth_enabled = kind != ListenerKind::smtp || config.smtp.auth_on_mx;
  s.tls_available = tls_available;
  s.bare_newline = config.smtp.bare_newline == "normalize" ? smtpd::BareNewlinePolicy::normalize
                                                           : smtpd::BareNewlinePolicy::reject;
  s.relay_available = relay_available;
  s.clock = [] { return static_cast<int64_t>(std::time(nullptr)); };
  s.make_id = [] { return random_id(kQueueIdLength); };
  return s;
}

// ---- Blocking helpers ------------------------------------------------------------------------

namespace {
smtpd::RecipientResult resolve_recipient(auth::AccountDb& accounts, store::Store& store,
                                         const smtpd::ResolveRecipient& request,
                                         const std::string& hostname,
                                         std::vector<std::string>* forwards, QuotaMap* quotas);
}  // namespace

smtpd::RecipientResult smtp_resolve_recipient(auth::AccountDb& accounts, store::Store& store,
                                              const smtpd::ResolveRecipient& request,
                                              const std::string& hostname,
                                              std::vector<std::string>* forwards,
                                              QuotaMap* quotas) {
  using R = smtpd::RecipientResult;
  R out = resolve_recipient(accounts, store, request, hostname, forwards, quotas);
  // Issue 20: a recipient we would take (a mailbox here or the relay queue, which shares
  // data_dir's file system and is watched too) is deferred while the disk is at its reserve.
  // On a worker: has_room() may statvfs (at most once a second).
  if ((out.status == R::local || out.status == R::remote || out.status == R::forward) &&
      !store.has_room()) {
    out.status = R::storage_full;
    out.users.clear();
  }
  return out;
}

namespace {
smtpd::RecipientResult resolve_recipient(auth::AccountDb& accounts, store::Store& store,
                                         const smtpd::ResolveRecipient& request,
                                         const std::string& hostname,
                                         std::vector<std::string>* forwards, QuotaMap* quotas) {
  using R = smtpd::RecipientResult;
  R out;
  // RFC 5321 §4.5.1: "postmaster" without a domain must be accepted; it is ours.
  std::string address = request.parsed.domain.empty()
                            ? request.parsed.local + "@" + lower(hostname)
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
}  // namespace

smtpd::SenderResult smtp_check_sender(auth::AccountDb& accounts,
                                      const smtpd::CheckSender& request) {
  smtpd::SenderResult out;
  auto owned = accounts.owns_address(request.auth_user, request.address);
  if (!owned) {
    // SenderResult has no temporary outcome: a database failure refuses (logged).
    spdlog::warn("smtp sender check failed user={} from={} error={}", request.auth_user,
                 request.address, owned.error().message);
    return out;
  }
  out.status = *owned ? smtpd::SenderResult::owned : smtpd::SenderResult::not_owned;
  return out;
}

namespace {

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

}  // namespace

smtpd::DeliverResult smtp_deliver_local(auth::AccountDb& accounts, store::Store& store,
                                        const smtpd::Deliver& deliver, const QuotaMap* known,
                                        bool junk) {
  auto d = prepare_local(accounts, store, deliver, known, junk);
  if (d.answer) return *d.answer;
  return local_result(d.users, store.deliver(d.request));
}

void smtp_deliver_local_async(auth::AccountDb& accounts, store::Store& store,
                              const smtpd::Deliver& deliver, const QuotaMap* known,
                              std::function<void(smtpd::DeliverResult)> done, bool junk) {
  auto d = prepare_local(accounts, store, deliver, known, junk);
  if (d.answer) return done(std::move(*d.answer));
  store.deliver_async(std::move(d.bytes), std::move(d.request),
                      [users = std::move(d.users), done = std::move(done)](
                          Result<std::vector<store::DeliveryOutcome>> outcomes) {
                        done(local_result(users, outcomes));
                      });
}

// ---- The connection handler ------------------------------------------------------------------

namespace {

class SmtpHandler final : public net::ConnectionHandler,
                          public std::enable_shared_from_this<SmtpHandler> {
 public:
  SmtpHandler(Runtime& rt, ListenerKind kind) : rt_(rt), kind_(kind) {}

  void on_open(net::Connection& conn) override {
    conn_ = &conn;
    const auto& info = conn.info();
    smtpd::PeerInfo peer;
    peer.ip = info.peer_ip;
    peer.port = info.peer_port;
    peer.tls = info.tls;
    peer.tls_version = info.tls_version;
    peer.tls_cipher = info.tls_cipher;
    const bool relay = static_cast<bool>(rt_.enqueue_remote);
    auto settings = smtp_session_settings(rt_.config, kind_, info.tls_available || info.tls, relay);
    if (auto* store = rt_.store)  // the last reading only: no system call on the loop thread
      settings.has_room = [store](uint64_t bytes) { return store->has_room_cached(bytes); };
    session_.emplace(std::move(settings), peer);
    if (!rt_.accounts || !rt_.store || !rt_.authenticator) {
      // ternd always opens them before listening; a missing one is a start-up bug.
      spdlog::error("smtp service started without accounts/store: refusing connection");
    }
    // RFC 8601: sender checks (and an Authentication-Results field) on the MX listener
    // only; submitted messages are our users' own.
    if (kind_ == ListenerKind::smtp && rt_.inbound_checks)
      mx_auth_ = std::make_unique<MxAuth>(rt_, rt_.inbound_checks, info.peer_ip);
    apply(session_->greet());
  }

  void on_data(std::string_view bytes) override {
    if (!session_ || !conn_) return;
    if (session_->action_pending()) read_while_pending_ += bytes.size();
    apply(session_->feed(bytes));
    // DKIM hashes the body as it arrives; its key lookups start once the header block is in.
    if (mx_auth_ && session_ && session_->auth_user().empty())
      mx_auth_->data(session_->body_so_far());
  }

  void on_tls_ready() override {
    if (!session_ || !conn_) return;
    const auto& info = conn_->info();
    session_->tls_started(info.tls_version, info.tls_cipher);
    update_timeouts();
  }

  void on_timeout() override {
    if (!session_ || !conn_) return;
    if (session_->action_pending()) return;  // we are the slow side: not the client's fault
    spdlog::info("smtp timeout ip={} state={}", conn_->info().peer_ip,
                 smtpd::to_string(session_->state()));
    apply(session_->timeout());
    if (conn_ && !session_->closed()) conn_->close();
  }

  void on_shutdown() override {
    if (!session_ || !conn_) return;
    apply(session_->shutdown());
  }

  void on_close() override {
    conn_ = nullptr;
    mx_auth_.reset();  // drops its DNS callbacks and its deadline timer
    delay_timer_.reset();
  }

 private:
  const std::string& ip() const { return conn_ ? conn_->info().peer_ip : empty_; }

  void apply(smtpd::Output out) {
    if (!conn_) return;
    for (const auto& note : out.log) spdlog::info("{} proto=smtp listener={}", note, name());
    // RFC 2920 §3.1: replies to a pipelined group may be held and sent together. Replies that
    // come with an action (MAIL's before RCPT's lookup) wait for the action's own reply: one
    // write and one segment for MAIL+RCPT+DATA instead of two.
    held_ += out.bytes;
    const bool more_coming = !out.actions.empty() && !out.start_tls && !out.close_after_write;
    if (!more_coming && !held_.empty()) conn_->write_owned(std::exchange(held_, std::string()));
    if (out.start_tls) conn_->start_tls();
    if (out.close_after_write) {
      conn_->close();
      return;
    }
    for (auto& action : out.actions) run(std::move(action));
    update_timeouts();
  }

  const char* name() const { return spec(kind_).name; }

  // RFC 5321 §4.5.3.2: the command timeout between commands, the data timeout while a
  // message is coming; none while we are working on an action.
  void update_timeouts() {
    if (!conn_ || !session_) return;
    const bool pending = session_->action_pending();
    conn_->set_reading(!pending || read_while_pending_ < kReadWhilePending);
    uint64_t ms = 0;
    if (!pending) {
      auto st = session_->state();
      int secs = (st == smtpd::State::data || st == smtpd::State::bdat)
                     ? rt_.config.smtp.data_timeout
                     : rt_.config.smtp.command_timeout;
      ms = static_cast<uint64_t>(secs) * 1000;
    }
    if (ms != timeout_ms_) {
      conn_->set_idle_timeout(ms);
      timeout_ms_ = ms;
    }
  }

  void finish(smtpd::ActionResult result) {
    if (!conn_ || !session_) return;
    read_while_pending_ = 0;
    apply(session_->complete(result));
  }

  // Runs `work` on a worker; its result is fed back on the loop thread if we still exist.
  template <class Work>
  void submit(uint64_t id, Work work) {
    auto result = std::make_shared<smtpd::ActionResult>();
    result->id = id;
    auto done = net::if_alive(shared_from_this(),
                              [result](SmtpHandler& h) { h.finish(std::move(*result)); });
    bool ok = rt_.workers.submit([result, work = std::move(work)]() mutable {
      result->result = work();
    }, std::move(done));
    if (!ok) {
      // Shutting down: no worker will run it. Answer "try later" on the next loop turn.
      rt_.loop.post(net::if_alive(shared_from_this(), [id](SmtpHandler& h) {
        h.finish(h.temporary_result(id));
      }));
    }
  }

  smtpd::ActionResult temporary_result(uint64_t id) {
    smtpd::ActionResult r;
    r.id = id;
    if (pending_kind_ == 0) r.result = smtpd::AuthResult{smtpd::AuthResult::temporary, {}};
    else if (pending_kind_ == 1) r.result = smtpd::RecipientResult{};
    else if (pending_kind_ == 2) r.result = smtpd::SenderResult{};
    else r.result = smtpd::DeliverResult{smtpd::DeliverResult::temporary, {}, "shutting down"};
    return r;
  }

  bool backends_ready(uint64_t id) {
    if (rt_.accounts && rt_.store && rt_.authenticator) return true;
    rt_.loop.post(net::if_alive(shared_from_this(), [id](SmtpHandler& h) {
      h.finish(h.temporary_result(id));
    }));
    return false;
  }

  void run(smtpd::Action action) {
    const uint64_t id = action.id;
    std::visit([&](auto& req) { run_one(id, req); }, action.request);
  }

  void run_one(uint64_t id, smtpd::Authenticate& req) {
    pending_kind_ = 0;
    if (!backends_ready(id)) return;
    auto login = std::make_shared<auth::LoginResult>();
    auto* authenticator = rt_.authenticator;
    std::string ip_copy = ip();
    auto done = net::if_alive(shared_from_this(), [id, login](SmtpHandler& h) {
      h.auth_done(id, *login);
    });
    bool ok = rt_.workers.submit(
        [login, authenticator, ip_copy, user = std::move(req.user), pass = std::move(req.password)] {
          *login = authenticator->login(user, pass, ip_copy, "smtp");
        },
        std::move(done));
    if (!ok)
      rt_.loop.post(net::if_alive(shared_from_this(), [id](SmtpHandler& h) {
        h.finish(h.temporary_result(id));
      }));
  }

  void auth_done(uint64_t id, const auth::LoginResult& login) {
    smtpd::AuthResult r;
    switch (login.outcome) {
      case auth::LoginResult::Outcome::ok:
        r.status = smtpd::AuthResult::ok;
        r.user = login.user;
        break;
      case auth::LoginResult::Outcome::bad_credentials:
      case auth::LoginResult::Outcome::disabled: r.status = smtpd::AuthResult::bad; break;
      case auth::LoginResult::Outcome::locked_out: r.status = smtpd::AuthResult::locked_out; break;
      case auth::LoginResult::Outcome::unavailable:
      case auth::LoginResult::Outcome::too_many_connections: r.status = smtpd::AuthResult::temporary; break;
    }
    // Logged in: from now on this connection no longer counts against the per-address
    // limit for unauthenticated connections (limits.max_unauthenticated_per_ip).
    if (r.status == smtpd::AuthResult::ok && conn_) conn_->release_ip_slot();
    smtpd::ActionResult result{id, r};
    if (login.delay.count() <= 0) return finish(std::move(result));
    // The throttle's delay applies to every answer, so its timing reveals nothing.
    delay_timer_ = std::make_unique<net::Timer>(rt_.loop);
    delay_timer_->start(static_cast<uint64_t>(login.delay.count()),
                        [this, result = std::move(result)]() mutable {
                          // Runs on the loop thread; the timer dies with the handler.
                          auto r = std::move(result);
                          finish(std::move(r));
                        });
  }

  void run_one(uint64_t id, smtpd::ResolveRecipient& req) {
    pending_kind_ = 1;
    if (!backends_ready(id)) return;
    if (mx_auth_ && req.auth_user.empty()) mx_auth_->transaction(req.helo, req.reverse_path);
    auto* accounts = rt_.accounts;
    auto* store = rt_.store;
    auto forwards = std::make_shared<std::vector<std::string>>();
    auto quotas = std::make_shared<QuotaMap>();
    std::string key = lower(req.address);
    std::string hostname = rt_.config.hostname;
    const bool relay = static_cast<bool>(rt_.enqueue_remote);
    auto result = std::make_shared<smtpd::ActionResult>();
    result->id = id;
    auto done = net::if_alive(shared_from_this(), [result, forwards, quotas, key](SmtpHandler& h) {
      auto* r = std::get_if<smtpd::RecipientResult>(&result->result);
      bool accepted = r && (r->status == smtpd::RecipientResult::local ||
                            r->status == smtpd::RecipientResult::forward);
      if (accepted && !forwards->empty()) h.forwards_[key] = *forwards;
      else h.forwards_.erase(key);
      // Overwrite: an entry left by a transaction that ended in RSET may be older.
      if (accepted)
        for (auto& [user, quota] : *quotas) h.quotas_[user] = quota;
      h.finish(std::move(*result));
    });
    bool ok = rt_.workers.submit(
        [result, forwards, quotas, accounts, store, hostname, relay, req = std::move(req)] {
          auto r = smtp_resolve_recipient(*accounts, *store, req, hostname, forwards.get(),
                                          quotas.get());
          const bool forwarding = !forwards->empty() && (r.status == smtpd::RecipientResult::local ||
                                                          r.status == smtpd::RecipientResult::forward);
          if (forwarding && !relay) {
            // Part of this alias goes off-site and nothing can take it: defer the whole
            // recipient rather than deliver only the local part.
            spdlog::info("rcpt deferred reason=relay-unavailable to={} forwards={}",
                         req.address, join(*forwards));
            r.status = smtpd::RecipientResult::temporary;
            r.users.clear();
          }
          result->result = std::move(r);
        },
        std::move(done));
    if (!ok)
      rt_.loop.post(net::if_alive(shared_from_this(), [id](SmtpHandler& h) {
        h.finish(h.temporary_result(id));
      }));
  }

  void run_one(uint64_t id, smtpd::CheckSender& req) {
    pending_kind_ = 2;
    if (!backends_ready(id)) return;
    auto* accounts = rt_.accounts;
    submit(id, [accounts, req = std::move(req)]() -> smtpd::ActionResultValue {
      return smtp_check_sender(*accounts, req);
    });
  }

  void run_one(uint64_t id, smtpd::Deliver& req) {
    pending_kind_ = 3;
    if (!backends_ready(id)) return;
    if (!mx_auth_ || !req.envelope.auth_user.empty()) return deliver(id, std::move(req), false);
    // The sender checks' verdicts first (bounded by inbound_auth.timeout), then the store.
    auto held = std::make_shared<smtpd::Deliver>(std::move(req));
    std::string message = std::move(held->message);
    const auto& e = held->envelope;
    mx_auth_->finish(e.helo, e.sender, std::move(message), e.queue_id,
                     [this, id, held](MxAuth::Result r) {
                       if (!conn_) return;  // the client is gone: it will send again
                       held->message = std::move(r.message);
                       if (r.decision.action != InboundDecision::reject)
                         return deliver(id, std::move(*held),
                                        r.decision.action == InboundDecision::junk);
                       // RFC 7489 §6.7 / §10.3: a reject at the end of DATA, nothing stored.
                       smtpd::DeliverResult res{smtpd::DeliverResult::policy_rejected, {},
                                                r.decision.reply_text};
                       MessageSummary m{held->envelope.queue_id, held->envelope.sender,
                                        envelope_rcpts(held->envelope), held->message.size()};
                       log_message(m, res);
                       rt_.loop.post(net::if_alive(shared_from_this(), [id, res](SmtpHandler& h) {
                         h.finish(smtpd::ActionResult{id, res});
                       }));
                     });
  }

  void deliver(uint64_t id, smtpd::Deliver req, bool junk) {
    // Remote recipients: the address itself, or an alias's external forwards.
    smtpd::Envelope remote = req.envelope;
    remote.recipients.clear();
    for (const auto& r : req.envelope.recipients) {
      auto it = forwards_.find(lower(r.address));
      std::vector<std::string> targets;
      if (it != forwards_.end()) targets = it->second;
      else if (r.remote) targets.push_back(r.address);
      for (auto& t : targets) {
        smtpd::EnvelopeRecipient er = r;
        er.address = t;
        er.remote = true;
        er.users.clear();
        if (t != r.address && er.orcpt.empty()) er.orcpt = "rfc822;" + r.address;
        remote.recipients.push_back(std::move(er));
      }
    }
    forwards_.clear();
    QuotaMap quotas = std::exchange(quotas_, {});
    auto summary = std::make_shared<MessageSummary>();
    summary->queue_id = req.envelope.queue_id;
    summary->sender = req.envelope.sender;
    summary->rcpts = envelope_rcpts(req.envelope);
    summary->size = req.message.size();
    auto* accounts = rt_.accounts;
    auto* store = rt_.store;
    auto enqueue = rt_.enqueue_remote;
    auto result = std::make_shared<smtpd::ActionResult>();
    result->id = id;
    auto done = net::if_alive(shared_from_this(), [result, summary](SmtpHandler& h) {
      h.log_message(*summary, std::get<smtpd::DeliverResult>(result->result));
      h.finish(std::move(*result));
    });
    bool ok;
    if (remote.recipients.empty()) {
      // Local copies only: the worker queues them and is free again; whichever thread
      // commits the batch posts the answer to the loop (no thread waits for the commit).
      auto* loop = &rt_.loop;
      ok = rt_.workers.submit(
          [result, accounts, store, loop, done = std::move(done), req = std::move(req),
           quotas = std::move(quotas), junk]() mutable {
            smtp_deliver_local_async(
                *accounts, *store, req, &quotas,
                [result, loop, done = std::move(done)](smtpd::DeliverResult r) {
                  result->result = std::move(r);
                  loop->post(std::move(done));
                },
                junk);
          },
          nullptr);
    } else {
      // The relay copy is queued only once the local ones are in: this worker waits.
      ok = rt_.workers.submit(
          [result, accounts, store, enqueue, remote = std::move(remote), req = std::move(req),
           quotas = std::move(quotas), junk] {
            auto r = smtp_deliver_local(*accounts, *store, req, &quotas, junk);
            if (r.status == smtpd::DeliverResult::ok) {
              if (!enqueue) {
                r = {smtpd::DeliverResult::temporary, {}, "relay unavailable"};
              } else if (auto q = enqueue(remote, req.message); !q) {
                r = {smtpd::DeliverResult::temporary, {}, "relay enqueue: " + q.error().message};
              }
            }
            result->result = std::move(r);
          },
          std::move(done));
    }
    if (!ok) {
      smtpd::DeliverResult r{smtpd::DeliverResult::temporary, {}, "shutting down"};
      log_message(*summary, r);
      rt_.loop.post(net::if_alive(shared_from_this(), [id](SmtpHandler& h) {
        h.finish(h.temporary_result(id));
      }));
    }
  }

  struct MessageSummary {
    std::string queue_id, sender;
    std::vector<std::string> rcpts;
    size_t size = 0;
  };

  void log_message(const MessageSummary& m, const smtpd::DeliverResult& r) {
    const char* outcome = r.status == smtpd::DeliverResult::ok          ? "delivered"
                          : r.status == smtpd::DeliverResult::temporary ? "tempfail"
                                                                        : "rejected";
    std::string id = r.queue_id.empty() ? m.queue_id : r.queue_id;
    if (r.text.empty())
      spdlog::info("msg id={} from=<{}> rcpt={} size={} outcome={} proto=smtp listener={} ip={}",
                   id, m.sender, join(m.rcpts), m.size, outcome, name(), ip());
    else
      spdlog::info(
          "msg id={} from=<{}> rcpt={} size={} outcome={} proto=smtp listener={} ip={} "
          "reason=\"{}\"",
          id, m.sender, join(m.rcpts), m.size, outcome, name(), ip(), r.text);
  }

  Runtime& rt_;
  ListenerKind kind_;
  net::Connection* conn_ = nullptr;
  std::optional<smtpd::Session> session_;
  std::unique_ptr<MxAuth> mx_auth_;  // MX listener: the sender checks of this connection
  std::unique_ptr<net::Timer> delay_timer_;
  uint64_t timeout_ms_ = UINT64_MAX;
  std::string held_;  // replies waiting for the pending action's reply (see apply)
  size_t read_while_pending_ = 0;  // bytes fed since the pending action started
  int pending_kind_ = 0;  // 0 auth, 1 rcpt, 2 sender, 3 deliver: for the temporary answer
  // RCPT address (lower-cased) -> the alias's external forwards, for this transaction.
  std::map<std::string, std::vector<std::string>> forwards_;
  QuotaMap quotas_;  // local user -> quota, from this transaction's RCPTs (for DATA)
  std::string empty_;
};

}  // namespace

net::HandlerFactory make_smtp_factory(Runtime& rt, ListenerKind kind) {
  return [&rt, kind] { return std::make_shared<SmtpHandler>(rt, kind); };
}

}  // namespace tern::daemon
