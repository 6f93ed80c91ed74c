#pragma once
// Running as the unprivileged mail user named by the `user` key.
//
// ternd binds its ports as root, then hands data_dir to the service user and becomes that user
// for good; ternctl run by root becomes the same user before it opens anything, so every file
// either program creates (accounts.db, index.db, Maildirs, queue, DKIM keys) is owned by the
// user ternd runs as. Without that, an admin who runs `ternctl user add` as root before the
// first start leaves a root-owned accounts.db that ternd can no longer open.

#include <sys/types.h>

#include <optional>
#include <string>

#include "common/result.h"

namespace tern {

struct ServiceUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The configured user, or nullopt when `user` is empty. An unknown name is an error.
Result<std::optional<ServiceUser>> lookup_service_user(const std::string& name);

// Gives every entry under `dir` (and `dir` itself) that the user does not own to the user.
// Symbolic links are changed themselves, never followed. Returns how many entries changed.
Result<size_t> chown_tree(const std::string& dir, const ServiceUser& user);

// Supplementary groups, gid, then uid; then checks that root cannot be regained.
Status become_user(const ServiceUser& user);

}  // namespace tern
