// DSN generation (worker thread): recipients marked with a dsn_action become one DSN per
// message and kind, sent to the envelope sender: into the INBOX when the sender is local,
// through the queue otherwise (MAIL FROM:<>, RFC 3461 §6.1 / RFC 5321 §4.5.5).
#include <map>

#include "common/log.h"
#include "common/strings.h"
#include "relay/dsn.h"
#include "relay/engine_impl.h"

namespace tern::relay {

namespace {

DsnKind kind_of(const std::string& action) {
  if (action == "delayed") return DsnKind::delay;
  if (action == "relayed" || action == "delivered") return DsnKind::success;
  return DsnKind::failure;  // failed, expired
}

DsnRecipientReport report_for(const QueuedMessage& m, const QueuedRecipient& r,
                              const RelayConfig& c) {
  DsnRecipientReport rep;
  rep.original_recipient = r.orcpt;
  rep.final_recipient = r.address;
  rep.remote_mta = r.remote_mta;
  rep.diagnostic = r.last_reply;
  rep.last_attempt = r.last_attempt;
  if (r.dsn_action == "expired") {
    rep.action = "failed";
    rep.status = kExpiredStatus;  // RFC 3463 X.4.7: delivery time expired
    if (rep.diagnostic.empty()) rep.diagnostic = kExpired.str();
  } else if (r.dsn_action == "delayed") {
    rep.action = "delayed";
    rep.status = status_from_reply(r.last_reply, "4.0.0");
    if (rep.status[0] != '4') rep.status = "4.0.0";
    rep.will_retry_until = m.arrival + c.max_queue_lifetime;  // RFC 3464 §2.3.8
  } else if (r.dsn_action == "relayed" || r.dsn_action == "delivered") {
    rep.action = r.dsn_action;
    rep.status = status_from_reply(r.last_reply, "2.0.0");
  } else {
    rep.action = "failed";
    rep.status = status_from_reply(r.last_reply, "5.0.0");
  }
  if (rep.diagnostic.size() < 3 || !std::isdigit(static_cast<unsigned char>(rep.diagnostic[0])))
    rep.diagnostic.clear();  // Diagnostic-Code: smtp; needs an SMTP reply
  return rep;
}

// Where DSNs about undeliverable DSNs go when undeliverable_bounce = "postmaster".
std::string postmaster_address(const std::string& hostname) { return "postmaster@" + hostname; }

}  // namespace

int generate_dsns(Relay::State& s, int64_t now) {
  QueueStore& q = *s.deps.queue;
  auto pending = q.dsn_pending();
  if (!pending) {
    spdlog::error("relay queue: {}", pending.error().message);
    return 0;
  }
  int sent = 0;
  for (const QueuedMessage& m : *pending) {
    // Group this message's rows by the kind of report (one DSN per message and kind).
    std::map<DsnKind, std::vector<const QueuedRecipient*>> groups;
    for (const auto& r : m.recipients) groups[kind_of(r.dsn_action)].push_back(&r);
    for (const auto& [kind, rows] : groups) {
      std::vector<std::pair<int64_t, std::string>> clear;
      std::vector<DsnRecipientReport> reports;
      for (const auto* r : rows) {
        clear.emplace_back(r->row, r->dsn_action);
        if (notify_allows(r->notify, kind)) reports.push_back(report_for(m, *r, s.opt.config));
      }
      std::string to = m.sender;
      MessageKind out_kind = MessageKind::dsn;
      if (m.kind != MessageKind::normal || m.sender.empty()) {
        // RFC 3461 §6.1 / RFC 5321 §4.5.5: never a DSN about a message with a null sender.
        reports.clear();
        if (m.kind == MessageKind::dsn && kind == DsnKind::failure &&
            s.opt.config.undeliverable_bounce == "postmaster") {
          for (const auto* r : rows) reports.push_back(report_for(m, *r, s.opt.config));
          to = postmaster_address(s.opt.hostname);
          out_kind = MessageKind::postmaster_notice;
        } else if (kind == DsnKind::failure) {
          spdlog::info("relay bounce suppressed id={} reason=null-sender", m.id);
        }
      }
      if (!reports.empty()) {
        auto original = q.read_message(m.id);
        std::string body = original ? std::move(*original) : std::string();
        DsnRequest req;
        req.reporting_mta = s.opt.hostname;
        req.from = "MAILER-DAEMON@" + s.opt.hostname;
        req.to = to;
        req.envid = m.envid;
        req.arrival = m.arrival;
        req.now = now;
        req.message_id = "<" + random_id(20) + "@" + s.opt.hostname + ">";
        req.boundary = random_id(16) + "/" + s.opt.hostname;
        req.recipients = std::move(reports);
        req.original = body;
        req.content = choose_return_content(m.ret, kind, m.size);
        req.original_8bit = m.eight_bit;
        std::string dsn = compose_dsn(req);

        Status delivered;
        std::string how;
        std::optional<std::string> local_user;
        if (s.deps.resolve_local_user) local_user = s.deps.resolve_local_user(to);
        if (local_user && s.deps.deliver_local) {
          delivered = s.deps.deliver_local(*local_user, dsn);
          how = "local";
        } else {
          Envelope env;
          env.sender = "";  // RFC 3461 §6.1: MAIL FROM:<>
          env.recipients.push_back({to, "", ""});
          env.eight_bit = req.original_8bit && req.content == ReturnContent::full;
          env.kind = out_kind;
          auto id = s.enqueue_durably(env, dsn);
          if (id) how = "queued dsn_id=" + *id;
          else delivered = id.error();
        }
        if (!delivered) {
          // Keep the marks: the next tick tries again.
          spdlog::error("relay bounce id={} to={} error=\"{}\"", m.id, to, delivered.error().message);
          continue;
        }
        sent++;
        spdlog::info("relay bounce id={} to={} action={} rcpts={} via={}", m.id, to,
                     req.recipients.front().action, req.recipients.size(), how);
      }
      if (Status st = q.clear_dsn(clear); !st)
        spdlog::error("relay queue: {}", st.error().message);
    }
  }
  return sent;
}

}  // namespace tern::relay
