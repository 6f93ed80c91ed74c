#include "authn/inbound.h"

#include <utility>
#include <vector>

namespace tern::authn {

struct InboundAuth::Conn {
  Resolver* resolver = nullptr;
  PublicSuffixList psl;
  InboundSettings settings;
  std::function<int64_t()> now;
  std::function<uint32_t()> sample;
  IpAddress client;
  std::string receiver;
  std::shared_ptr<IprevCheck> iprev;
  bool iprev_done = false;
  std::function<void()> on_iprev;  // set by a transaction waiting for iprev
};

struct InboundAuth::Txn : std::enable_shared_from_this<Txn> {
  std::shared_ptr<Conn> conn;
  std::shared_ptr<SpfCheck> spf, spf_helo;
  std::shared_ptr<DkimVerifier> dkim;
  int pending = 0;  // SPF checks and DKIM key lookups not finished yet
  // DKIM hashing, off the loop (InboundSettings::offload). The verifier is touched by one
  // hashing job at a time; the loop asks it for keys only once it has learnt (from a job's
  // continuation) that the header block is complete, and reads results only after
  // end_of_message ran: its key table and the body hash state are never shared in between.
  std::string queued;        // body bytes waiting for the next hashing job
  bool hashing = false;      // a job is running
  bool eom_wanted = false;   // end_of_data came; end_of_message runs after the queued bytes
  bool eom_sent = false;     // ... in the job now running
  bool keys_started = false; // the loop has started the key lookups
  bool ended = false;        // every byte hashed and end_of_message ran
  bool given_up = false;
  std::function<void(AuthOutcome)> done;
  std::vector<std::function<void()>> spf_waiters;  // when_mail_from_spf()
  std::shared_ptr<DmarcCheck> dmarc;
  AuthVerdicts partial;  // everything but DMARC, while DMARC runs

  // Runs `check` and decrements `pending` when it finishes; only while this Txn lives.
  void start(std::shared_ptr<Check> check) {
    if (given_up) {
      abandon(*check);  // past the deadline: no new DNS
      return;
    }
    ++pending;
    std::weak_ptr<Txn> weak = weak_from_this();
    drive(*conn->resolver, std::move(check), [weak] {
      if (auto self = weak.lock()) {
        if (self->pending > 0) --self->pending;  // give_up() may have zeroed it already
        self->wake_spf_waiters();
        self->maybe_finish();
      }
    });
  }

  void wake_spf_waiters() {
    if (spf && spf->done() && !spf_waiters.empty())
      for (auto& fn : std::exchange(spf_waiters, {})) fn();
  }

  void maybe_finish() {
    if (!ended || pending > 0 || dmarc || !done) return;
    if (conn->iprev && !conn->iprev_done) {
      std::weak_ptr<Txn> weak = weak_from_this();
      conn->on_iprev = [weak] {
        if (auto self = weak.lock()) self->maybe_finish();
      };
      return;
    }
    AuthVerdicts v;
    if (conn->iprev) v.iprev = conn->iprev->verdict();
    if (spf_helo) v.spf_helo = spf_helo->verdict();
    if (spf) v.spf = spf->verdict();
    v.dkim_checked = true;
    v.dkim = dkim->results();
    // RFC 7489 §6.6.1: DMARC needs exactly one RFC5322.From domain.
    auto froms = from_domains(dkim->header_fields());
    DmarcInput in;
    in.from_domain = froms.size() == 1 ? froms[0] : std::string{};
    if (spf) in.spf = spf->verdict();
    in.dkim = v.dkim;
    in.sample = conn->sample ? conn->sample() % 100 : 0;
    dmarc = std::make_shared<DmarcCheck>(std::move(in), conn->psl);
    partial = std::move(v);
    if (given_up) {
      abandon(*dmarc);  // past the deadline: no new DNS
      report();
      return;
    }
    std::weak_ptr<Txn> weak = weak_from_this();
    drive(*conn->resolver, dmarc, [weak] {
      if (auto self = weak.lock()) self->report();
    });
  }

  // Calls `done` once with every verdict, DMARC's included.
  void report() {
    if (!done || !dmarc || !dmarc->done()) return;
    AuthVerdicts v = partial;
    v.dmarc = dmarc->verdict();
    if (v.dmarc->from_domain.empty() && v.dmarc->result == DmarcResult::permerror) {
      v.dmarc->reason = "not exactly one RFC5322.From domain";
    }
    AuthOutcome out;
    out.header = render_authentication_results(conn->settings.authserv_id, v);
    out.verdicts = std::move(v);
    auto cb = std::move(done);
    done = nullptr;
    cb(std::move(out));
  }

  // Starts the next hashing job, if none runs: the queued bytes and, once end_of_data came,
  // end_of_message in the same job (one thread hop for a small message).
  void pump() {
    const bool eom = eom_wanted && !eom_sent;
    if (hashing || (queued.empty() && !eom)) return;
    eom_sent = eom;
    hashing = true;
    auto bytes = std::make_shared<std::string>(std::move(queued));
    queued.clear();
    auto header_done = std::make_shared<bool>(false);
    std::weak_ptr<Txn> weak = weak_from_this();
    auto work = [verifier = dkim, bytes, header_done, eom] {
      // At most one of the two completes the header block.
      *header_done = !bytes->empty() && verifier->feed(*bytes);
      if (eom && verifier->end_of_message()) *header_done = true;
    };
    auto then = [weak, header_done, eom] {
      auto self = weak.lock();
      if (!self) return;  // the transaction or the connection is gone
      self->hashing = false;
      // The key lookups start the moment the header block is complete (DNS on the loop).
      if (*header_done) self->start_keys();
      if (eom) {
        self->ended = true;
        self->maybe_finish();
      } else {
        self->pump();
      }
    };
    if (conn->settings.offload && bytes->size() >= conn->settings.offload_min_bytes) {
      conn->settings.offload(std::move(work), std::move(then));
    } else {
      work();
      then();
    }
  }

