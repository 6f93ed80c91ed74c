// Store: mailbox access control lists (RFC 4314) in index.db's `acl` table (index_db.cpp),
// and the rights value type (store/acl.h). An entry is keyed by the mailbox's row id, so it
// follows a RENAME (the row keeps its id; RFC 4314 leaves RENAME to the server, and the
// people an office shares "info" with should keep seeing it under its new name) and goes with
// DELETE (a trigger, since ids may be reused). Removing a user removes the entries naming them.
#include "store/acl.h"

#include <tuple>
#include <utility>

#include "store/store_impl.h"

namespace tern::store {

namespace acl {

std::optional<uint32_t> parse(std::string_view letters) {
  uint32_t rights = 0;
  for (char ch : letters) {
    size_t pos = kLetters.find(ch);
    if (pos != std::string_view::npos)
      rights |= 1u << pos;
    else if (ch == 'c')  // RFC 4314 §2.1.1: the obsolete "create" right
      rights |= kObsoleteC;
    else if (ch == 'd')  // RFC 4314 §2.1.1: the obsolete "delete" right
      rights |= kObsoleteD;
    else
      return std::nullopt;
  }
  return rights;
}

std::string to_stored(uint32_t rights) {
  std::string out;
  for (size_t i = 0; i < kLetters.size(); ++i)
    if (rights & (1u << i)) out += kLetters[i];
  return out;
}

std::string to_string(uint32_t rights) {
  std::string out = to_stored(rights);
  // RFC 4314 §2.1.1: "c" and "d" are returned when any of their members is held.
  if (rights & kObsoleteC) out += 'c';
  if (rights & kObsoleteD) out += 'd';
  return out;
}

uint32_t Modification::apply(uint32_t current) const {
  switch (op) {
    case Op::add: return current | rights;
    case Op::remove: return current & ~rights;
    case Op::replace: break;
  }
  return rights;
}

std::optional<Modification> parse_modification(std::string_view arg) {
  Modification m;
  if (!arg.empty() && (arg[0] == '+' || arg[0] == '-')) {
    m.op = arg[0] == '+' ? Modification::Op::add : Modification::Op::remove;
    arg.remove_prefix(1);
  }
  auto rights = parse(arg);
  if (!rights) return std::nullopt;
  m.rights = *rights;
  return m;
}

}  // namespace acl

namespace {

// "anyone" or a canonical user address.
std::string canonical_identifier(std::string_view identifier) {
  if (identifier == acl::kAnyone) return std::string(acl::kAnyone);
  return check(detail::canonical_user(identifier)).address;
}

uint32_t stored_rights(const std::string& letters) { return acl::parse(letters).value_or(0); }

// The owner's mailbox, under the store's lock (Found, to write) or on one of the index's readers
// (FoundToRead, Impl::readers). Unlike Impl::open_mailbox this never creates the owner's
// store: a client naming "Shared/nobody@example.com/x" must not make one.
template <class Guard>
struct FoundIn {
  Guard guard;
  std::string owner;
  detail::MailboxRow row;
};
using Found = FoundIn<std::unique_lock<std::mutex>>;
using FoundToRead = FoundIn<Store::Impl::ReadLease>;

// The owner's canonical address and the mailbox's row, looked up on `db`.
std::pair<std::string, detail::MailboxRow> row_of(detail::Db& db, std::string_view owner,
                                                  std::string_view mailbox) {
  auto address = check(detail::canonical_user(owner)).address;
  auto row = Store::Impl::find_mailbox_in(db, address, check(detail::canonical_mailbox(mailbox)));
  if (!row) fail(Errc::not_found, "no such mailbox");
  return {std::move(address), std::move(*row)};
}

Found find_row(Store::Impl& impl, std::string_view owner, std::string_view mailbox) {
  Found f{std::unique_lock(impl.mu), {}, {}};
  std::tie(f.owner, f.row) = row_of(impl.db, owner, mailbox);
  return f;
}

FoundToRead find_row_to_read(Store::Impl& impl, std::string_view owner, std::string_view mailbox) {
  FoundToRead f{impl.lease_reader(), {}, {}};
  std::tie(f.owner, f.row) = row_of(*f.guard.db, owner, mailbox);
  return f;
}

}  // namespace

Result<std::vector<Store::AclEntry>> Store::get_acl(std::string_view owner, std::string_view mailbox) {
  return detail::guarded([&] {
    auto [lease, owner_address, row] = find_row_to_read(*impl_, owner, mailbox);
    std::vector<AclEntry> out;
    auto st = lease.db->prepare("SELECT identifier, rights FROM acl WHERE mailbox_id = ? ORDER BY identifier");
    st.bind(row.id);
    while (st.step()) out.push_back({st.text(0), stored_rights(st.text(1))});
    return out;
  });
}

Status Store::set_acl(std::string_view owner, std::string_view mailbox, std::string_view identifier,
                      uint32_t rights) {
  auto st = detail::guarded_status([&] {
    std::string id = canonical_identifier(identifier);
    auto [lock, owner_address, row] = find_row(*impl_, owner, mailbox);
    // The owner holds every right implicitly (RFC 4314 §2: the server may keep some rights
    // from being removed); storing a row for them would only mislead.
    if (id == owner_address) fail(Errc::refused, "the owner always has every right");
    detail::Txn txn(impl_->db);
    if (rights & acl::kAll) {
      impl_->db.prepare("INSERT OR REPLACE INTO acl(mailbox_id, identifier, rights) VALUES(?, ?, ?)")
          .bind(row.id).bind(id).bind(acl::to_stored(rights)).run();
    } else {
      impl_->db.prepare("DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?").bind(row.id).bind(id).run();
    }
    txn.commit();
    impl_->committed();
    impl_->acl_version.fetch_add(1);  // after the commit: a session re-reading sees the change
  });
  // Who sees which shared mailbox changed (IMAP NOTIFY MailboxName, RFC 5465 §5.4): the
  // identifier may be "anyone", so every account watch looks again.
  if (st) impl_->notify_listing(std::nullopt);
  return st;
}

uint64_t Store::acl_version() const { return impl_->acl_version.load(); }

Result<uint32_t> Store::rights(std::string_view owner, std::string_view mailbox, std::string_view user) {
  return detail::guarded([&] {
    std::string who = canonical_identifier(user);
    auto [lease, owner_address, row] = find_row_to_read(*impl_, owner, mailbox);
    if (who == owner_address) return acl::kAll;
    // RFC 4314 §2: a user's rights are the union of the entries that name them and "anyone".
    auto st = lease.db->prepare("SELECT rights FROM acl WHERE mailbox_id = ? AND identifier IN (?, 'anyone')");
    st.bind(row.id).bind(who);
    uint32_t out = 0;
    while (st.step()) out |= stored_rights(st.text(0));
    return out;
  });
}

Result<std::vector<Store::SharedMailbox>> Store::shared_with(std::string_view user) {
  return detail::guarded([&] {
    std::string who = canonical_identifier(user);
    std::vector<SharedMailbox> out;
    auto lease = impl_->lease_reader();
    auto st = lease.db->prepare(
        "SELECT m.user, m.name, a.rights FROM acl a JOIN mailboxes m ON m.id = a.mailbox_id "
        "WHERE a.identifier IN (?, 'anyone') AND m.user != ? ORDER BY m.user, m.name");
    st.bind(who).bind(who);
    while (st.step()) {
      std::string owner = st.text(0), name = st.text(1);
      uint32_t r = stored_rights(st.text(2));
      if (!out.empty() && out.back().owner == owner && out.back().mailbox == name)
        out.back().rights |= r;  // the user's own entry and "anyone"'s
      else
        out.push_back({std::move(owner), std::move(name), r});
    }
    // RFC 4314 §4: LIST shows only mailboxes with "l".
    std::erase_if(out, [](const SharedMailbox& m) { return !(m.rights & acl::kLookup); });
    return out;
  });
}

}  // namespace tern::store
