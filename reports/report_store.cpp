// The report rows' database (see reports/report_store.h).
#include "reports/report_store.h"

#include <algorithm>
#include <map>

#include "common/strings.h"
#include "sqlite/sqlite.h"

namespace tern::reports {

namespace {

std::string join_lines(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : "\n") + s;
  return out;
}

}  // namespace

int64_t report_cutoff(int64_t now, int send_hour, int64_t last_send_day, bool requested) {
  const int64_t today = now / kDay;
  if (requested) return today + 1;
  if ((now % kDay) / 3600 >= send_hour && last_send_day < today) return today;
  return 0;
}

int64_t DomainReport::messages() const {
  int64_t n = 0;
  for (const auto& r : rows) n += r.count;
  return n;
}

Result<std::unique_ptr<ReportStore>> ReportStore::open(const std::string& path, int64_t max_rows) {
  sqlite::OpenOptions opt;
  opt.label = "dmarc_reports.db";
  opt.wal_full_sync = false;
  auto db = sqlite::Connection::open(path, opt);
  if (!db) return db.error();
  // synchronous=NORMAL: a commit does not wait for an fsync (the WAL is synced at checkpoints);
  // a power cut may lose the last rows, which only makes a report count a few messages less.
  auto st = (*db)->try_exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
      "CREATE TABLE IF NOT EXISTS records(domain TEXT NOT NULL, day INTEGER NOT NULL,"
      " source_ip TEXT NOT NULL, disposition TEXT NOT NULL, dkim TEXT NOT NULL, spf TEXT NOT NULL,"
      " reason TEXT NOT NULL, envelope_to TEXT NOT NULL, envelope_from TEXT NOT NULL,"
      " header_from TEXT NOT NULL, auth TEXT NOT NULL, count INTEGER NOT NULL,"
      " UNIQUE(domain, day, source_ip, disposition, dkim, spf, reason, envelope_to,"
      " envelope_from, header_from, auth));"
      "CREATE TABLE IF NOT EXISTS policy(domain TEXT PRIMARY KEY, adkim TEXT NOT NULL,"
      " aspf TEXT NOT NULL, p TEXT NOT NULL, sp TEXT NOT NULL, np TEXT NOT NULL,"
      " pct INTEGER NOT NULL, fo TEXT NOT NULL, rua TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);");
  if (!st) return st.error();
  return std::unique_ptr<ReportStore>(new ReportStore(std::move(*db), max_rows));
}

ReportStore::ReportStore(std::unique_ptr<sqlite::Connection> db, int64_t max_rows)
    : db_(std::move(db)), max_rows_(max_rows) {}

ReportStore::~ReportStore() = default;