  void start_keys() {
    keys_started = true;
    start(dkim);
  }

  void give_up() {
    given_up = true;
    if (conn->iprev && !conn->iprev_done) {
      abandon(*conn->iprev);
      conn->iprev_done = true;
    }
    // The verifier only once the loop may touch its key table (start_keys abandons it
    // itself when it comes after the deadline).
    for (auto& c : std::initializer_list<std::shared_ptr<Check>>{spf, spf_helo,
                                                                keys_started ? dkim : nullptr}) {
      if (c) abandon(*c);
    }
    pending = 0;
    auto self = shared_from_this();  // a waiter may start a new transaction
    wake_spf_waiters();
    if (!ended) return;  // DATA not finished: end_of_data completes at once later
    if (!dmarc) maybe_finish();
    if (dmarc && !dmarc->done()) abandon(*dmarc);
    report();
  }
};

InboundAuth::InboundAuth(Resolver& resolver, PublicSuffixList psl, InboundSettings settings,
                         std::function<int64_t()> now, std::function<uint32_t()> sample)
    : conn_(std::make_shared<Conn>()) {
  conn_->resolver = &resolver;
  conn_->psl = std::move(psl);
  conn_->settings = std::move(settings);
  conn_->now = std::move(now);
  conn_->sample = std::move(sample);
}

InboundAuth::~InboundAuth() = default;

void InboundAuth::connected(const IpAddress& client, std::string receiver_host) {
  conn_->client = client;
  conn_->receiver = std::move(receiver_host);
  conn_->iprev = std::make_shared<IprevCheck>(client);
  conn_->iprev_done = false;
  std::weak_ptr<Conn> weak = conn_;
  drive(*conn_->resolver, conn_->iprev, [weak] {
    auto c = weak.lock();
    if (!c) return;
    c->iprev_done = true;
    if (auto cb = std::move(c->on_iprev)) cb();
  });
}

void InboundAuth::mail_from(std::string helo, std::string reverse_path) {
  txn_ = std::make_shared<Txn>();
  txn_->conn = conn_;
  conn_->on_iprev = nullptr;
  SpfRequest req;
  req.ip = conn_->client;
  req.helo = std::move(helo);
  req.mail_from = std::move(reverse_path);
  req.receiver = conn_->receiver;
  req.now = conn_->now ? conn_->now() : 0;
  txn_->dkim = std::make_shared<DkimVerifier>(
      DkimOptions{req.now, conn_->settings.max_header_bytes, conn_->settings.dkim_keys});
  if (conn_->settings.check_helo) {
    txn_->spf_helo = std::make_shared<SpfCheck>(req, SpfIdentity::helo);
    txn_->start(txn_->spf_helo);
  }
  txn_->spf = std::make_shared<SpfCheck>(req, SpfIdentity::mailfrom);
  txn_->start(txn_->spf);
}

void InboundAuth::data(std::string_view bytes) {
  if (!txn_ || txn_->ended || txn_->eom_wanted || bytes.empty()) return;
  txn_->queued.append(bytes);
  auto txn = txn_;  // keeps it alive through inline completion
  txn->pump();
}

void InboundAuth::end_of_data(std::string_view last, std::function<void(AuthOutcome)> done) {
  if (txn_ && !txn_->ended && !txn_->eom_wanted) txn_->queued.append(last);
  end_of_data(std::move(done));
}

std::optional<SpfVerdict> InboundAuth::mail_from_spf() const {
  if (!txn_ || !txn_->spf || !txn_->spf->done()) return std::nullopt;
  return txn_->spf->verdict();
}

void InboundAuth::when_mail_from_spf(std::function<void()> fn) {
  if (!txn_ || !txn_->spf || txn_->spf->done()) return fn();
  txn_->spf_waiters.push_back(std::move(fn));
}

void InboundAuth::end_of_data(std::function<void(AuthOutcome)> done) {
  if (!txn_) {
    done(AuthOutcome{{}, render_authentication_results(conn_->settings.authserv_id, {})});
    return;
  }
  auto txn = txn_;  // keeps it alive through synchronous completion
  if (txn->ended || txn->eom_wanted) {  // a second end_of_data for one transaction
    txn->done = std::move(done);
    txn->maybe_finish();
    return;
  }
  txn->done = std::move(done);
  txn->eom_wanted = true;
  txn->pump();
}

}  // namespace tern::authn

namespace tern::authn {

void InboundAuth::give_up() {
  if (txn_) {
    auto txn = txn_;
    txn->give_up();
  } else if (conn_->iprev && !conn_->iprev_done) {
    abandon(*conn_->iprev);
    conn_->iprev_done = true;
  }
}

}  // namespace tern::authn
