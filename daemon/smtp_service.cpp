// The SMTP service: smtpd::Session on the front-end runtime. See daemon/smtp_service.h.
#include "daemon/smtp_service.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <spdlog/fmt/ranges.h>

#include "auth/auth.h"
#include "bayes/bayes.h"
#include "common/common.h"
#include "common/strings.h"
#include "daemon/content_stage.h"
#include "daemon/dmarc_reports.h"
#include "daemon/delivery_policy.h"
#include "daemon/metrics.h"
#include "daemon/frontend/frontend.h"
#include "daemon/inbound_checks.h"
#include "daemon/screen_glue.h"
#include "daemon/services.h"
#include "smtpd/smtpd.h"
#include "store/store.h"

namespace tern::daemon {

namespace {

constexpr size_t kQueueIdLength = 12;

smtpd::ListenerKind session_kind(ListenerKind kind) {
  switch (kind) {
    case ListenerKind::submission: return smtpd::ListenerKind::submission;
    case ListenerKind::submissions: return smtpd::ListenerKind::submissions;
    default: return smtpd::ListenerKind::mx;
  }
}

// Every envelope address of the message, for the log line.
std::vector<std::string> envelope_rcpts(const smtpd::Envelope& e) {
  std::vector<std::string> out;
  for (const auto& r : e.recipients) out.push_back(r.address);
  return out;
}

// The one "try again later" answer per action kind: the pool is shutting down, or a backend
// is missing.
smtpd::ActionResultValue temporary_answer(const smtpd::ActionRequest& request) {
  struct Answer {
    smtpd::ActionResultValue operator()(const smtpd::Authenticate&) const {
      return smtpd::AuthResult{smtpd::AuthResult::temporary, {}};
    }
    smtpd::ActionResultValue operator()(const smtpd::ResolveRecipient&) const {
      return smtpd::RecipientResult{};  // temporary
    }
    smtpd::ActionResultValue operator()(const smtpd::CheckSender&) const {
      return smtpd::SenderResult{};  // SenderResult has no temporary outcome: refused
    }
    smtpd::ActionResultValue operator()(const smtpd::Deliver&) const {
      return smtpd::DeliverResult{smtpd::DeliverResult::temporary, {}, "shutting down"};
    }
    smtpd::ActionResultValue operator()(const smtpd::LookupScramKeys&) const {
      return smtpd::ScramKeysResult{};  // not ok: 454
    }
  };
  return std::visit(Answer{}, request);
}

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

class SmtpHandler final : public Frontend<SmtpHandler> {
 public:
  // Input read while an action runs is buffered by the session (RFC 2920 pipelining); reading
  // pauses only past this much, so a pipelining client does not cost a pause and a resume of
  // the socket (two epoll_ctl calls) per command. The session's own cap stays the hard bound.
  static constexpr size_t kReadWhilePending = 256 * 1024;

  SmtpHandler(Runtime& rt, ListenerKind kind) : Frontend(rt), kind_(kind) {}

  // ---- Frontend hooks ----
  bool pending() const { return session_ && session_->action_pending(); }
  size_t buffered() const { return read_while_pending_; }
  // RFC 5321 §4.5.3.2: the command timeout between commands, the data timeout while a
  // message is coming; none while we are working on an action.
  std::optional<uint64_t> idle_timeout_ms() const {
    if (!session_) return std::nullopt;
    if (session_->action_pending()) return 0;
    auto st = session_->state();
    int secs = (st == smtpd::State::data || st == smtpd::State::bdat) ? rt_.config.smtp.data_timeout
                                                                      : rt_.config.smtp.command_timeout;
    return static_cast<uint64_t>(secs) * 1000;
  }

