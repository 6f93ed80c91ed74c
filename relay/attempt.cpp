// One delivery attempt for one destination: route (smarthost or MX), then every address of
// every exchanger in order until each recipient has a final answer or the list is exhausted.
#include <arpa/inet.h>

#include <algorithm>

#include "common/log.h"
#include "common/strings.h"
#include "dns/dns.h"
#include "relay/engine_impl.h"

namespace tern::relay {

namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

struct Hop {
  std::string host;
  uint16_t port = 25;
};

class Attempt : public std::enable_shared_from_this<Attempt> {
 public:
  Attempt(std::shared_ptr<Relay::State> state, std::string dest,
          std::shared_ptr<std::vector<AttemptJob>> jobs,
          std::function<void(std::vector<RecipientOutcome>)> done)
      : s_(std::move(state)), dest_(std::move(dest)), jobs_(std::move(jobs)), done_(std::move(done)) {}

  void begin() {
    for (size_t j = 0; j < jobs_->size(); ++j) {
      const AttemptJob& job = (*jobs_)[j];
      for (const auto& r : job.message.recipients) {
        if (!job.loaded) {
          finish_one(j, r, Outcome::temporary, kMissingFile.str(), "");
        } else if (r.domain.empty()) {
          finish_one(j, r, Outcome::permanent, kNoDomain.str(r.address), "");
        } else {
          remaining_.push_back({j, r});
        }
      }
    }
    if (remaining_.empty()) return finish();
    const RelayConfig& c = s_->opt.config;
    if (s_->smarthost()) {
      hops_.push_back({c.smarthost.address.host, c.smarthost.address.port});
      return next_hop();
    }
    auto self = shared_from_this();
    s_->deps.resolver->lookup_mx(dest_, [self](dns::MxResult mx) { self->on_mx(std::move(mx)); });
  }

 private:
  struct Pending {
    size_t job;
    QueuedRecipient rcpt;
  };

  void on_mx(dns::MxResult mx) {
    if (s_->stopped) return finish();
    switch (mx.status) {
      case dns::DnsStatus::ok:
        for (const auto& h : mx.hosts) hops_.push_back({h.exchange, s_->opt.config.smtp_port});
        return next_hop();
      case dns::DnsStatus::null_mx:  // RFC 7505 §4.1: permanent, do not try the A record
        return fail_remaining(Outcome::permanent, kNullMx.str(dest_), "");
      case dns::DnsStatus::not_found:
        return fail_remaining(Outcome::permanent, kNoDomain.str(dest_ + ": " + mx.detail), "");
      case dns::DnsStatus::temporary:
        return fail_remaining(Outcome::temporary, kDnsTemporary.str(dest_ + ": " + mx.detail), "");
    }
  }

  void next_hop() {
    if (s_->stopped || remaining_.empty() || hop_ >= hops_.size()) return finish();
    const Hop& h = hops_[hop_];
    addresses_.clear();
    addr_ = 0;
    if (is_ip_literal(h.host)) {
      addresses_.push_back(h.host);
      return next_address();
    }
    auto self = shared_from_this();
    s_->deps.resolver->lookup_addresses(h.host, [self](dns::AddressResult a) {
      if (a.status == dns::DnsStatus::ok) {
        self->addresses_ = a.ipv4;
        self->addresses_.insert(self->addresses_.end(), a.ipv6.begin(), a.ipv6.end());
      } else {
        self->last_reply_ = kDnsTemporary.str(self->hops_[self->hop_].host + ": " + a.detail);
        self->last_mta_ = "";
      }
      self->next_address();
    });
  }

  SmtpClientSettings settings() const {
    const RelayConfig& c = s_->opt.config;
    SmtpClientSettings st;
    st.helo_name = s_->opt.hostname;
    st.tls = TlsPolicy::opportunistic;  // STARTTLS whenever offered, certificate unchecked
    for (const auto& d : c.require_tls_domains)
      if (iequals(d, dest_)) st.tls = TlsPolicy::required;
    if (s_->smarthost()) {
      st.auth_username = c.smarthost.username;
      st.auth_password = c.smarthost.password;
      if (c.smarthost.tls == "implicit") {
        st.tls_active = true;
      } else if (c.smarthost.tls == "none") {
        st.tls = TlsPolicy::none;
        st.allow_auth_without_tls = true;
      } else {
        st.tls = TlsPolicy::required;  // credentials go to the provider only under TLS
      }
    }
    return st;
  }

