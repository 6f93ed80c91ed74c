// ternctl reindex [ADDRESS]: reconcile Maildir files with the index (store::Store::reindex_report).
// Files without index rows are indexed (keeping the UID in their name), rows without files are
// dropped; with index.db deleted, the index is rebuilt with every UID and UIDVALIDITY kept. A
// Dovecot Maildir copied over a user's directory is adopted (UIDs, keywords, subscriptions).
// Prints one line per folder where something happened. Then rebuilds the full-text index of
// those folders (data_dir/fts.db, issue 18) and says how many messages it holds.
// ternctl server-metadata list | set NAME VALUE | unset NAME: the server's /shared IMAP
// METADATA entries (RFC 5464 §6.2.1, e.g. /shared/admin, /shared/comment), which every user
// reads and only the administrator sets.
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ctl/commands.h"

namespace tern::ctl {
namespace {

// One line per folder where something happened, e.g. "alice@example.test INBOX: 120 adopted
// with Dovecot UIDs, 3 new UIDs, uidvalidity 1700000000 kept; 1 keyword unknown".
void print_report(const store::ReindexReport& report) {
  for (const auto& f : report.folders) {
    std::vector<std::string> parts;
    if (f.adopted || f.dovecot) parts.push_back(std::to_string(f.adopted) + " adopted with Dovecot UIDs");
    if (f.kept) parts.push_back(std::to_string(f.kept) + " indexed with their own UIDs");
    if (f.new_uids) parts.push_back(std::to_string(f.new_uids) + " new UIDs");
    if (f.dropped) parts.push_back(std::to_string(f.dropped) + " dropped (file missing)");
    if (parts.empty() && f.problems.empty() && !f.unknown_keywords) continue;
    std::string line = f.user + " " + f.mailbox + ": ";
    for (size_t i = 0; i < parts.size(); ++i) line += (i ? ", " : "") + parts[i];
    if (f.dovecot)
      line += ", uidvalidity " + std::to_string(f.uidvalidity) + " kept, uidnext " +
              std::to_string(f.uidnext);
    if (f.unknown_keywords)
      line += "; " + std::to_string(f.unknown_keywords) + " keyword" +
              (f.unknown_keywords == 1 ? "" : "s") + " unknown";
    std::cout << line << "\n";
    for (const auto& p : f.problems) std::cout << "  " << f.mailbox << ": " << p << "\n";
  }
  for (const auto& n : report.notes) std::cout << n << "\n";
}

}  // namespace

void register_store_commands(CLI::App& app, Context& ctx) {
  auto address = std::make_shared<std::string>();
  CLI::App* reindex = app.add_subcommand(
      "reindex", "reconcile Maildir files and the index, for one user or all users");
  reindex->add_option("ADDRESS", *address, "user@domain (default: every user)");
  reindex->callback([&ctx, address] {
    ctx.action = [address](Context& c) {
      auto store = c.store();
      if (!store) return fail(store.error());
      std::optional<std::string> user;
      if (!address->empty()) {
        auto canonical = auth::canonical_address(*address);
        if (!canonical) return fail("not an address: " + *address);
        user = *canonical;
      }
      auto report = user ? (*store)->reindex_report(std::string_view(*user))
                         : (*store)->reindex_report();
      if (!report.ok()) return fail(report.error());
      print_report(*report);
      // Issue 18: the full-text index (data_dir/fts.db) made again from the messages.
      auto indexed = user ? (*store)->fts_rebuild(std::string_view(*user)) : (*store)->fts_rebuild();
      if (!indexed.ok() && indexed.error().cause == Cause::no_space) {
        // The mail index is done; the full-text index is derived (SEARCH reads what it lacks),
        // and a running ternd fills it once there is room (issue 20: mail comes first).
        std::cerr << "ternctl: full-text index not rebuilt, the disk is full (" << indexed.error().message
                  << "); ternd fills it when there is room\n";
        return kExitOk;
      }
      if (!indexed.ok()) return fail(indexed.error());
      std::cout << "full-text index: " << *indexed << " messages\n";
      return kExitOk;
    };
  });

  CLI::App* meta = app.add_subcommand("server-metadata", "the server's /shared IMAP METADATA entries");
  meta->require_subcommand(1);
  auto name = std::make_shared<std::string>();
  auto value = std::make_shared<std::string>();
  meta->add_subcommand("list", "print every entry")->callback([&ctx] {
    ctx.action = [](Context& c) {
      auto store = c.store();
      if (!store) return fail(store.error());
      auto entries = (*store)->get_metadata("", "", {"/shared"}, -1);
      if (!entries) return fail(entries.error());
      for (const auto& e : *entries) std::cout << e.name << "\t" << e.value << "\n";
      return kExitOk;
    };
  });
  auto change = [&ctx, name, value](bool set) {
    ctx.action = [name, value, set](Context& c) {
      if (name->rfind("/shared/", 0) != 0 || name->back() == '/' || name->find_first_of("*% ") != std::string::npos)
        return fail("not a /shared entry name: " + *name);
      auto store = c.store();
      if (!store) return fail(store.error());
      std::optional<std::string> v;
      if (set) v = *value;
      Status s = (*store)->set_metadata("", "", {{*name, v}}, 0);
      if (!s) return fail(s.error());
      return kExitOk;
    };
  };
  CLI::App* set = meta->add_subcommand("set", "set an entry");
  set->add_option("NAME", *name, "entry, e.g. /shared/admin")->required();
  set->add_option("VALUE", *value, "its value")->required();
  set->callback([change] { change(true); });
  CLI::App* unset = meta->add_subcommand("unset", "remove an entry");
  unset->add_option("NAME", *name, "entry")->required();
  unset->callback([change] { change(false); });
}

}  // namespace tern::ctl
