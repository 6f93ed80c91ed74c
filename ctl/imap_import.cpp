// ternctl import ADDRESS --from imaps://user@host[:port] [--password-file F] [--folders A,B]
//   [--starttls] [--ca-file F] [--insecure]
// Copies every folder of an account on another IMAP server into a Tern user's mailboxes,
// keeping flags, keywords and INTERNALDATE, and mapping special-use folders onto Tern's.
//
// Safe while ternd runs: messages go in through store::Store::append, the same group commit
// as IMAP APPEND and SMTP delivery (files fsynced, index rows committed with BEGIN IMMEDIATE
// against ternd's own writes; ternctl opens the store without owning it, see ctl/context.h),
// so deliveries to the user go on meanwhile and both get distinct UIDs. Resuming and a changed
// UIDVALIDITY: ctl/import_plan.h. Memory is bounded by the FETCH batch (kBatchMessages
// messages or kBatchBytes, one message held at a time).
#include <fstream>
#include <iostream>
#include <set>

#include "common/codec.h"
#include "common/strings.h"
#include "ctl/commands.h"
#include "ctl/imap_client.h"
#include "ctl/import_plan.h"
#include "mime/mime.h"

namespace tern::ctl {

namespace {

constexpr size_t kBatchMessages = 50;
constexpr uint64_t kBatchBytes = 16ull << 20;

struct ImportOptions {
  std::string address, from, password_file, folders, ca_file;
  bool starttls = false, insecure = false;
};

struct Totals {
  size_t folders = 0, imported = 0, already = 0, skipped_folders = 0;
};

// One source folder, end to end: EXAMINE, list, plan, fetch in batches, append, record.
class FolderImport {
 public:
  FolderImport(imap::Client& client, store::Store& store, import::State& state, const std::string& user,
               const std::string& source, uint64_t quota)
      : client_(client), store_(store), state_(state), user_(user), source_(source), quota_(quota) {}

  Status run(const std::string& raw_name, const std::string& shown, const std::string& mailbox, Totals& totals) {
    auto quoted = imap::quote(raw_name);
    // Folder-level problems are Errc::refused (the folder is skipped); anything else stops.
    if (!quoted) return make_error(Errc::refused, "folder name needs a literal");
    std::optional<uint32_t> uidvalidity;
    uint32_t exists = 0;
    auto examined = client_.command("EXAMINE " + *quoted, [&](std::vector<imap::Value>& v, std::string_view line) {
      if (auto n = imap::response_code_number(line, "UIDVALIDITY")) uidvalidity = n;
      if (v.size() == 3 && v[2].is_atom("EXISTS"))
        if (auto n = parse_u64(v[1].text); n && *n <= UINT32_MAX) exists = static_cast<uint32_t>(*n);
      return Status{};
    });
    if (!examined) return examined.error();
    // RFC 9051 §7.1: the server MUST send UIDVALIDITY at SELECT/EXAMINE; resuming needs it.
    if (!uidvalidity) return make_error(Errc::refused, "the server sent no UIDVALIDITY");

    std::vector<import::SourceMessage> listed;
    if (exists > 0) {
      auto r = client_.command("UID FETCH 1:* (UID RFC822.SIZE INTERNALDATE)",
                               [&](std::vector<imap::Value>& v, std::string_view) {
                                 auto f = imap::parse_fetch(v);
                                 if (f && f->uid && f->size) {
                                   auto date = f->internaldate ? imap::parse_internaldate(*f->internaldate) : std::nullopt;
                                   listed.push_back({*f->uid, *f->size, date.value_or(0)});
                                 }
                                 return Status{};
                               });
      if (!r) return r.error();
    }
    std::sort(listed.begin(), listed.end(), [](auto& a, auto& b) { return a.uid < b.uid; });
    listed.erase(std::unique(listed.begin(), listed.end(), [](auto& a, auto& b) { return a.uid == b.uid; }),
                 listed.end());

    auto done = state_.imported(user_, source_, raw_name);
    if (!done) return done.error();
    import::Plan plan = import::plan_folder(*uidvalidity, listed, *done);
    std::cout << shown << " -> " << mailbox << ": " << plan.fetch.size() << " to import, " << plan.already
              << " already imported";
    if (plan.old_uidvalidity)
      std::cout << "; UIDVALIDITY changed (" << *plan.old_uidvalidity << " -> " << *uidvalidity << "), "
                << plan.matched.size() << " matched by size and date";
    std::cout << '\n' << std::flush;
    for (const auto& m : plan.matched)
      if (Status s = state_.record(user_, source_, raw_name, {*uidvalidity, m.uid, m.size, m.internaldate}, mailbox, 0);
          !s.ok())
        return s;
    totals.already += plan.already + plan.matched.size();

    size_t count = 0;
    // Each asked-for UID is appended once, whatever the server sends (twice, unasked...).
    std::map<uint32_t, const import::SourceMessage*> wanted;
    for (const auto& m : plan.fetch) wanted[m.uid] = &m;
    for (const std::string& set : import::batches(plan.fetch, kBatchMessages, kBatchBytes)) {
      auto r = client_.command("UID FETCH " + set + " (UID FLAGS INTERNALDATE BODY.PEEK[])",
                               [&](std::vector<imap::Value>& v, std::string_view) -> Status {
                                 auto f = imap::parse_fetch(v);
                                 // Flag updates and messages we did not ask for are ignored.
                                 if (!f || !f->uid || !f->body) return {};
                                 auto it = wanted.find(*f->uid);
                                 if (it == wanted.end()) return {};
                                 const import::SourceMessage& m = *it->second;
                                 wanted.erase(it);
                                 Status s = append(raw_name, mailbox, *uidvalidity, m, *f);
                                 if (s.ok()) ++count;
                                 return s;
                               });
      if (!r) return r.error();
      std::cout << shown << ": " << count << "/" << plan.fetch.size() << '\n' << std::flush;
    }
    totals.imported += count;
    return {};
  }