  void next_address() {
    if (s_->stopped || remaining_.empty()) return finish();
    if (addr_ >= addresses_.size()) {
      ++hop_;
      return next_hop();
    }
    const Hop& h = hops_[hop_];
    TransportRequest req;
    req.host = h.host;
    req.address = Endpoint{addresses_[addr_], h.port};
    req.connect_timeout = s_->opt.config.connect_timeout;
    req.settings = settings();
    req.implicit_tls = req.settings.tls_active;
    // MX hosts: opportunistic TLS (RFC 7435), never verified. The smarthost: verified unless
    // smarthost_verify = false, since our credentials go to it.
    req.verify_tls = s_->smarthost() && s_->opt.config.smarthost.verify &&
                     s_->opt.config.smarthost.tls != "none";
    // The messages still to send, each with only its remaining recipients, in job order.
    sent_.clear();
    for (size_t j = 0; j < jobs_->size(); ++j) {
      OutboundMessage m;
      std::vector<size_t> idx;
      for (size_t k = 0; k < remaining_.size(); ++k) {
        if (remaining_[k].job != j) continue;
        const auto& r = remaining_[k].rcpt;
        m.recipients.push_back({r.address, r.notify, r.orcpt});
        idx.push_back(k);
      }
      if (idx.empty()) continue;
      const AttemptJob& job = (*jobs_)[j];
      m.id = job.message.id;
      m.sender = job.message.sender;
      m.data = job.body;
      m.requires_smtputf8 = job.message.smtputf8;
      m.dsn_ret = job.message.ret;
      m.dsn_envid = job.message.envid;
      req.messages.push_back(std::move(m));
      sent_.push_back(std::move(idx));
    }
    auto self = shared_from_this();
    s_->deps.transport->send(std::move(req), [self](TransportResult r) { self->on_sent(std::move(r)); });
  }

  void on_sent(TransportResult r) {
    const Hop& h = hops_[hop_];
    if (!r.connected) {
      // A remote's own 4xx says more than a later exchanger being down: keep it for the DSN.
      if (!have_remote_reply_) {
        last_reply_ = kConnectFailed.str(h.host + " [" + addresses_[addr_] + "]: " + r.error);
        last_mta_ = h.host;
      }
      spdlog::debug("relay connect failed host={} addr={} error=\"{}\"", h.host, addresses_[addr_], r.error);
      ++addr_;
      return next_address();
    }
    std::vector<bool> done(remaining_.size(), false);
    for (size_t m = 0; m < r.results.size() && m < sent_.size(); ++m) {
      const auto& idx = sent_[m];
      std::vector<bool> used(idx.size(), false);
      for (const auto& rr : r.results[m].recipients) {
        // Match the result to the first unused recipient with that address.
        for (size_t i = 0; i < idx.size(); ++i) {
          if (used[i] || remaining_[idx[i]].rcpt.address != rr.address) continue;
          used[i] = true;
          if (rr.outcome == Outcome::temporary) {
            if (!rr.local || !have_remote_reply_) {
              last_reply_ = rr.reply.str();
              last_mta_ = h.host;
              have_remote_reply_ = have_remote_reply_ || !rr.local;
            }
          } else {
            const Pending& p = remaining_[idx[i]];
            finish_one(p.job, p.rcpt, rr.outcome, rr.reply.str(), h.host, r.remote_dsn);
            done[idx[i]] = true;
          }
          break;
        }
      }
    }
    std::vector<Pending> still;
    for (size_t k = 0; k < remaining_.size(); ++k)
      if (!done[k]) still.push_back(std::move(remaining_[k]));
    remaining_ = std::move(still);
    // A 4xx (or a session that broke) moves on to the next exchanger, not the next address.
    ++hop_;
    next_hop();
  }

  void finish_one(size_t job, const QueuedRecipient& r, Outcome outcome, std::string reply,
                  std::string mta, bool remote_dsn = false) {
    RecipientOutcome o;
    o.message_id = (*jobs_)[job].message.id;
    o.recipient = r;
    o.arrival = (*jobs_)[job].message.arrival;
    o.outcome = outcome;
    o.reply = std::move(reply);
    o.remote_mta = std::move(mta);
    o.remote_dsn = remote_dsn;
    outcomes_.push_back(std::move(o));
  }

  void fail_remaining(Outcome outcome, const std::string& reply, const std::string& mta) {
    for (const auto& p : remaining_) finish_one(p.job, p.rcpt, outcome, reply, mta);
    remaining_.clear();
    finish();
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    std::string reply = last_reply_.empty() ? kNoRoute.str(dest_) : last_reply_;
    for (const auto& p : remaining_) finish_one(p.job, p.rcpt, Outcome::temporary, reply, last_mta_);
    remaining_.clear();
    auto done = std::move(done_);
    done(std::move(outcomes_));
  }

  std::shared_ptr<Relay::State> s_;
  std::string dest_;
  std::shared_ptr<std::vector<AttemptJob>> jobs_;
  std::function<void(std::vector<RecipientOutcome>)> done_;
  std::vector<Pending> remaining_;
  std::vector<std::vector<size_t>> sent_;  // per sent message: indexes into remaining_
  std::vector<Hop> hops_;
  size_t hop_ = 0;
  std::vector<std::string> addresses_;
  size_t addr_ = 0;
  std::string last_reply_, last_mta_;
  bool have_remote_reply_ = false;
  std::vector<RecipientOutcome> outcomes_;
  bool finished_ = false;
};

}  // namespace

void run_attempt(std::shared_ptr<Relay::State> state, std::string dest,
                 std::shared_ptr<std::vector<AttemptJob>> jobs,
                 std::function<void(std::vector<RecipientOutcome>)> done) {
  auto a = std::make_shared<Attempt>(std::move(state), std::move(dest), std::move(jobs), std::move(done));
  a->begin();
}

}  // namespace tern::relay