  void opened(const net::ConnectionInfo& info) {
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
    // Issue 17: the MX listener's screening ([screen]; submission and AUTH are exempt).
    if (kind_ == ListenerKind::smtp && rt_.screen) {
      screen_ = std::make_unique<ClientScreen>(rt_, rt_.screen, info.peer_ip);
      settings.reject_unauth_pipelining = rt_.config.screen.reject_pipelining && !screen_->exempt();
      settings.may_start_message = [this] { return !screen_ || screen_->message_allowed(); };
    }
    session_.emplace(std::move(settings), peer);
    if (info.tls) session_->set_channel_bindings({info.tls_exporter, info.tls_server_end_point});
    if (rt_.accounts && rt_.store && rt_.authenticator) {
      policy_ = std::make_shared<const DeliveryPolicy>(
          *rt_.accounts, *rt_.store, rt_.config.hostname, rt_.enqueue_remote,
          SenderRewriting{rt_.srs, rt_.config.srs.domain});
    } else {
      // ternd always opens them before listening; a missing one is a start-up bug.
      spdlog::error("smtp service started without accounts/store: refusing connection");
    }
    // RFC 8601: sender checks (and an Authentication-Results field) on the MX listener
    // only; submitted messages are our users' own.
    if (kind_ == ListenerKind::smtp && rt_.inbound_checks)
      mx_auth_ = std::make_unique<MxAuth>(rt_, rt_.inbound_checks, info.peer_ip);
    if (screen_ && !screen_->connection_allowed()) return apply(session_->refuse_busy());
    const int delay = screen_ ? screen_->greet_delay_ms() : 0;
    if (delay <= 0) return greet();
    // RFC 5321 §4.3.1: the client must wait for the greeting; one that talks during this
    // pause is refused (received()). The timer dies with the handler.
    after_delay(std::chrono::milliseconds(delay), [this] { greet(); });
  }

  void greet() {
    greeted_ = true;
    if (session_) apply(session_->greet());
  }

  void received(std::string_view bytes) {
    if (!session_) return;
    if (!greeted_) return apply(session_->early_talker());
    if (session_->action_pending()) read_while_pending_ += bytes.size();
    apply(session_->feed(bytes));
    // DKIM hashes the body as it arrives; its key lookups start once the header block is in.
    if (mx_auth_ && session_ && session_->auth_user().empty())
      mx_auth_->data(session_->body_so_far());
  }

  void tls_ready(const net::ConnectionInfo& info) {
    if (!session_) return;
    session_->set_channel_bindings({info.tls_exporter, info.tls_server_end_point});
    session_->tls_started(info.tls_version, info.tls_cipher);
    update_flow();
  }

  void timed_out() {
    if (!session_) return;
    spdlog::info("smtp timeout ip={} state={}", ip_, smtpd::to_string(session_->state()));
    apply(session_->timeout());
    if (conn_ && !session_->closed()) conn_->close();
  }

  void shutting_down() {
    if (session_ && conn_) apply(session_->shutdown());
  }

  void closed() {
    mx_auth_.reset();  // drops its DNS callbacks and its deadline timer
    uribl_timer_.reset();
    screen_.reset();   // the same for the blocklist lookups
  }

 private:
  void apply(smtpd::Output out) {
    if (!conn_) return;
    for (const auto& note : out.log) spdlog::info("{} proto=smtp listener={}", note, name());
    // RFC 2920 §3.1: replies to a pipelined group may be held and sent together. Replies that
    // come with an action (MAIL's before RCPT's lookup) wait for the action's own reply: one
    // write and one segment for MAIL+RCPT+DATA instead of two.
    held_ += out.bytes;
    const bool more_coming = !out.actions.empty() && !out.start_tls && !out.close_after_write;
    if (!more_coming && !held_.empty()) conn_->write_owned(std::exchange(held_, std::string()));
    if (out.start_tls) start_tls();
    if (out.close_after_write) {
      conn_->close();
      return;
    }
    for (auto& action : out.actions) run_action(std::move(action));
    update_flow();
  }

  const char* name() const { return spec(kind_).name; }

  void finish(smtpd::ActionResult result) {
    if (!conn_ || !session_) return;
    read_while_pending_ = 0;
    apply(session_->complete(result));
  }