Result<std::vector<std::string>> ReportStore::add(const std::vector<Aggregator::Entry>& batch,
                                                  int64_t day) {
  std::lock_guard lock(mu_);
  try {
    std::vector<std::string> dropped;
    std::map<std::string, int64_t> rows_of;  // distinct rows per domain that day
    sqlite::CheckedTransaction txn(*db_);
    for (const auto& e : batch) {
      const Row& r = e.row;
      const std::string auth = encode_auth(r);
      db_->prepare(
             "UPDATE records SET count=count+?1 WHERE domain=?2 AND day=?3 AND source_ip=?4 AND"
             " disposition=?5 AND dkim=?6 AND spf=?7 AND reason=?8 AND envelope_to=?9 AND"
             " envelope_from=?10 AND header_from=?11 AND auth=?12")
          .bind(e.count).bind(e.policy.domain).bind(day).bind(r.source_ip).bind(r.disposition)
          .bind(r.dkim).bind(r.spf).bind(r.reason).bind(r.envelope_to).bind(r.envelope_from)
          .bind(r.header_from).bind(auth)
          .run();
      if (db_->changes() == 0) {
        auto it = rows_of.find(e.policy.domain);
        if (it == rows_of.end()) {
          auto q = db_->prepare("SELECT count(*) FROM records WHERE domain=?1 AND day=?2");
          q.bind(e.policy.domain).bind(day);
          it = rows_of.emplace(e.policy.domain, q.step_value()).first;
        }
        if (it->second >= max_rows_) {
          if (dropped.empty() || dropped.back() != e.policy.domain) dropped.push_back(e.policy.domain);
          continue;
        }
        ++it->second;
        db_->prepare(
               "INSERT INTO records(domain, day, source_ip, disposition, dkim, spf, reason,"
               " envelope_to, envelope_from, header_from, auth, count)"
               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")
            .bind(e.policy.domain).bind(day).bind(r.source_ip).bind(r.disposition).bind(r.dkim)
            .bind(r.spf).bind(r.reason).bind(r.envelope_to).bind(r.envelope_from)
            .bind(r.header_from).bind(auth).bind(e.count)
            .run();
      }
      const PublishedPolicy& p = e.policy;
      db_->prepare(
             "INSERT INTO policy(domain, adkim, aspf, p, sp, np, pct, fo, rua)"
             " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT(domain) DO UPDATE SET"
             " adkim=excluded.adkim, aspf=excluded.aspf, p=excluded.p, sp=excluded.sp,"
             " np=excluded.np, pct=excluded.pct, fo=excluded.fo, rua=excluded.rua")
          .bind(p.domain).bind(p.adkim).bind(p.aspf).bind(p.p).bind(p.sp).bind(p.np)
          .bind(int64_t{p.pct}).bind(p.fo).bind(join_lines(p.rua))
          .run();
    }
    txn.commit();
    return dropped;
  } catch (const Failure& f) {
    return f.error;
  }
}

Result<std::vector<DomainReport>> ReportStore::pending(int64_t before_day) {
  std::lock_guard lock(mu_);
  try {
    std::vector<DomainReport> out;
    sqlite::CheckedTransaction txn(*db_, sqlite::Transaction::Mode::deferred);
    auto q = db_->prepare(
        "SELECT r.domain, r.day, r.source_ip, r.disposition, r.dkim, r.spf, r.reason,"
        " r.envelope_to, r.envelope_from, r.header_from, r.auth, r.count,"
        " p.adkim, p.aspf, p.p, p.sp, p.np, p.pct, p.fo, p.rua"
        " FROM records r JOIN policy p ON p.domain = r.domain WHERE r.day < ?1"
        " ORDER BY r.domain, r.source_ip, r.rowid");
    q.bind(before_day);
    // Rows of several days merge: the report covers first_day..last_day.
    std::map<std::pair<std::string, Row>, size_t> index;
    while (q.step()) {
      std::string domain = q.text(0);
      if (out.empty() || out.back().policy.domain != domain) {
        DomainReport d;
        d.policy.domain = domain;
        d.policy.adkim = q.text(12);
        d.policy.aspf = q.text(13);
        d.policy.p = q.text(14);
        d.policy.sp = q.text(15);
        d.policy.np = q.text(16);
        d.policy.pct = static_cast<int>(q.i64(17));
        d.policy.fo = q.text(18);
        const std::string rua = q.text(19);
        for (auto u : split(rua, '\n'))
          if (!u.empty()) d.policy.rua.emplace_back(u);
        d.first_day = d.last_day = q.i64(1);
        out.push_back(std::move(d));
      }
      DomainReport& d = out.back();
      d.first_day = std::min(d.first_day, q.i64(1));
      d.last_day = std::max(d.last_day, q.i64(1));
      Row r;
      r.source_ip = q.text(2);
      r.disposition = q.text(3);
      r.dkim = q.text(4);
      r.spf = q.text(5);
      r.reason = q.text(6);
      r.envelope_to = q.text(7);
      r.envelope_from = q.text(8);
      r.header_from = q.text(9);
      decode_auth(q.text(10), r);
      auto [it, fresh] = index.emplace(std::pair{domain, r}, d.rows.size());
      if (fresh) d.rows.push_back({std::move(r), q.i64(11)});
      else d.rows[it->second].count += q.i64(11);
    }
    return out;
  } catch (const Failure& f) {
    return f.error;
  }
}

Status ReportStore::remove(const std::string& domain, int64_t before_day) {
  std::lock_guard lock(mu_);
  try {
    db_->prepare("DELETE FROM records WHERE domain=?1 AND day<?2").bind(domain).bind(before_day).run();
    return {};
  } catch (const Failure& f) {
    return f.error;
  }
}

Result<int64_t> ReportStore::meta(std::string_view key) {
  std::lock_guard lock(mu_);
  try {
    return db_->prepare("SELECT value FROM meta WHERE key=?1").bind(key).step_value();
  } catch (const Failure& f) {
    return f.error;
  }
}

Status ReportStore::set_meta(std::string_view key, int64_t value) {
  std::lock_guard lock(mu_);
  try {
    db_->prepare("INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET"
                 " value=excluded.value")
        .bind(key).bind(value).run();
    return {};
  } catch (const Failure& f) {
    return f.error;
  }
}

Result<int64_t> ReportStore::next(std::string_view key) {
  std::lock_guard lock(mu_);
  try {
    sqlite::CheckedTransaction txn(*db_);
    db_->prepare("INSERT INTO meta(key, value) VALUES(?1, 1) ON CONFLICT(key) DO UPDATE SET"
                 " value=value+1")
        .bind(key).run();
    int64_t v = db_->prepare("SELECT value FROM meta WHERE key=?1").bind(key).step_value();
    txn.commit();
    return v;
  } catch (const Failure& f) {
    return f.error;
  }
}

}  // namespace tern::reports