 private:
  Status append(const std::string& folder, const std::string& mailbox, uint32_t uidvalidity,
                const import::SourceMessage& listed, imap::FetchItem& f) {
    int64_t date = listed.internaldate;
    if (f.internaldate)
      if (auto d = imap::parse_internaldate(*f.internaldate)) date = *d;
    store::Flags flags = import::map_flags(f.flags.value_or(std::vector<std::string>{}));
    std::string body = std::move(*f.body);
    auto stored = store_.append(user_, mailbox, body, flags, date, quota_, mime::metadata_blob(body));
    if (!stored) return make_error(stored.error().code, mailbox + ": " + stored.error().message);
    // Only after the store's commit: a crash in between imports this message once more.
    return state_.record(user_, source_, folder, {uidvalidity, listed.uid, listed.size, listed.internaldate}, mailbox,
                         stored->uid);
  }

  imap::Client& client_;
  store::Store& store_;
  import::State& state_;
  const std::string& user_;
  const std::string& source_;
  uint64_t quota_;
};

std::set<std::string> split_folders(const std::string& list) {
  std::set<std::string> out;
  for (std::string_view part : split(list, ',')) {
    std::string p(trim(part));
    if (!p.empty()) out.insert(p);
  }
  return out;
}

int run_import(const ImportOptions& o, Context& c) {
  auto address = imap::parse_server_url(o.from, o.starttls);
  if (!address) return fail(address.error());
  if (address->security == imap::Security::none && !o.insecure)
    return fail("imap:// without --starttls sends the password in clear text: add --starttls, or --insecure");
  // The password file is read before Context drops root for the service user.
  std::string password;
  if (!o.password_file.empty()) {
    std::ifstream in(o.password_file);
    if (!in || !std::getline(in, password)) return fail("cannot read --password-file " + o.password_file);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    if (password.empty()) return fail("empty password in " + o.password_file);
  } else {
    auto p = read_password();
    if (!p) return fail(p.error());
    password = std::move(*p);
  }
  auto user = auth::canonical_address(o.address);
  if (!user) return fail("bad user address \"" + o.address + "\"");
  auto cfg = c.config();
  if (!cfg) return fail(cfg.error());
  auto db = c.accounts();
  if (!db) return fail(db.error());
  auto quota = (*db)->quota_of(*user);
  if (!quota) return fail(quota.error());
  auto store = c.store();
  if (!store) return fail(store.error());
  if (Status s = (*store)->ensure_user(*user); !s.ok()) return fail(s.error());
  auto state = import::State::open((*cfg)->data_dir + "/import.db");
  if (!state) return fail(state.error());

  auto client = imap::Client::connect(*address, imap::TlsOptions{o.ca_file, o.insecure});
  if (!client) return fail(client.error());
  if (Status s = (*client)->login(address->user, password); !s.ok()) return fail(s.error());

  // RFC 6154 §2: a SPECIAL-USE server marks its folders' roles in LIST; older Gmail-style
  // servers do it in XLIST only.
  bool xlist = !(*client)->has_capability("SPECIAL-USE") && (*client)->has_capability("XLIST");
  auto listed = (*client)->command(xlist ? "XLIST \"\" \"*\"" : "LIST \"\" \"*\"");
  if (!listed) return fail("LIST failed: " + listed.error().message);

  // Tern's own folder for each role (Drafts, Sent, ... made by ensure_user).
  std::map<std::string, std::string> by_role;
  auto mine = (*store)->list_mailboxes(*user);
  if (!mine) return fail(mine.error());
  for (const auto& m : *mine)
    if (!m.special_use.empty()) by_role.emplace(m.special_use, m.name);

  std::string source = address->user + "@" + address->host + ":" + std::to_string(address->port);
  std::set<std::string> only = split_folders(o.folders);
  FolderImport folder_import(**client, **store, **state, *user, source, *quota);
  Totals totals;
  for (const auto& values : listed->untagged) {
    auto entry = imap::parse_list(values);
    if (!entry) continue;
    bool selectable = true;
    for (const auto& a : entry->attributes)
      if (iequals(a, "\\Noselect") || iequals(a, "\\NonExistent")) selectable = false;
    if (!selectable) continue;
    auto decoded = mutf7_decode(entry->name);
    std::string shown = decoded ? *decoded : entry->name;
    if (!only.empty() && !only.count(shown)) continue;
    import::Target target = import::map_folder(shown, entry->delimiter, entry->attributes);
    if (target.mailbox.empty()) {
      std::cout << shown << ": skipped, " << target.skip_reason << '\n';
      ++totals.skipped_folders;
      continue;
    }
    std::string mailbox = target.mailbox;
    if (auto it = by_role.find(target.special_use); !target.special_use.empty() && it != by_role.end())
      mailbox = it->second;
    Status made = (*store)->create_mailbox(*user, mailbox);
    if (!made.ok() && made.error().code != Errc::exists) {
      std::cout << shown << ": skipped, cannot create " << mailbox << ": " << made.error().message << '\n';
      ++totals.skipped_folders;
      continue;
    }
    ++totals.folders;
    if (Status s = folder_import.run(entry->name, shown, mailbox, totals); !s.ok()) {
      // A refused folder (a NO to EXAMINE) is skipped; a broken connection or store stops all.
      if (s.error().code != Errc::refused) return fail(shown + ": " + s.error().message);
      std::cout << shown << ": skipped, " << s.error().message << '\n';
      ++totals.skipped_folders;
    }
  }
  (*client)->logout();
  std::cout << "imported " << totals.imported << " messages from " << totals.folders << " folders ("
            << totals.already << " imported before, " << totals.skipped_folders << " folders skipped)\n";
  return kExitOk;
}

}  // namespace

void register_import_commands(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<ImportOptions>();
  CLI::App* imp = app.add_subcommand("import", "copy every folder of an account on another IMAP server into a user's "
                                               "mailboxes (resumable; the password is read from standard input)");
  imp->add_option("ADDRESS", o->address, "the Tern user (must exist)")->required();
  imp->add_option("--from", o->from, "imaps://user@host[:port] or imap://user@host[:port]")->required();
  imp->add_option("--password-file", o->password_file, "read the source password from this file's first line");
  imp->add_option("--folders", o->folders, "only these source folders (comma-separated, as the server names them)");
  imp->add_flag("--starttls", o->starttls, "with imap://: STARTTLS before logging in");
  imp->add_option("--ca-file", o->ca_file, "trust these certificates (PEM) instead of the system's");
  imp->add_flag("--insecure", o->insecure, "do not verify the server's certificate (or allow imap:// in clear text)");
  imp->callback([&ctx, o] { ctx.action = [o](Context& c) { return run_import(*o, c); }; });
}

}  // namespace tern::ctl