  void run_action(smtpd::Action action) {
    const uint64_t id = action.id;
    Refused refused = [id, answer = temporary_answer(action.request)](SmtpHandler& h) {
      h.finish(smtpd::ActionResult{id, answer});
    };
    if (!policy_) {
      rt_.loop.post(if_alive(std::move(refused)));
      return;
    }
    std::visit([&](auto& req) { run_one(id, req, std::move(refused)); }, action.request);
  }

  using Refused = std::function<void(SmtpHandler&)>;

  void run_one(uint64_t id, smtpd::Authenticate& req, Refused refused) {
    using Proof = auth::SaslCredentials::Proof;
    run([authenticator = rt_.authenticator, ip = ip_, user = std::move(req.user),
         pass = std::move(req.password), proof = req.proof] {
          if (proof != Proof::none) return authenticator->login_proven(user, proof == Proof::valid, ip, "smtp");
          return authenticator->login(user, pass, ip, "smtp");
        },
        [id](SmtpHandler& h, auth::LoginResult login) { h.auth_done(id, login); },
        std::move(refused));
  }

  void run_one(uint64_t id, smtpd::LookupScramKeys& req, Refused refused) {
    run([authenticator = rt_.authenticator, user = std::move(req.user)] {
          auto keys = authenticator->scram_keys(user);
          if (!keys) return smtpd::ScramKeysResult{};
          return smtpd::ScramKeysResult{true, std::move(*keys)};
        },
        [id](SmtpHandler& h, smtpd::ScramKeysResult r) { h.finish(smtpd::ActionResult{id, std::move(r)}); },
        std::move(refused));
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
    // The throttle's delay applies to every answer, so its timing reveals nothing.
    after_delay(login.delay, [this, result = smtpd::ActionResult{id, r}] { finish(result); });
  }

  void run_one(uint64_t id, smtpd::ResolveRecipient& req, Refused refused) {
    if (mx_auth_ && req.auth_user.empty()) mx_auth_->transaction(req.helo, req.reverse_path);
    if (!screen_ || !req.auth_user.empty()) return resolve(id, std::move(req), {}, std::move(refused));
    // Issue 17: the recipient rate and the blocklist verdict first (on the loop thread).
    screen_->recipient([this, id, req = std::move(req), refused = std::move(refused)](
                           std::optional<smtpd::RecipientResult> refusal) mutable {
      if (refusal) {
        rt_.loop.post(if_alive([id, r = std::move(*refusal)](SmtpHandler& h) {
          h.finish(smtpd::ActionResult{id, r});
        }));
        return;
      }
      // A reply to our user is not greylisted: that needs MAIL FROM's SPF verdict, which
      // started just now; an RCPT that would be greylisted waits for it (bounded).
      const bool wait_spf = mx_auth_ && !req.reverse_path.empty() &&
                            screen_->greylisting_applies(req.reverse_path);
      auto go = [this, id, req = std::move(req), refused = std::move(refused)]() mutable {
        auto grey = screen_->grey_query(req.reverse_path, req.address,
                                        mx_auth_ ? mx_auth_->spf_pass_domain() : std::string());
        resolve(id, std::move(req), std::move(grey), std::move(refused));
      };
      if (!wait_spf) return go();
      screen_->bounded_wait([this](std::function<void()> wake) { mx_auth_->when_spf_known(std::move(wake)); },
                            std::move(go));
    });
  }

  void resolve(uint64_t id, smtpd::ResolveRecipient req, std::optional<GreyQuery> grey,
               Refused refused) {
    std::string key = ascii_lower(req.address);
    run([policy = policy_, req = std::move(req), grey = std::move(grey)] {
          RecipientDecision d = policy->resolve_recipient(req);
          if (grey) greylist_recipient(*grey, d);  // blocking SQLite: here, on the worker
          return d;
        },
        [id, key](SmtpHandler& h, RecipientDecision d) {
          using R = smtpd::RecipientResult;
          const bool accepted = d.result.status == R::local || d.result.status == R::forward;
          if (accepted && !d.forwards.empty()) h.forwards_[key] = std::move(d.forwards);
          else h.forwards_.erase(key);
          // Overwrite: an entry left by a transaction that ended in RSET may be older.
          if (accepted)
            for (auto& [user, quota] : d.quotas) h.quotas_[user] = quota;
          h.finish(smtpd::ActionResult{id, std::move(d.result)});
        },
        std::move(refused));
  }

