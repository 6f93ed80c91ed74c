// Store: taking over what a Dovecot Maildir knows (the rest of adoption is in
// reconcile_folder, recovery.cpp): a folder's UIDVALIDITY and a user's subscriptions.
#include "common/file.h"
#include "common/log.h"
#include "store/dovecot_files.h"
#include "store/store_impl.h"

namespace tern::store {

void Store::Impl::adopt_uidvalidity(MailboxRow& row, uint32_t uidvalidity) {
  // The UIDs recorded under the old UIDVALIDITY mean nothing under the new one (RFC 9051
  // §2.3.1.1): nor do its expunge records, which would otherwise delete adopted files that
  // happen to carry an expunged UID. UIDNEXT restarts from what the files bring.
  db.prepare("UPDATE mailboxes SET uidvalidity = ?, uidnext = 1 WHERE id = ?")
      .bind(static_cast<int64_t>(uidvalidity))
      .bind(row.id)
      .run();
  db.prepare("DELETE FROM expunged WHERE mailbox_id = ?").bind(row.id).run();
  // Keyword letters in the adopted file names follow the adopted dovecot-keywords.
  db.prepare("DELETE FROM keyword_letters WHERE mailbox_id = ?").bind(row.id).run();
  // RFC 9051 §2.3.1.1: a name created again must get a greater UIDVALIDITY, so the counter
  // next_uidvalidity() draws from stays above every value in use.
  db.prepare("INSERT INTO meta(key, value) VALUES('last_uidvalidity', ?) "
             "ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)")
      .bind(static_cast<int64_t>(uidvalidity))
      .run();
  spdlog::info("store: mailbox {} takes UIDVALIDITY {} from its dovecot-uidlist (was {})",
               row.id, uidvalidity, row.uidvalidity);
  row.uidvalidity = uidvalidity;
  row.uidnext = 1;
}

void Store::Impl::adopt_subscriptions(const UserName& u, ReindexReport* report) {
  auto text = read_file(user_dir(u) + "/" + detail::kDovecotSubscriptions);
  if (!text.ok()) return;
  auto subs = detail::parse_dovecot_subscriptions(*text);
  db.prepare("DELETE FROM subscriptions WHERE user = ?").bind(u.address).run();
  // RFC 9051 §6.3.7: a name may be subscribed whether or not the mailbox exists.
  for (const auto& name : subs.names)
    db.prepare("INSERT OR IGNORE INTO subscriptions(user, name) VALUES(?, ?)")
        .bind(u.address)
        .bind(name)
        .run();
  if (!report) return;
  report->notes.push_back(u.address + ": " + std::to_string(subs.names.size()) +
                          " subscriptions taken from Dovecot's subscriptions file");
  for (const auto& p : subs.problems) report->notes.push_back(u.address + ": " + p);
}

}  // namespace tern::store
