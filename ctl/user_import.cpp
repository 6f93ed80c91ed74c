// ternctl user import FILE [--domain D] [--update] [--quota BYTES]: users and their password
// hashes from a Dovecot passwd-file ("user:{SCHEME}hash:uid:gid:gecos:home:shell:extra";
// only the first two fields are read). Each line stands alone: a bad or refused line is
// reported and skipped, the others are imported. Output: one "skipped" line per problem
// (line number, user, reason; never the hash), then a summary line. Exit 1 when any line
// could not be imported (existing users skipped without --update do not count).
#include <fstream>
#include <iostream>

#include "auth/password_schemes.h"
#include "ctl/commands.h"

namespace tern::ctl {

namespace {

struct ImportOptions {
  std::string file;
  std::string domain;
  std::string quota;
  bool update = false;
};

struct Tally {
  int imported = 0, updated = 0, existing = 0, failed = 0;
};

int run_import(const ImportOptions& o, Context& c) {
  // Read the file before Context drops root for the service user (the file is usually
  // readable by root only: it holds password hashes).
  std::ifstream in(o.file);
  if (!in) return fail("cannot read " + o.file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  if (in.bad()) return fail("cannot read " + o.file);

  auto cfg = c.config();
  if (!cfg) return fail(cfg.error());
  uint64_t quota = (*cfg)->store.default_quota;
  if (!o.quota.empty()) {
    auto q = parse_size(o.quota);
    if (!q) return fail("bad quota \"" + o.quota + "\": expected a number of bytes");
    quota = *q;
  }
  std::string domain;
  if (!o.domain.empty()) {
    auto d = auth::canonical_domain(o.domain);
    if (!d) return fail("bad domain \"" + o.domain + "\"");
    domain = *d;
  }
  auto db = c.accounts();
  if (!db) return fail(db.error());

  Tally t;
  auto skip = [&](size_t n, std::string_view user, std::string_view why) {
    std::cout << "skipped line " << n << (user.empty() ? "" : " ") << user << ": " << why << '\n';
    ++t.failed;
  };
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t n = i + 1;
    auto entry = auth::parse_passwd_line(lines[i]);
    if (!entry) {
      if (entry.error().code != Errc::not_found) skip(n, "", entry.error().message);
      continue;
    }
    std::string user = entry->user;
    if (user.find('@') == std::string::npos) {
      if (domain.empty()) {
        skip(n, user, "not a full address (give --domain)");
        continue;
      }
      user += "@" + domain;
    }
    auto canonical = auth::canonical_address(user);
    if (!canonical) {
      skip(n, user, "bad address");
      continue;
    }
    auto found = (*db)->find_user(*canonical);
    if (!found) return fail(found.error());
    if (*found && !o.update) {
      std::cout << "exists line " << n << " " << *canonical << ": kept (use --update to replace its password)\n";
      ++t.existing;
      continue;
    }
    Status s = *found ? (*db)->set_password_hash(*canonical, entry->password)
                      : (*db)->add_user_with_hash(*canonical, entry->password, quota);
    if (!s.ok()) {
      // A busy or broken database is not a per-line problem: stop with what is done so far.
      if (s.error().code == Errc::temporary || s.error().code == Errc::internal) return fail(s.error());
      skip(n, *canonical, s.error().message);
      continue;
    }
    ++(*found ? t.updated : t.imported);
  }
  std::cout << "imported " << t.imported << ", updated " << t.updated << ", existing " << t.existing
            << ", skipped " << t.failed << '\n';
  if (t.failed > 0) return fail(std::to_string(t.failed) + " line(s) of " + o.file + " not imported");
  return kExitOk;
}

}  // namespace

void register_user_import(CLI::App& user, Context& ctx) {
  auto o = std::make_shared<ImportOptions>();
  CLI::App* imp = user.add_subcommand(
      "import", "add users with their password hashes from a Dovecot passwd-file (user:{SCHEME}hash:...)");
  imp->add_option("FILE", o->file, "the passwd-file")->required();
  imp->add_option("--domain", o->domain, "domain for user names without '@'");
  imp->add_option("--quota", o->quota, "quota of new users (K/M/G suffixes); default: store.default_quota");
  imp->add_flag("--update", o->update, "replace the password of users that exist already");
  imp->callback([&ctx, o] { ctx.action = [o](Context& c) { return run_import(*o, c); }; });
}

}  // namespace tern::ctl