  void run_one(uint64_t id, smtpd::CheckSender& req, Refused refused) {
    run([policy = policy_, req = std::move(req)] { return policy->check_sender(req); },
        [id](SmtpHandler& h, smtpd::SenderResult r) { h.finish(smtpd::ActionResult{id, r}); },
        std::move(refused));
  }

  // deliver() makes its own refused answer, which logs the message too.
  void run_one(uint64_t id, smtpd::Deliver& req, Refused) {
    data_end_ = std::chrono::steady_clock::now();
    // Issue 17: the client's blocklist hits (screen_->hits()) are logged with the message and
    // scored by the content stage with the rest.
    if (screen_ && req.envelope.auth_user.empty()) {
      for (const auto& h : screen_->hits())
        spdlog::info("screen id={} ip={} rule={} score={} detail={}", req.envelope.queue_id, ip_,
                     h.rule, h.score, h.detail);
    }
    if (!mx_auth_ || !req.envelope.auth_user.empty()) return content(id, std::move(req), {}, false);
    // The sender checks' verdicts first (bounded by inbound_auth.timeout), then the store.
    auto held = std::make_shared<smtpd::Deliver>(std::move(req));
    std::string message = std::move(held->message);
    const auto& e = held->envelope;
    mx_auth_->finish(e.helo, e.sender, std::move(message), e.queue_id,
                     [this, id, held](MxAuth::Result r) {
                       if (!conn_) return;  // the client is gone: it will send again
                       held->message = std::move(r.message);
                       const auto action = r.decision.action;
                       // RFC 7489 §7.2: every evaluated message counts in the domain's report
                       // (a deferred one is not evaluated yet: it comes back).
                       if (rt_.dmarc_reports && action != InboundDecision::tempfail)
                         rt_.dmarc_reports->record(r.verdicts, held->envelope);
                       if (action == InboundDecision::inbox || action == InboundDecision::junk)
                         return content(id, std::move(*held), auth_input(r.verdicts),
                                        action == InboundDecision::junk);
                       // RFC 7489 §6.7 / §10.3: a reject at the end of DATA, nothing stored;
                       // RFC 7208 §8.6: a deferred SPF temperror, 451 4.4.3, nothing stored.
                       smtpd::DeliverResult res{action == InboundDecision::reject
                                                    ? smtpd::DeliverResult::policy_rejected
                                                    : smtpd::DeliverResult::policy_deferred,
                                                {}, r.decision.reply_text};
                       log_message(summary_of(*held), res);
                       rt_.loop.post(if_alive([id, res](SmtpHandler& h) {
                         h.finish(smtpd::ActionResult{id, res});
                       }));
                     });
  }

  // ---- the content stage (daemon/content_stage.h) ----

  using HeldDeliver = std::shared_ptr<smtpd::Deliver>;
  using Job = std::shared_ptr<ContentJob>;

