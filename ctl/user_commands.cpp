// ternctl user add|passwd|remove|list|quota|enable|disable
#include <iostream>

#include "ctl/commands.h"

namespace tern::ctl {

namespace {

// Runs `fn(db)` with the accounts database open, mapping errors to one stderr line.
template <class Fn>
std::function<int(Context&)> with_db(Fn fn) {
  return [fn](Context& c) {
    auto db = c.accounts();
    if (!db) return fail(db.error());
    return fn(**db, c);
  };
}

}  // namespace

void register_user_commands(CLI::App& app, Context& ctx) {
  CLI::App* user = app.add_subcommand("user", "manage mail users");
  user->require_subcommand(1);

  auto address = std::make_shared<std::string>();
  auto quota = std::make_shared<std::string>();
  auto hash = std::make_shared<std::string>();

  CLI::App* add = user->add_subcommand("add", "add a user; the password is read from standard input");
  add->add_option("ADDRESS", *address, "user@domain (the domain must be local)")->required();
  add->add_option("--quota", *quota, "mailbox quota in bytes (K/M/G suffixes), 0 = unlimited; "
                                     "default: store.default_quota");
  add->add_option("--hash", *hash, "an existing password hash instead of a password: '{SHA512-CRYPT}$6$...', "
                                   "{ARGON2ID}, {ARGON2I}, {BLF-CRYPT}, {SHA256-CRYPT}, {SSHA512} or a crypt(3) string");
  add->callback([&ctx, address, quota, hash] {
    ctx.action = with_db([address, quota, hash](auth::AccountDb& db, Context& c) {
      auto cfg = c.config();
      if (!cfg) return fail(cfg.error());
      uint64_t bytes = (*cfg)->store.default_quota;
      if (!quota->empty()) {
        auto q = parse_size(*quota);
        if (!q) return fail("bad quota \"" + *quota + "\": expected a number of bytes");
        bytes = *q;
      }
      // Check the address and domain before asking for a password, so a typo fails fast.
      auto canonical = auth::canonical_address(*address);
      if (!canonical) return fail("bad user address \"" + *address + "\"");
      std::string domain = canonical->substr(canonical->rfind('@') + 1);
      auto local = db.is_local_domain(domain);
      if (!local) return fail(local.error());
      if (!*local) return fail(domain + " is not a local domain");
      auto existing = db.find_user(*canonical);
      if (!existing) return fail(existing.error());
      if (*existing) return fail("user " + *canonical + " already exists");
      if (!hash->empty()) {
        if (Status s = db.add_user_with_hash(*address, *hash, bytes); !s.ok()) return fail(s.error());
        return kExitOk;
      }
      auto password = read_password();
      if (!password) return fail(password.error());
      if (Status s = db.add_user(*address, *password, bytes); !s.ok()) return fail(s.error());
      return kExitOk;
    });
  });

  CLI::App* passwd = user->add_subcommand("passwd", "set a user's password (read from standard input)");
  passwd->add_option("ADDRESS", *address, "user@domain")->required();
  passwd->callback([&ctx, address] {
    ctx.action = with_db([address](auth::AccountDb& db, Context&) {
      auto found = db.find_user(*address);
      if (!found) return fail(found.error());
      if (!*found) return fail("no such user " + *address);
      auto password = read_password();
      if (!password) return fail(password.error());
      if (Status s = db.set_password(*address, *password); !s.ok()) return fail(s.error());
      return kExitOk;
    });
  });

  CLI::App* remove = user->add_subcommand("remove", "remove a user");
  remove->add_option("ADDRESS", *address, "user@domain")->required();
  remove->callback([&ctx, address] {
    ctx.action = with_db([address](auth::AccountDb& db, Context& ctx) {
      auto store = ctx.store();
      if (!store) return fail(store.error());
      Status removed = db.remove_user(*address);
      // Issue 20: removing a user must work on a full disk. accounts.db's WAL may need a page
      // or two: the store's space reserve gives them (and ternd makes it again later).
      if (!removed.ok() && (removed.error().message.find("full") != std::string::npos ||
                            removed.error().message.find("No space") != std::string::npos) &&
          (*store)->release_space_reserve())
        removed = db.remove_user(*address);
      if (!removed.ok()) return fail(removed.error());
      // The account is gone first, so no new mail can arrive; then its Maildir and index rows.
      auto canonical = auth::canonical_address(*address);
      if (Status s = (*store)->remove_user(canonical ? *canonical : *address); !s.ok())
        return fail(s.error());
      return kExitOk;
    });
  });

  CLI::App* list = user->add_subcommand("list", "list users: ADDRESS<TAB>QUOTA<TAB>enabled|disabled");
  list->callback([&ctx] {
    ctx.action = with_db([](auth::AccountDb& db, Context&) {
      auto users = db.list_users();
      if (!users) return fail(users.error());
      for (const auto& u : *users)
        std::cout << u.address << '\t' << u.quota << '\t' << (u.enabled ? "enabled" : "disabled") << '\n';
      return kExitOk;
    });
  });

  CLI::App* q = user->add_subcommand("quota", "show (or with BYTES, set) a user's quota; 0 = unlimited");
  q->add_option("ADDRESS", *address, "user@domain")->required();
  q->add_option("BYTES", *quota, "new quota in bytes (K/M/G suffixes)");
  q->callback([&ctx, address, quota] {
    ctx.action = with_db([address, quota](auth::AccountDb& db, Context&) {
      if (quota->empty()) {
        auto current = db.quota_of(*address);
        if (!current) return fail(current.error());
        std::cout << *current << '\n';
        return kExitOk;
      }
      auto bytes = parse_size(*quota);
      if (!bytes) return fail("bad quota \"" + *quota + "\": expected a number of bytes");
      if (Status s = db.set_quota(*address, *bytes); !s.ok()) return fail(s.error());
      return kExitOk;
    });
  });

  register_user_import(*user, ctx);

  for (bool enable : {true, false}) {
    CLI::App* sub = user->add_subcommand(enable ? "enable" : "disable",
                                         enable ? "allow a user to log in and receive mail"
                                                : "stop a user logging in and receiving mail");
    sub->add_option("ADDRESS", *address, "user@domain")->required();
    sub->callback([&ctx, address, enable] {
      ctx.action = with_db([address, enable](auth::AccountDb& db, Context&) {
        if (Status s = db.set_enabled(*address, enable); !s.ok()) return fail(s.error());
        return kExitOk;
      });
    });
  }
}

}  // namespace tern::ctl
