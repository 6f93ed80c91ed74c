// DSN generation (worker thread): recipients marked with a dsn_action become one DSN per
// message and kind, sent to the envelope sender: into the INBOX when the sender is local,
// through the queue otherwise (MAIL FROM:<>, RFC 3461 §6.1 / RFC 5321 §4.5.5).
#include <algorithm>
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

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
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
        } else if (m.kind == MessageKind::dsn && kind == DsnKind::failure) {
          // RFC 3461 §6.2: an undeliverable DSN is not reported on (undeliverable_bounce).
          spdlog::info("relay bounce dropped id={} reason=undeliverable-dsn", m.id);
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

        // Where it goes: a local sender's mailboxes directly (every target of an alias,
        // de-duplicated, like normal delivery); a mailbox that cannot take it now (full,
        // gone) and any off-site target through the queue, where it follows the normal retry
        // schedule and expires like any message (local rows are delivered by the attempt,
        // see deliver_local_rows).
        std::vector<std::string> queue_to;
        std::vector<std::string> delivered_to;
        LocalAddress where;
        if (s.deps.resolve_local) where = s.deps.resolve_local(to);
        if (where.kind == LocalAddress::Kind::local && s.deps.deliver_local) {
          for (const auto& user : where.users) {
            if (Status st = s.deps.deliver_local(user, dsn); st) {
              delivered_to.push_back(user);
            } else {
              spdlog::info("relay bounce id={} to={} local delivery deferred to the queue: {}",
                           m.id, user, st.error().message);
              queue_to.push_back(user);
            }
          }
          for (const auto& f : where.forwards)
            if (std::find(queue_to.begin(), queue_to.end(), f) == queue_to.end()) queue_to.push_back(f);
        } else {
          queue_to.push_back(to);
        }
        std::string how = delivered_to.empty() ? "" : "local=" + join(delivered_to, ",");
        if (!queue_to.empty()) {
          Envelope env;
          env.sender = "";  // RFC 3461 §6.1: MAIL FROM:<>
          for (const auto& r : queue_to) env.recipients.push_back({r, "", ""});
          env.eight_bit = req.original_8bit && req.content == ReturnContent::full;
          env.kind = out_kind;
          auto id = s.enqueue_durably(env, dsn);
          if (!id && delivered_to.empty()) {
            // Nothing went anywhere: keep the marks, the next tick tries again.
            spdlog::error("relay bounce id={} to={} error=\"{}\"", m.id, to, id.error().message);
            continue;
          }
          if (!id)
            spdlog::error("relay bounce id={} to={} lost for {}: {}", m.id, to, join(queue_to, ","),
                          id.error().message);
          else
            how += (how.empty() ? "" : " ") + std::string("queued dsn_id=") + *id;
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

std::vector<RecipientOutcome> deliver_local_rows(Relay::State& s, std::vector<AttemptJob>& jobs) {
  std::vector<RecipientOutcome> out;
  if (!s.deps.resolve_local || !s.deps.deliver_local) return out;
  for (auto& job : jobs) {
    if (job.message.kind == MessageKind::normal || !job.loaded) continue;
    std::vector<QueuedRecipient> remote;
    for (auto& r : job.message.recipients) {
      LocalAddress where = s.deps.resolve_local(r.address);
      if (where.kind == LocalAddress::Kind::not_local) {
        remote.push_back(std::move(r));
        continue;
      }
      RecipientOutcome o;
      o.message_id = job.message.id;
      o.recipient = r;
      o.arrival = job.message.arrival;
      if (where.kind == LocalAddress::Kind::unknown_user || where.users.empty()) {
        o.outcome = Outcome::permanent;
        o.reply = kLocalNoUser.str(r.address);
      } else {
        // Every mailbox of the address; the row is delivered once all took it.
        o.outcome = Outcome::delivered;
        o.reply = kLocalDelivered.str();
        for (const auto& user : where.users) {
          Status st = s.deps.deliver_local(user, job.body);
          if (st) continue;
          if (st.error().code == Errc::not_found) {
            o.outcome = Outcome::permanent;
            o.reply = kLocalNoUser.str(user);
          } else {
            o.outcome = Outcome::temporary;
            o.reply = st.error().code == Errc::over_quota ? kLocalMailboxFull.str(user)
                                                          : kLocalFailed.str(user);
          }
        }
      }
      out.push_back(std::move(o));
    }
    job.message.recipients = std::move(remote);
  }
  return out;
}

}  // namespace tern::relay