  void content(uint64_t id, smtpd::Deliver req, spam::AuthInput auth, bool junk) {
    const auto& stage = rt_.content_stage;
    // RFC 6409 §8 trusts our own users' mail: submission gets the virus scan at most.
    const bool mx = kind_ == ListenerKind::smtp && req.envelope.auth_user.empty();
    if (!stage || !stage->active(mx)) return deliver(id, std::move(req), junk);
    auto held = std::make_shared<smtpd::Deliver>(std::move(req));
    auto job = std::make_shared<ContentJob>();
    const auto& e = held->envelope;
    job->message = std::make_shared<const std::string>(std::exchange(held->message, {}));
    job->mx = mx;
    job->sender = e.sender;
    job->helo = e.helo;
    job->client_ip = e.client_ip;
    job->queue_id = e.queue_id;
    job->rcpts = envelope_rcpts(e);
    job->local_users = e.local_users();
    job->auth = std::move(auth);
    if (mx && screen_)
      for (const auto& h : screen_->hits())
        job->connection_rules.push_back({h.rule, static_cast<double>(h.score), h.detail});
    const size_t size = job->message->size();
    Refused refused = [id, held, size](SmtpHandler& h) {
      smtpd::DeliverResult r{smtpd::DeliverResult::temporary, {}, "shutting down"};
      auto m = summary_of(*held);
      m.size = size;
      h.log_message(m, r);
      h.finish(smtpd::ActionResult{id, std::move(r)});
    };
    if (!stage->wants_uribl() && kept_here(held->envelope)) return scan_and_deliver(id, held, job, junk, size);
    // Sockets and SQLite: a worker (each scanner bounded by its own timeout).
    run([stage, job, accounts = rt_.accounts, classifier = rt_.classifier] {
          return stage->scan(*job, accounts, classifier);
        },
        [id, held, job, junk](SmtpHandler& h, ContentScan scan) {
          h.scanned(id, held, job, junk, std::move(scan));
        },
        std::move(refused));
  }

  // Every copy goes to a local mailbox: no relay copy, no alias forwarding off-site.
  bool kept_here(const smtpd::Envelope& e) const {
    return forwards_.empty() &&
           std::none_of(e.recipients.begin(), e.recipients.end(), [](const auto& r) { return r.remote; });
  }

  // The answer to a message the content stage refused or deferred (RFC 5321 §4.2.5: at the
  // end of DATA, nothing stored).
  static smtpd::DeliverResult refusal(const ContentOutcome& out) {
    using A = ContentOutcome;
    using R = smtpd::DeliverResult;
    return R{out.action == A::virus      ? R::virus_rejected
             : out.action == A::deferred ? R::scan_deferred
                                         : R::policy_rejected,
             {}, out.reply_text};
  }

  // Without URI blocklists nothing of the verdict needs the loop, so for mail kept here the
  // scan, the verdict and the store's queueing run in one worker job: one round trip to the
  // loop fewer per message than scan -> loop -> deliver.
  void scan_and_deliver(uint64_t id, const HeldDeliver& held, const Job& job, bool junk, size_t size) {
    struct Delivered {
      std::string summary;  // the content stage's, for the log
      smtpd::DeliverResult result;
    };
    auto summary = std::make_shared<MessageSummary>(summary_of(*held));
    summary->size = size;
    run_async<Delivered>(
        [stage = rt_.content_stage, accounts = rt_.accounts, classifier = rt_.classifier,
         policy = policy_, quotas = std::exchange(quotas_, {}), held, job, junk](auto finish) {
          auto out = stage->conclude(stage->scan(*job, accounts, classifier), {}, *job->message);
          if (out.action != ContentOutcome::inbox && out.action != ContentOutcome::junk)
            return finish(Delivered{std::move(out.summary), refusal(out)});
          held->message = std::move(out.message);
          policy->deliver_local_async(*held, &quotas, junk || out.action == ContentOutcome::junk,
                                      [finish, summary = std::move(out.summary)](smtpd::DeliverResult r) {
                                        finish(Delivered{summary, std::move(r)});
                                      });
        },
        [id, summary, author = held->envelope.auth_user](SmtpHandler& h, Delivered d) {
          spdlog::info("content id={} ip={} {}", summary->queue_id, h.ip_, d.summary);
          h.log_message(*summary, d.result);
          if (d.result.status == smtpd::DeliverResult::ok && !author.empty())
            h.note_correspondents(author, summary->rcpts);
          h.finish(smtpd::ActionResult{id, std::move(d.result)});
        },
        [id, summary](SmtpHandler& h) {
          smtpd::DeliverResult r{smtpd::DeliverResult::temporary, {}, "shutting down"};
          h.log_message(*summary, r);
          h.finish(smtpd::ActionResult{id, std::move(r)});
        });
  }

