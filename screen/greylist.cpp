// Greylisting (see screen/greylist.h).
#include "screen/greylist.h"

#include <algorithm>

#include "sqlite/sqlite.h"

namespace tern::screen {

namespace {
// check() trims the table every this many calls.
constexpr uint64_t kExpireEvery = 500;
}  // namespace

std::string greylist_net(const authn::IpAddress& ip) {
  authn::IpAddress net = ip;
  if (!ip.v6) {
    net.bytes[3] = 0;
    return net.str() + "/24";
  }
  std::fill(net.bytes.begin() + 8, net.bytes.end(), 0);
  return net.str() + "/64";
}

const char* to_string(GreyDecision::Reason r) {
  switch (r) {
    case GreyDecision::first_attempt: return "first-attempt";
    case GreyDecision::too_early: return "too-early";
    case GreyDecision::retried: return "retried";
    case GreyDecision::known: return "known";
  }
  return "?";
}

GreyDecision decide(const std::optional<GreyRow>& row, int64_t now, const GreylistSettings& s) {
  GreyDecision d;
  const bool fresh = !row || (row->passed && now - row->last_seen > s.pass_ttl) ||
                     (!row->passed && now - row->first_seen > s.retry_window);
  if (fresh) {
    // RFC 6647 §2.1: a triplet not seen (or long forgotten) is deferred once.
    d.reason = GreyDecision::first_attempt;
    d.row = GreyRow{now, now, false};
    d.wait = s.delay;
    return d;
  }
  d.row = *row;
  d.row.last_seen = now;
  if (row->passed) {
    d.reason = GreyDecision::known;
    d.pass = true;
    return d;
  }
  const int64_t age = now - row->first_seen;
  if (age < s.delay) {
    d.reason = GreyDecision::too_early;
    d.wait = s.delay - age;
    return d;
  }
  // RFC 6647 §2.2: a retry after the delay is what a real MTA does: from now on it passes.
  d.reason = GreyDecision::retried;
  d.pass = true;
  d.row.passed = true;
  return d;
}

Result<std::unique_ptr<Greylist>> Greylist::open(const std::string& path, GreylistSettings settings) {
  sqlite::OpenOptions opt;
  opt.label = "greylist.db";
  opt.wal_full_sync = false;
  auto db = sqlite::Connection::open(path, opt);
  if (!db) return db.error();
  // Losing the last rows in a power cut costs one more 451: no fsync per RCPT.
  auto st = (*db)->try_exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
      "CREATE TABLE IF NOT EXISTS triplet(net TEXT NOT NULL, sender TEXT NOT NULL,"
      " rcpt TEXT NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
      " passed INTEGER NOT NULL, PRIMARY KEY(net, sender, rcpt)) WITHOUT ROWID;"
      "CREATE INDEX IF NOT EXISTS triplet_last ON triplet(last_seen);");
  if (!st) return st.error();
  return std::unique_ptr<Greylist>(new Greylist(std::move(*db), settings));
}

Greylist::Greylist(std::unique_ptr<sqlite::Connection> db, GreylistSettings s)
    : db_(std::move(db)), settings_(s) {}

Greylist::~Greylist() = default;

Result<GreyDecision> Greylist::check(const Triplet& t, int64_t now) {
  std::lock_guard lock(mu_);
  try {
    std::optional<GreyRow> row;
    {
      auto q = db_->prepare(
          "SELECT first_seen, last_seen, passed FROM triplet WHERE net=?1 AND sender=?2 AND rcpt=?3");
      q.bind(t.net).bind(t.sender).bind(t.rcpt);
      if (q.step()) row = GreyRow{q.i64(0), q.i64(1), q.i64(2) != 0};
    }
    GreyDecision d = decide(row, now, settings_);
    db_->prepare(
           "INSERT INTO triplet(net, sender, rcpt, first_seen, last_seen, passed)"
           " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(net, sender, rcpt) DO UPDATE SET"
           " first_seen=excluded.first_seen, last_seen=excluded.last_seen, passed=excluded.passed")
        .bind(t.net).bind(t.sender).bind(t.rcpt)
        .bind(d.row.first_seen).bind(d.row.last_seen).bind(int64_t{d.row.passed})
        .run();
    if (++calls_ % kExpireEvery == 0) expire_locked(now);
    return d;
  } catch (const Failure& f) {
    return f.error;
  }
}

Status Greylist::expire(int64_t now) {
  std::lock_guard lock(mu_);
  try {
    expire_locked(now);
    return {};
  } catch (const Failure& f) {
    return f.error;
  }
}

void Greylist::expire_locked(int64_t now) {
  const auto& s = settings_;
  db_->prepare("DELETE FROM triplet WHERE (passed=1 AND last_seen<?1) OR (passed=0 AND first_seen<?2)")
      .bind(now - s.pass_ttl).bind(now - s.retry_window).run();
  // Over the cap (a flood of fresh triplets): the least recently used rows go.
  int64_t n = db_->prepare("SELECT count(*) FROM triplet").step_value();
  if (n <= s.max_entries) return;
  db_->prepare("DELETE FROM triplet WHERE (net, sender, rcpt) IN (SELECT net, sender, rcpt FROM "
               "triplet ORDER BY last_seen LIMIT ?1)")
      .bind(n - s.max_entries)
      .run();
}

int64_t Greylist::rows() {
  std::lock_guard lock(mu_);
  return db_->prepare("SELECT count(*) FROM triplet").step_value();
}

}  // namespace tern::screen
