// ternctl: administration of a Tern data_dir (domains, users, aliases, ...).
// Other families (reindex, queue, dkim) plug in with one register_*_commands() call below.
#include <CLI/CLI.hpp>

#include <iostream>

#include "common/log.h"
#include "ctl/commands.h"
#include "ctl/context.h"

int main(int argc, char** argv) {
  using namespace tern::ctl;
  // Library warnings (e.g. an alias loop found while resolving) go to stderr; keep them quiet
  // unless something is really wrong, so list output stays scriptable.
  tern::init_logging("error");
  Context ctx;
  CLI::App app{"ternctl: administer a Tern mail server's accounts and data", "ternctl"};
  app.option_defaults()->always_capture_default();
  app.add_option("-c,--config", ctx.config_paths,
                 "configuration file; repeat to layer overrides (later files win)")
      ->capture_default_str();
  app.require_subcommand(1);

  register_domain_commands(app, ctx);
  register_user_commands(app, ctx);
  register_alias_commands(app, ctx);
  register_queue_commands(app, ctx);
  register_dkim_commands(app, ctx);
  register_store_commands(app, ctx);
  register_acl_commands(app, ctx);
  register_backup_commands(app, ctx);
  register_spam_commands(app, ctx);
  register_dmarc_commands(app, ctx);
  register_dns_commands(app, ctx);
  register_import_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fail(std::string(e.what()) + " (see ternctl --help)");
    return kExitUsage;
  }
  if (!ctx.action) {
    fail("missing command (see ternctl --help)");
    return kExitUsage;
  }
  return ctx.action(ctx);
}