  void scanned(uint64_t id, HeldDeliver held, Job job, bool junk, ContentScan scan) {
    if (!conn_) return;  // the client is gone: it will send again
    const auto& stage = *rt_.content_stage;
    if (scan.stop != ContentScan::none || scan.domains.empty() || !stage.wants_uribl() ||
        !rt_.dns_records)
      return concluded(id, held, job, junk, std::move(scan), {});
    // The URI blocklists through ternd's resolver (loop thread), bounded by spam.dns_timeout:
    // whichever of the answers and the timer comes first concludes; the other does nothing.
    auto pending = std::make_shared<std::optional<ContentScan>>(std::move(scan));
    auto go = [id, held, job, junk, pending](SmtpHandler& h, std::vector<spam::Contribution> cs) {
      if (!*pending) return;
      ContentScan s = std::move(**pending);
      pending->reset();
      if (h.uribl_timer_) h.uribl_timer_->stop();
      h.concluded(id, held, job, junk, std::move(s), cs);
    };
    auto domains = (*pending)->domains;
    auto give_up = spam::lookup_uribl(*rt_.dns_records, domains, stage.zones(),
                                      [weak = weak_from_this(), go](std::vector<spam::Contribution> cs) {
                                        if (auto h = weak.lock()) go(*h, std::move(cs));
                                      });
    if (!*pending) return;  // answered from the cache
    // The deadline keeps what was listed so far (an unanswered name counts as not listed).
    if (!uribl_timer_) uribl_timer_ = std::make_unique<net::Timer>(rt_.loop);
    uribl_timer_->start(static_cast<uint64_t>(stage.dns_timeout_ms()), std::move(give_up));
  }

  void concluded(uint64_t id, const HeldDeliver& held, const Job& job, bool junk, ContentScan scan,
                 const std::vector<spam::Contribution>& uribl) {
    if (!conn_) return;
    auto out = rt_.content_stage->conclude(std::move(scan), uribl, *job->message);
    spdlog::info("content id={} ip={} {}", job->queue_id, ip_, out.summary);
    using A = ContentOutcome;
    if (out.action == A::inbox || out.action == A::junk) {
      held->message = std::move(out.message);
      return deliver(id, std::move(*held), junk || out.action == A::junk);
    }
    smtpd::DeliverResult res = refusal(out);
    auto m = summary_of(*held);
    m.size = job->message->size();
    log_message(m, res);
    rt_.loop.post(if_alive([id, res](SmtpHandler& h) { h.finish(smtpd::ActionResult{id, res}); }));
  }

  struct MessageSummary {
    std::string queue_id, sender;
    std::vector<std::string> rcpts;
    size_t size = 0;
  };

  static MessageSummary summary_of(const smtpd::Deliver& d) {
    return {d.envelope.queue_id, d.envelope.sender, envelope_rcpts(d.envelope), d.message.size()};
  }

  void deliver(uint64_t id, smtpd::Deliver req, bool junk) {
    // The first forwarding alias's domain: the SRS sender's domain, unless srs.domain says.
    std::string via;
    if (!forwards_.empty()) via = forwards_.begin()->first.substr(forwards_.begin()->first.rfind('@') + 1);
    relay::Envelope remote = remote_envelope(req.envelope, std::exchange(forwards_, {}));
    QuotaMap quotas = std::exchange(quotas_, {});
    auto summary = std::make_shared<const MessageSummary>(summary_of(req));
    auto done = [id, summary, author = req.envelope.auth_user](SmtpHandler& h, smtpd::DeliverResult r) {
      h.log_message(*summary, r);
      if (r.status == smtpd::DeliverResult::ok && !author.empty()) h.note_correspondents(author, summary->rcpts);
      h.finish(smtpd::ActionResult{id, std::move(r)});
    };
    Refused refused = [id, summary](SmtpHandler& h) {
      smtpd::DeliverResult r{smtpd::DeliverResult::temporary, {}, "shutting down"};
      h.log_message(*summary, r);
      h.finish(smtpd::ActionResult{id, std::move(r)});
    };
    if (remote.recipients.empty()) {
      // Local copies only: the worker queues them and is free again; whichever thread
      // commits the batch posts the answer to the loop (no thread waits for the commit).
      run_async<smtpd::DeliverResult>(
          [policy = policy_, req = std::move(req), quotas = std::move(quotas), junk](auto finish) {
            policy->deliver_local_async(req, &quotas, junk, std::move(finish));
          },
          std::move(done), std::move(refused));
      return;
    }
    // The relay copy is queued only once the local ones are in: this worker waits.
    run([policy = policy_, req = std::move(req), remote = std::move(remote),
         quotas = std::move(quotas), junk, via = std::move(via)] {
          relay::Envelope copy = remote;
          copy.sender = policy->forward_sender(req.envelope, via);
          return policy->deliver(req, copy, &quotas, junk);
        },
        std::move(done), std::move(refused));
  }

