#include "ctl/context.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "common/privileges.h"
#include "common/strings.h"
#include "mime/mime.h"

namespace tern::ctl {

namespace {

Status ensure_dir(const std::string& path);

// Run by root with `user` set: create data_dir as root, give it to the service user, and become
// that user before anything is opened, so ternd (which runs as that user) can write every file
// this command creates. A tree root already made is fixed by ternd at its next start.
Status become_service_user(const Config& c) {
  if (::geteuid() != 0) return {};
  auto user = lookup_service_user(c.user);
  if (!user) return make_error(Errc::not_found, c.path + ": " + user.error().message);
  if (!*user) return {};
  if (Status s = ensure_dir(c.data_dir); !s) return s;
  if (::chown(c.data_dir.c_str(), (*user)->uid, (*user)->gid) != 0)
    return make_error(Errc::internal, "cannot chown " + c.data_dir + ": " + std::strerror(errno));
  return become_user(**user);
}

}  // namespace

Result<const Config*> Context::config() {
  if (!config_) {
    auto loaded = load_config(config_paths);
    if (!loaded) return loaded.error();
    if (Status s = become_service_user(*loaded); !s) return s.error();
    config_ = std::move(*loaded);
  }
  return &*config_;
}

namespace {

// mkdir -p, with the last directory (data_dir itself) private to the mail server's group.
Status ensure_dir(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return {};
  std::filesystem::path p(path);
  if (p.has_parent_path()) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return make_error(Errc::internal, "cannot create " + p.parent_path().string() + ": " + ec.message());
  }
  if (::mkdir(path.c_str(), 0750) != 0 && errno != EEXIST)
    return make_error(Errc::internal, "cannot create data_dir " + path + ": " + std::strerror(errno));
  return {};
}

}  // namespace

Result<auth::AccountDb*> Context::accounts() {
  if (accounts_) return accounts_.get();
  auto cfg = config();
  if (!cfg) return cfg.error();
  if (Status s = ensure_dir((*cfg)->data_dir); !s.ok()) return s.error();
  auto db = auth::AccountDb::open((*cfg)->data_dir + "/accounts.db");
  if (!db) return db.error();
  accounts_ = std::move(*db);
  return accounts_.get();
}

Result<store::Store*> Context::store() {
  if (store_) return store_.get();
  auto cfg = config();
  if (!cfg) return cfg.error();
  store::StoreOptions options;
  options.data_dir = (*cfg)->data_dir;
  options.hostname = (*cfg)->hostname;
  options.reserve_file_bytes = (*cfg)->store.reserve_file_size;
  // A running ternd owns the store and did its crash recovery: do not redo it under it.
  options.wait_to_own = false;
  options.fts_text = mime::search_document;  // ternctl reindex rebuilds the full-text index
  auto opened = store::Store::open(options);
  if (!opened) return opened.error();
  store_ = std::move(*opened);
  return store_.get();
}

int fail(std::string_view problem) {
  std::string line(problem);
  // One line, always: a multi-line message would break scripts reading stderr.
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::cerr << "ternctl: " << line << std::endl;
  return kExitFailed;
}

int fail(const Error& error) { return fail(error.message); }

Result<std::string> read_password() {
  bool tty = ::isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::cerr << "Password: " << std::flush;
    if (::tcgetattr(STDIN_FILENO, &saved) == 0) {
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    } else {
      tty = false;
    }
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << std::endl;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (!got && line.empty()) return make_error(Errc::syntax, "no password on standard input");
  if (line.empty()) return make_error(Errc::syntax, "empty password refused");
  return line;
}

std::optional<uint64_t> parse_size(std::string_view text) {
  uint64_t mult = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K': case 'k': mult = 1ull << 10; break;
      case 'M': case 'm': mult = 1ull << 20; break;
      case 'G': case 'g': mult = 1ull << 30; break;
      default: break;
    }
    if (mult != 1) text.remove_suffix(1);
  }
  auto n = parse_u64(text);
  if (!n || *n > UINT64_MAX / mult) return std::nullopt;
  return *n * mult;
}

// Tells a running ternd (the pid in data_dir/ternd.lock) to look at its databases now:
// SIGUSR1. Returns what happened, for the user; `later` says when the daemon looks anyway.
std::string signal_daemon(const std::string& data_dir, std::string_view later) {
  std::string path = data_dir + "/ternd.lock";
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "ternd is not running; the next start picks it up";
  // The daemon holds an exclusive flock for its lifetime: if we can lock, nobody runs.
  if (::flock(fd, LOCK_SH | LOCK_NB) == 0) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
    return "ternd is not running; the next start picks it up";
  }
  char buf[32] = {0};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  ::close(fd);
  auto pid = n > 0 ? parse_u64(trim(std::string_view(buf, static_cast<size_t>(n)))) : std::nullopt;
  if (!pid || *pid == 0) return "cannot read ternd's pid; " + std::string(later);
  if (::kill(static_cast<pid_t>(*pid), SIGUSR1) != 0) return "cannot signal ternd; " + std::string(later);
  return "ternd notified";
}

}  // namespace tern::ctl
