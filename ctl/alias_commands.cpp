// ternctl alias add ALIAS TARGET[,TARGET...], alias remove ALIAS, alias list
#include <iostream>

#include "common/strings.h"
#include "ctl/commands.h"

namespace tern::ctl {

void register_alias_commands(CLI::App& app, Context& ctx) {
  CLI::App* alias = app.add_subcommand("alias", "manage aliases (\"@domain\" is a catch-all)");
  alias->require_subcommand(1);

  auto name = std::make_shared<std::string>();
  auto targets = std::make_shared<std::string>();
  CLI::App* add = alias->add_subcommand("add", "add an alias delivering to one or more targets");
  add->add_option("ALIAS", *name, "alias address, or @domain for a catch-all")->required();
  add->add_option("TARGETS", *targets, "comma-separated target addresses")->required();
  add->callback([&ctx, name, targets] {
    ctx.action = [name, targets](Context& c) {
      std::vector<std::string> list;
      for (std::string_view t : split(*targets, ',')) {
        t = trim(t);
        if (!t.empty()) list.emplace_back(t);
      }
      if (list.empty()) return fail("alias " + *name + ": no target given");
      auto db = c.accounts();
      if (!db) return fail(db.error());
      if (Status s = (*db)->add_alias(*name, list); !s.ok()) return fail(s.error());
      return kExitOk;
    };
  });

  CLI::App* remove = alias->add_subcommand("remove", "remove an alias");
  remove->add_option("ALIAS", *name, "alias address")->required();
  remove->callback([&ctx, name] {
    ctx.action = [name](Context& c) {
      auto db = c.accounts();
      if (!db) return fail(db.error());
      if (Status s = (*db)->remove_alias(*name); !s.ok()) return fail(s.error());
      return kExitOk;
    };
  });

  CLI::App* list = alias->add_subcommand("list", "list aliases: ALIAS<TAB>TARGET,TARGET...");
  list->callback([&ctx] {
    ctx.action = [](Context& c) {
      auto db = c.accounts();
      if (!db) return fail(db.error());
      auto aliases = (*db)->list_aliases();
      if (!aliases) return fail(aliases.error());
      for (const auto& a : *aliases) {
        std::cout << a.alias << '\t';
        for (size_t i = 0; i < a.targets.size(); ++i) std::cout << (i ? "," : "") << a.targets[i];
        std::cout << '\n';
      }
      return kExitOk;
    };
  });
}

}  // namespace tern::ctl
