// ternctl: the state shared by every command family, and the helpers they use.
//
// Each family lives in its own <family>_commands.cpp with one register_<family>_commands()
// (declared in ctl/commands.h) that adds CLI11 subcommands. A subcommand's callback only
// records what to do in Context::action; main() runs it after parsing, so the configuration
// (-c) is known whatever the option order. Conventions: exit 0 on success; on error exactly
// one line "ternctl: <problem>" on stderr and a non-zero exit (1 = failed, 2 = usage);
// list commands print one item per line, fields separated by tabs.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <string_view>

#include "auth/auth.h"
#include "store/store.h"
#include "common/config.h"
#include "common/result.h"

namespace tern::ctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

class Context {
 public:
  // -c may be given several times: later files override earlier ones (load_config).
  std::vector<std::string> config_paths = {"/etc/tern/ternd.toml"};
  // Set by the chosen subcommand's CLI11 callback; returns the exit code.
  std::function<int(Context&)> action;

  // Loads the configuration once (errors are the one-line messages from load_config).
  Result<const Config*> config();
  // Creates data_dir if missing (0750) and opens data_dir/accounts.db.
  Result<auth::AccountDb*> accounts();
  // Opens the message store (data_dir/index.db and the Maildirs). Opening reconciles every
  // Maildir with the index inside SQLite write transactions, so it is safe while ternd runs.
  Result<store::Store*> store();

 private:
  std::optional<Config> config_;
  std::unique_ptr<auth::AccountDb> accounts_;
  std::unique_ptr<store::Store> store_;
};

// Prints "ternctl: <problem>" (one line) on stderr and returns kExitFailed.
int fail(std::string_view problem);
int fail(const Error& error);

// Reads one password line from standard input (prompting without echo on a terminal).
// Refuses an empty password.
Result<std::string> read_password();

// SIGUSR1 to a running ternd (pid in data_dir/ternd.lock): look at queue.db and
// dmarc_reports.db now. Returns what happened, for the user; `later` ("it rescans the queue
// within 30 s") is said when the signal could not be sent to a ternd that runs.
std::string signal_daemon(const std::string& data_dir, std::string_view later);

// "1048576" -> bytes; also accepts K, M, G suffixes (powers of 1024).
std::optional<uint64_t> parse_size(std::string_view text);

}  // namespace tern::ctl
