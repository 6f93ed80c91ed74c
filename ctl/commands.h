// ternctl command families: each adds its subcommands to the app (see ctl/context.h).
#pragma once

#include <CLI/CLI.hpp>

#include "ctl/context.h"

namespace tern::ctl {

void register_domain_commands(CLI::App& app, Context& ctx);
void register_user_commands(CLI::App& app, Context& ctx);
void register_alias_commands(CLI::App& app, Context& ctx);
void register_queue_commands(CLI::App& app, Context& ctx);
void register_dkim_commands(CLI::App& app, Context& ctx);
void register_store_commands(CLI::App& app, Context& ctx);
void register_acl_commands(CLI::App& app, Context& ctx);  // ctl/acl_commands.cpp
void register_backup_commands(CLI::App& app, Context& ctx);
void register_spam_commands(CLI::App& app, Context& ctx);
void register_dmarc_commands(CLI::App& app, Context& ctx);
void register_dns_commands(CLI::App& app, Context& ctx);
void register_import_commands(CLI::App& app, Context& ctx);
// `user import FILE`: a subcommand of `user` (ctl/user_import.cpp).
void register_user_import(CLI::App& user, Context& ctx);

}  // namespace tern::ctl
