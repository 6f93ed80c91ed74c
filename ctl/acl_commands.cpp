// ternctl acl list OWNER [MAILBOX] | set OWNER MAILBOX IDENTIFIER RIGHTS |
//             delete OWNER MAILBOX IDENTIFIER
// Mailbox access control lists (RFC 4314), the same entries IMAP clients change with SETACL:
// e.g. `ternctl acl set info@example.com INBOX alice@example.com lrswite` shares info@'s
// INBOX with alice, who then finds it as "#shared/info@example.com/INBOX". IDENTIFIER is a
// user's address or "anyone"; RIGHTS are letters of "lrswipkxtea" (obsolete "c" and "d"
// accepted), with a leading "+" to add to the current rights or "-" to remove from them.
#include <iostream>
#include <memory>
#include <string>

#include "common/strings.h"
#include "ctl/commands.h"
#include "store/acl.h"

namespace tern::ctl {
namespace {

struct AclArgs {
  std::string owner, mailbox, identifier, rights;
};

// The owner must be a user, and so must the identifier unless it is "anyone".
int check_users(Context& c, const AclArgs& a, bool identifier) {
  auto accounts = c.accounts();
  if (!accounts) return fail(accounts.error());
  for (const std::string* who : {&a.owner, &a.identifier}) {
    if (who == &a.identifier && (!identifier || *who == store::acl::kAnyone)) continue;
    auto found = (*accounts)->find_user(*who);
    if (!found) return fail(found.error());
    if (!*found) return fail("no such user: " + *who);
  }
  return kExitOk;
}

void print_entries(const std::string& owner, const std::string& mailbox,
                   const std::vector<store::Store::AclEntry>& entries) {
  std::cout << mailbox << "\t" << owner << "\t" << store::acl::to_string(store::acl::kAll) << "\t(owner)\n";
  for (const auto& e : entries)
    std::cout << mailbox << "\t" << e.identifier << "\t" << store::acl::to_string(e.rights) << "\n";
}

}  // namespace

void register_acl_commands(CLI::App& app, Context& ctx) {
  CLI::App* acl = app.add_subcommand("acl", "mailbox access control lists (shared mailboxes, RFC 4314)");
  acl->require_subcommand(1);
  auto a = std::make_shared<AclArgs>();

  CLI::App* list = acl->add_subcommand("list", "print the ACL of one or every mailbox of OWNER");
  list->add_option("OWNER", a->owner, "the mailbox owner's address")->required();
  list->add_option("MAILBOX", a->mailbox, "mailbox (default: every mailbox of OWNER with entries)");
  list->callback([&ctx, a] {
    ctx.action = [a](Context& c) {
      if (int rc = check_users(c, *a, false)) return rc;
      auto store = c.store();
      if (!store) return fail(store.error());
      if (!a->mailbox.empty()) {
        auto entries = (*store)->get_acl(a->owner, a->mailbox);
        if (!entries) return fail(entries.error());
        print_entries(a->owner, a->mailbox, *entries);
        return kExitOk;
      }
      auto boxes = (*store)->list_mailboxes(a->owner);
      if (!boxes) return fail(boxes.error());
      for (const auto& b : *boxes) {
        auto entries = (*store)->get_acl(a->owner, b.name);
        if (!entries) return fail(entries.error());
        if (!entries->empty()) print_entries(a->owner, b.name, *entries);
      }
      return kExitOk;
    };
  });

  CLI::App* set = acl->add_subcommand("set", "give IDENTIFIER (an address or \"anyone\") RIGHTS on a mailbox");
  set->add_option("OWNER", a->owner, "the mailbox owner's address")->required();
  set->add_option("MAILBOX", a->mailbox, "the owner's mailbox, e.g. INBOX")->required();
  set->add_option("IDENTIFIER", a->identifier, "user address or anyone")->required();
  set->add_option("RIGHTS", a->rights, "letters of lrswipkxtea; +RIGHTS adds, -RIGHTS removes")->required();
  set->callback([&ctx, a] {
    ctx.action = [a](Context& c) {
      a->owner = ascii_lower(a->owner);
      a->identifier = ascii_lower(a->identifier);
      auto mod = store::acl::parse_modification(a->rights);
      if (!mod) return fail("unknown right in \"" + a->rights + "\" (rights are letters of lrswipkxtea)");
      if (int rc = check_users(c, *a, true)) return rc;
      auto store = c.store();
      if (!store) return fail(store.error());
      uint32_t current = 0;
      auto entries = (*store)->get_acl(a->owner, a->mailbox);
      if (!entries) return fail(entries.error());
      for (const auto& e : *entries)
        if (e.identifier == a->identifier) current = e.rights;
      uint32_t next = mod->apply(current);
      if (auto st = (*store)->set_acl(a->owner, a->mailbox, a->identifier, next); !st) return fail(st.error());
      std::cout << a->mailbox << "\t" << a->identifier << "\t" << store::acl::to_string(next) << "\n";
      return kExitOk;
    };
  });

  CLI::App* del = acl->add_subcommand("delete", "remove IDENTIFIER's entry from a mailbox's ACL");
  del->add_option("OWNER", a->owner, "the mailbox owner's address")->required();
  del->add_option("MAILBOX", a->mailbox, "the owner's mailbox")->required();
  del->add_option("IDENTIFIER", a->identifier, "user address or anyone")->required();
  del->callback([&ctx, a] {
    ctx.action = [a](Context& c) {
      auto store = c.store();
      if (!store) return fail(store.error());
      if (auto st = (*store)->set_acl(a->owner, a->mailbox, a->identifier, 0); !st) return fail(st.error());
      return kExitOk;
    };
  });
}

}  // namespace tern::ctl
