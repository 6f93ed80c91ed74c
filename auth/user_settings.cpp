// AccountDb: per-user settings (the user_settings table).
#include "auth/account_db_impl.h"

namespace tern::auth {

Status AccountDb::set_user_setting(std::string_view user, std::string_view key,
                                   std::string_view value) {
  auto name = canonical_address(user);
  if (!name) return make_error(Errc::syntax, "bad user address \"" + std::string(user) + "\"");
  if (key.empty()) return make_error(Errc::syntax, "empty setting name");
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  auto row = query_user(lease->conn(), *name);
  if (!row) return row.error();
  if (!*row) return make_error(Errc::not_found, "no such user " + *name);
  sqlite::Stmt st(lease->conn(), value.empty()
                                     ? "DELETE FROM user_settings WHERE address=?1 AND key=?2"
                                     : "INSERT INTO user_settings(address, key, value) VALUES(?1, ?2, ?3) "
                                       "ON CONFLICT(address, key) DO UPDATE SET value=?3");
  st.bind(1, *name);
  st.bind(2, std::string(key));
  if (!value.empty()) st.bind(3, std::string(value));
  return st.try_run("set user setting");
}

Result<std::map<std::string, std::string>> AccountDb::user_settings(std::string_view user) {
  std::map<std::string, std::string> out;
  auto name = canonical_address(user);
  if (!name) return out;
  auto lease = impl_->acquire();
  if (!lease) return lease.error();
  sqlite::Stmt st(lease->conn(), "SELECT key, value FROM user_settings WHERE address=?1");
  st.bind(1, *name);
  Result<bool> rc = false;
  while ((rc = st.try_step("read user settings")) && *rc) out[st.text(0)] = st.text(1);
  if (!rc) return rc.error();
  return out;
}

}  // namespace tern::auth
