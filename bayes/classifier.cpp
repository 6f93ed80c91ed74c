// The database behind bayes::Classifier (bayes.h): schema, training, lookup, bounds.
#include <algorithm>
#include <cmath>

#include "bayes/bayes.h"
#include "bayes/combine.h"
#include "bayes/tokenizer.h"
#include "sqlite/sqlite.h"

namespace tern::bayes {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS users(
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
  spam INTEGER NOT NULL DEFAULT 0, ham INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS tokens(
  user INTEGER NOT NULL, hash INTEGER NOT NULL,
  spam INTEGER NOT NULL, ham INTEGER NOT NULL, day INTEGER NOT NULL,
  PRIMARY KEY(user, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trained(
  user INTEGER NOT NULL, digest INTEGER NOT NULL, class INTEGER NOT NULL, day INTEGER NOT NULL,
  PRIMARY KEY(user, digest)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS correspondents(
  user INTEGER NOT NULL, address TEXT NOT NULL, day INTEGER NOT NULL,
  PRIMARY KEY(user, address)) WITHOUT ROWID;
)sql";

int64_t as_int(uint64_t h) { return static_cast<int64_t>(h); }  // SQLite keeps signed 64

// Adds `delta` (+1 or -1) to each token's count for class `c`; rows left at zero go.
void count_tokens(sqlite::Connection& db, int64_t uid, const std::vector<std::string>& tokens, Class c,
                  int delta, int64_t day) {
  int64_t spam = c == Class::spam ? delta : 0, ham = c == Class::ham ? delta : 0;
  auto up = db.prepare(
      "INSERT INTO tokens(user, hash, spam, ham, day) VALUES(?1, ?2, max(?3, 0), max(?4, 0), ?5) "
      "ON CONFLICT(user, hash) DO UPDATE SET spam = max(spam + ?3, 0), ham = max(ham + ?4, 0), "
      "day = max(day, ?5)");
  for (const auto& t : tokens) {
    up.bind(uid).bind(as_int(token_hash(t))).bind(spam).bind(ham).bind(day).run();
    up.reset();
  }
  if (delta < 0) db.prepare("DELETE FROM tokens WHERE user = ?1 AND spam = 0 AND ham = 0").bind(uid).run();
}

// Keeps at most `max` rows of `table` for the user: the least recently seen (then, for
// tokens, the least used) go first, down to 90 % so pruning is not needed at every message.
void bound_rows(sqlite::Connection& db, const char* table, const char* order, int64_t uid, int64_t max) {
  std::string count_sql = std::string("SELECT count(*) FROM ") + table + " WHERE user = ?1";
  int64_t n = db.prepare(count_sql).bind(uid).step_value();
  if (n <= max) return;
  int64_t drop = n - max * 9 / 10;
  std::string key = std::string(table) == "tokens" ? "hash" : std::string(table) == "trained" ? "digest" : "address";
  std::string sql = std::string("DELETE FROM ") + table + " WHERE user = ?1 AND " + key + " IN (SELECT " + key +
                    " FROM " + table + " WHERE user = ?1 ORDER BY " + order + " LIMIT ?2)";
  db.prepare(sql).bind(uid).bind(drop).run();
}

}  // namespace

Classifier::Classifier(std::unique_ptr<sqlite::Connection> db, const Limits& limits)
    : db_(std::move(db)), limits_(limits) {}
Classifier::~Classifier() = default;

Result<std::unique_ptr<Classifier>> Classifier::open(const std::string& path, const Limits& limits) {
  sqlite::OpenOptions o;
  o.label = "classifier.db";
  auto db = sqlite::Connection::open(path, o);
  if (!db) return db.error();
  if (Status s = (*db)->try_exec(kSchema); !s) return s.error();
  return std::unique_ptr<Classifier>(new Classifier(std::move(*db), limits));
}

Result<int64_t> Classifier::user_id(std::string_view user, bool create) {
  if (create) db_->prepare("INSERT OR IGNORE INTO users(name) VALUES(?1)").bind(user).run();
  auto q = db_->prepare("SELECT id FROM users WHERE name = ?1");
  q.bind(user);
  if (!q.step()) return make_error(Errc::not_found, "no classifier data for the user");
  return q.i64(0);
}

Result<bool> Classifier::learn(std::string_view user, std::string_view message, Class c, int64_t day) {
  std::vector<std::string> tokens = tokenize(message);
  int64_t digest = as_int(token_hash(message));
  std::lock_guard lock(mu_);
  try {
    sqlite::CheckedTransaction tx(*db_);
    int64_t uid = *user_id(user, true);
    auto prior = db_->prepare("SELECT class FROM trained WHERE user = ?1 AND digest = ?2");
    prior.bind(uid).bind(digest);
    if (prior.step()) {
      Class was = prior.i64(0) == 1 ? Class::spam : Class::ham;
      if (was == c) return false;
      // The user changed their mind: take the earlier lesson back before the new one.
      count_tokens(*db_, uid, tokens, was, -1, day);
      db_->prepare(was == Class::spam ? "UPDATE users SET spam = max(spam - 1, 0) WHERE id = ?1"
                                      : "UPDATE users SET ham = max(ham - 1, 0) WHERE id = ?1")
          .bind(uid)
          .run();
    }
    prior.reset();
    count_tokens(*db_, uid, tokens, c, +1, day);
    db_->prepare(c == Class::spam ? "UPDATE users SET spam = spam + 1 WHERE id = ?1"
                                  : "UPDATE users SET ham = ham + 1 WHERE id = ?1")
        .bind(uid)
        .run();
    db_->prepare("INSERT INTO trained(user, digest, class, day) VALUES(?1, ?2, ?3, ?4) "
                 "ON CONFLICT(user, digest) DO UPDATE SET class = ?3, day = ?4")
        .bind(uid)
        .bind(digest)
        .bind(int64_t{c == Class::spam ? 1 : 0})
        .bind(day)
        .run();
    prune(uid);
    tx.commit();
    return true;
  } catch (const Failure& f) {
    return f.error;
  }
}

void Classifier::prune(int64_t uid) {
  bound_rows(*db_, "tokens", "day ASC, spam + ham ASC", uid, limits_.max_tokens);
  bound_rows(*db_, "trained", "day ASC", uid, limits_.max_trained);
  bound_rows(*db_, "correspondents", "day ASC", uid, limits_.max_correspondents);
}

Result<std::optional<Verdict>> Classifier::classify(std::string_view user, std::string_view message) {
  std::vector<std::string> tokens = tokenize(message);
  std::lock_guard lock(mu_);
  try {
    // One read transaction: the counts and the totals come from the same snapshot.
    sqlite::CheckedTransaction tx(*db_, sqlite::Transaction::Mode::deferred);
    auto u = db_->prepare("SELECT id, spam, ham FROM users WHERE name = ?1");
    u.bind(user);
    if (!u.step()) return std::optional<Verdict>();
    int64_t uid = u.i64(0), nspam = u.i64(1), nham = u.i64(2);
    if (nspam < limits_.min_trained_each || nham < limits_.min_trained_each) return std::optional<Verdict>();

    struct Scored {
      size_t token;
      double f;
    };
    std::vector<Scored> scored;
    auto q = db_->prepare("SELECT spam, ham FROM tokens WHERE user = ?1 AND hash = ?2");
    for (size_t i = 0; i < tokens.size(); ++i) {
      q.bind(uid).bind(as_int(token_hash(tokens[i])));
      if (q.step()) {
        double f = token_probability(q.i64(0), q.i64(1), nspam, nham);
        if (std::fabs(f - 0.5) >= kMinDeviation) scored.push_back({i, f});
      }
      q.reset();
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const Scored& a, const Scored& b) { return std::fabs(a.f - 0.5) > std::fabs(b.f - 0.5); });
    if (scored.size() > kMaxClues) scored.resize(kMaxClues);
    std::vector<double> fs;
    for (const auto& s : scored) fs.push_back(s.f);
    Verdict v;
    v.spam_probability = combine(fs);
    for (size_t i = 0; i < scored.size() && i < 5; ++i) v.clues.push_back({tokens[scored[i].token], scored[i].f});
    return std::optional<Verdict>(std::move(v));
  } catch (const Failure& f) {
    return f.error;
  }
}

Status Classifier::note_correspondent(std::string_view user, std::string_view address, int64_t day) {
  std::lock_guard lock(mu_);
  try {
    sqlite::CheckedTransaction tx(*db_);
    int64_t uid = *user_id(user, true);
    db_->prepare("INSERT INTO correspondents(user, address, day) VALUES(?1, ?2, ?3) "
                 "ON CONFLICT(user, address) DO UPDATE SET day = ?3")
        .bind(uid)
        .bind(address)
        .bind(day)
        .run();
    bound_rows(*db_, "correspondents", "day ASC", uid, limits_.max_correspondents);
    tx.commit();
    return {};
  } catch (const Failure& f) {
    return f.error;
  }
}

Result<bool> Classifier::is_correspondent(std::string_view user, std::string_view address) {
  std::lock_guard lock(mu_);
  try {
    auto q = db_->prepare(
        "SELECT 1 FROM correspondents c JOIN users u ON u.id = c.user WHERE u.name = ?1 AND c.address = ?2");
    q.bind(user).bind(address);
    return q.step();
  } catch (const Failure& f) {
    return f.error;
  }
}

Result<bool> Classifier::has_correspondent_at(std::string_view user, std::string_view domain) {
  std::lock_guard lock(mu_);
  try {
    auto q = db_->prepare(
        "SELECT 1 FROM correspondents c JOIN users u ON u.id = c.user WHERE u.name = ?1 AND "
        "substr(c.address, instr(c.address, '@') + 1) = ?2 LIMIT 1");
    q.bind(user).bind(domain);
    return q.step();
  } catch (const Failure& f) {
    return f.error;
  }
}

Result<UserStats> Classifier::stats(std::string_view user) {
  std::lock_guard lock(mu_);
  try {
    UserStats s;
    auto u = db_->prepare("SELECT id, spam, ham FROM users WHERE name = ?1");
    u.bind(user);
    if (!u.step()) return s;
    int64_t uid = u.i64(0);
    s.spam_messages = u.i64(1);
    s.ham_messages = u.i64(2);
    s.tokens = db_->prepare("SELECT count(*) FROM tokens WHERE user = ?1").bind(uid).step_value();
    s.correspondents = db_->prepare("SELECT count(*) FROM correspondents WHERE user = ?1").bind(uid).step_value();
    return s;
  } catch (const Failure& f) {
    return f.error;
  }
}

Status Classifier::forget(std::string_view user) {
  std::lock_guard lock(mu_);
  try {
    sqlite::CheckedTransaction tx(*db_);
    auto id = user_id(user, false);
    if (!id) return {};
    for (const char* t : {"tokens", "trained", "correspondents"})
      db_->prepare(std::string("DELETE FROM ") + t + " WHERE user = ?1").bind(*id).run();
    db_->prepare("DELETE FROM users WHERE id = ?1").bind(*id).run();
    tx.commit();
    return {};
  } catch (const Failure& f) {
    return f.error;
  }
}

}  // namespace tern::bayes
