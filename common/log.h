// Logging: spdlog to stderr, one line per event, journald-friendly (no colours when not a tty).
// Log lines meant for fail2ban and admins use fixed "key=value" words so they can be grepped:
//   conn open proto=smtp ip=203.0.113.5 ...
//   auth fail proto=imap user=bob@example.test ip=203.0.113.5 reason=bad-password
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace tern {

// Sets the default logger to stderr with the given level name ("info", "debug", ...).
void init_logging(const std::string& level);

}  // namespace tern