  // Issue 17: whom a user writes to is a reputation bonus for mail from them later. Off the
  // loop (SQLite), after the reply: a lost note costs nothing but the bonus.
  void note_correspondents(const std::string& user, const std::vector<std::string>& rcpts) {
    if (!rt_.classifier) return;
    (void)rt_.workers.submit(
        [classifier = rt_.classifier, user, rcpts] {
          int64_t day = static_cast<int64_t>(std::time(nullptr)) / 86400;
          for (const auto& r : rcpts)
            if (auto st = classifier->note_correspondent(user, ascii_lower(r), day); !st)
              spdlog::warn("correspondent note failed user={} error={}", user, st.error().message);
        },
        nullptr);
  }

  void log_message(const MessageSummary& m, const smtpd::DeliverResult& r) {
    const bool deferred = r.status == smtpd::DeliverResult::temporary ||
                          r.status == smtpd::DeliverResult::policy_deferred ||
                          r.status == smtpd::DeliverResult::scan_deferred;
    const char* outcome = r.status == smtpd::DeliverResult::ok ? "delivered"
                          : deferred                           ? "tempfail"
                                                               : "rejected";
    std::string id = r.queue_id.empty() ? m.queue_id : r.queue_id;
    if (rt_.metrics) {
      using M = Metrics::Received;
      rt_.metrics->message_received(r.status == smtpd::DeliverResult::ok ? M::delivered
                                    : deferred                           ? M::tempfail
                                                                         : M::rejected,
                                    kind_ != ListenerKind::smtp);
      rt_.metrics->delivery_latency(std::chrono::steady_clock::now() - data_end_);
    }
    if (r.text.empty())
      spdlog::info("msg id={} from=<{}> rcpt={} size={} outcome={} proto=smtp listener={} ip={}",
                   id, m.sender, fmt::join(m.rcpts, ","), m.size, outcome, name(), ip_);
    else
      spdlog::info(
          "msg id={} from=<{}> rcpt={} size={} outcome={} proto=smtp listener={} ip={} "
          "reason=\"{}\"",
          id, m.sender, fmt::join(m.rcpts, ","), m.size, outcome, name(), ip_, r.text);
  }

  ListenerKind kind_;
  std::chrono::steady_clock::time_point data_end_{};  // this message's end of DATA (/metrics)
  std::optional<smtpd::Session> session_;
  std::shared_ptr<const DeliveryPolicy> policy_;  // null: a backend is missing
  std::unique_ptr<MxAuth> mx_auth_;  // MX listener: the sender checks of this connection
  std::unique_ptr<net::Timer> uribl_timer_;  // bounds the URI blocklist lookups
  std::unique_ptr<ClientScreen> screen_;  // MX listener: [screen] (daemon/screen_glue.h)
  bool greeted_ = false;  // the 220 went out (until then, input is an early talker)
  std::string held_;  // replies waiting for the pending action's reply (see apply)
  size_t read_while_pending_ = 0;  // bytes fed since the pending action started
  ForwardMap forwards_;  // this transaction's aliases with external targets
  QuotaMap quotas_;      // local user -> quota, from this transaction's RCPTs (for DATA)
};

}  // namespace

net::HandlerFactory make_smtp_factory(Runtime& rt, ListenerKind kind) {
  return [&rt, kind] { return std::make_shared<SmtpHandler>(rt, kind); };
}

}  // namespace tern::daemon
