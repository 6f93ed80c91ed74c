// ternctl reindex [ADDRESS]: reconcile Maildir files with the index (store::Store::reindex).
// Files without index rows are indexed (keeping the UID in their name), rows without files are
// dropped; with index.db deleted, the index is rebuilt with every UID and UIDVALIDITY kept.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "ctl/commands.h"

namespace tern::ctl {

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
      Status s = user ? (*store)->reindex(std::string_view(*user)) : (*store)->reindex();
      if (!s.ok()) return fail(s.error());
      return kExitOk;
    };
  });
}

}  // namespace tern::ctl
