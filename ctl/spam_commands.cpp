// ternctl spam explain|set|show: why a stored message got its spam verdict, and the per-user
// thresholds (stored in the account db's user_settings; ternd reads them for every message).
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "bayes/bayes.h"
#include "common/strings.h"
#include "ctl/commands.h"
#include "spam/spam.h"

namespace tern::ctl {

namespace {

constexpr const char* kJunkKey = spam::kUserJunkThreshold;
constexpr const char* kRejectKey = spam::kUserRejectThreshold;
constexpr auto number = spam::parse_threshold;

std::string shown(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// The thresholds that apply to `user`: ternd.toml's, then the user's overrides.
Result<std::pair<spam::Thresholds, std::map<std::string, std::string>>> effective(Context& c,
                                                                             const std::string& user) {
  auto cfg = c.config();
  if (!cfg) return cfg.error();
  auto db = c.accounts();
  if (!db) return db.error();
  auto found = (*db)->find_user(user);
  if (!found) return found.error();
  if (!*found) return make_error(Errc::not_found, "no such user " + user);
  auto settings = (*db)->user_settings(user);
  if (!settings) return settings.error();
  spam::Thresholds t = spam::with_overrides(
      {(*cfg)->spam.junk_threshold, (*cfg)->spam.reject_threshold}, *settings);
  return std::make_pair(t, *settings);
}

}  // namespace

void register_spam_commands(CLI::App& app, Context& ctx) {
  CLI::App* spam = app.add_subcommand("spam", "spam scores: explain a verdict, per-user thresholds");
  spam->require_subcommand(1);
  auto user = std::make_shared<std::string>();
  auto mailbox = std::make_shared<std::string>();
  auto uid = std::make_shared<uint32_t>(0);
  auto junk = std::make_shared<std::string>();
  auto reject = std::make_shared<std::string>();

  CLI::App* explain = spam->add_subcommand(
      "explain", "print the score breakdown of a stored message (its X-Spam-* fields)");
  explain->add_option("USER", *user, "user@domain")->required();
  explain->add_option("MAILBOX", *mailbox, "mailbox name, e.g. INBOX or Junk")->required();
  explain->add_option("UID", *uid, "the message's IMAP UID")->required();
  explain->callback([&ctx, user, mailbox, uid] {
    ctx.action = [user, mailbox, uid](Context& c) {
      auto store = c.store();
      if (!store) return fail(store.error());
      auto bytes = (*store)->read_message(*user, *mailbox, *uid);
      if (!bytes) return fail(bytes.error());
      auto e = spam::parse_headers(*bytes);
      if (!e) return fail("message " + std::to_string(*uid) + " in " + *mailbox +
                          " has no X-Spam-Status field (not received on the MX listener with "
                          "spam scoring on)");
      std::cout << spam::format_explanation(*e);
      return kExitOk;
    };
  });

  CLI::App* set = spam->add_subcommand(
      "set", "set a user's thresholds (\"default\" goes back to ternd.toml's)");
  set->add_option("USER", *user, "user@domain")->required();
  set->add_option("--junk", *junk, "score from which mail goes to Junk");
  set->add_option("--reject", *reject, "score from which mail is refused at the end of DATA");
  set->callback([&ctx, user, junk, reject] {
    ctx.action = [user, junk, reject](Context& c) {
      if (junk->empty() && reject->empty()) return fail("nothing to set: give --junk and/or --reject");
      for (const auto* v : {junk.get(), reject.get()})
        if (!v->empty() && *v != "default" && !number(*v))
          return fail("bad threshold \"" + *v + "\": expected a number or \"default\"");
      auto now = effective(c, *user);
      if (!now) return fail(now.error());
      auto cfg = c.config();
      spam::Thresholds t = now->first;
      if (!junk->empty()) t.junk = *junk == "default" ? (*cfg)->spam.junk_threshold : *number(*junk);
      if (!reject->empty())
        t.reject = *reject == "default" ? (*cfg)->spam.reject_threshold : *number(*reject);
      if (t.reject < t.junk)
        return fail("the reject threshold (" + shown(t.reject) + ") would be below the junk threshold (" +
                    shown(t.junk) + ")");
      auto db = c.accounts();
      for (auto [key, v] : {std::pair{kJunkKey, junk.get()}, {kRejectKey, reject.get()}}) {
        if (v->empty()) continue;
        if (Status s = (*db)->set_user_setting(*user, key, *v == "default" ? "" : *v); !s.ok())
          return fail(s.error());
      }
      return kExitOk;
    };
  });

  CLI::App* show = spam->add_subcommand("show", "print the thresholds that apply to a user and what their classifier has learnt");
  show->add_option("USER", *user, "user@domain")->required();
  show->callback([&ctx, user] {
    ctx.action = [user](Context& c) {
      auto now = effective(c, *user);
      if (!now) return fail(now.error());
      auto origin = [&](const char* key) {
        return now->second.count(key) ? "user" : "ternd.toml";
      };
      std::cout << "junk\t" << shown(now->first.junk) << "\t" << origin(kJunkKey) << "\n"
                << "reject\t" << shown(now->first.reject) << "\t" << origin(kRejectKey) << "\n";
      // What the user's own classifier has learnt (ternd keeps it in data_dir; WAL lets us
      // read it while ternd runs).
      auto cfg = c.config();
      if (!cfg) return fail(cfg.error());
      auto classifier = bayes::Classifier::open((*cfg)->data_dir + "/classifier.db");
      if (!classifier) return fail(classifier.error());
      auto stats = (*classifier)->stats(ascii_lower(*user));
      if (!stats) return fail(stats.error());
      std::cout << "trained\t" << stats->spam_messages << " spam\t" << stats->ham_messages << " ham\n"
                << "tokens\t" << stats->tokens << "\n"
                << "correspondents\t" << stats->correspondents << "\n";
      return kExitOk;
    };
  });
}

}  // namespace tern::ctl
