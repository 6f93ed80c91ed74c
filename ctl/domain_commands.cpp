// ternctl domain add|remove DOMAIN, domain list
#include <iostream>

#include "ctl/commands.h"

namespace tern::ctl {

void register_domain_commands(CLI::App& app, Context& ctx) {
  CLI::App* domain = app.add_subcommand("domain", "manage local domains");
  domain->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  CLI::App* add = domain->add_subcommand("add", "add a local domain");
  add->add_option("DOMAIN", *name, "domain name")->required();
  add->callback([&ctx, name] {
    ctx.action = [name](Context& c) {
      auto db = c.accounts();
      if (!db) return fail(db.error());
      if (Status s = (*db)->add_domain(*name); !s.ok()) return fail(s.error());
      return kExitOk;
    };
  });

  CLI::App* remove = domain->add_subcommand("remove", "remove a local domain (must have no users or aliases)");
  remove->add_option("DOMAIN", *name, "domain name")->required();
  remove->callback([&ctx, name] {
    ctx.action = [name](Context& c) {
      auto db = c.accounts();
      if (!db) return fail(db.error());
      if (Status s = (*db)->remove_domain(*name); !s.ok()) return fail(s.error());
      return kExitOk;
    };
  });

  CLI::App* list = domain->add_subcommand("list", "list local domains, one per line");
  list->callback([&ctx] {
    ctx.action = [](Context& c) {
      auto db = c.accounts();
      if (!db) return fail(db.error());
      auto domains = (*db)->list_domains();
      if (!domains) return fail(domains.error());
      for (const std::string& d : *domains) std::cout << d << '\n';
      return kExitOk;
    };
  });
}

}  // namespace tern::ctl
