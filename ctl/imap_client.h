// ctl/: a small blocking IMAP client for `ternctl import` (one connection, one command at a
// time; ternctl has no event loop). Plain TCP, implicit TLS or STARTTLS (RFC 9051 §6.2.1),
// OpenSSL with the server's certificate verified against the system roots or a given CA file
// (host name checked), unless the caller asks for `insecure`. Every read and write has a
// timeout; responses are framed and parsed by ctl/imap_response.h, so a misbehaving server
// ends in an error value.
#pragma once

#include <openssl/ssl.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "ctl/imap_response.h"

namespace tern::ctl::imap {

enum class Security { implicit_tls, starttls, none };

struct ServerAddress {
  std::string host;
  uint16_t port = 993;
  std::string user;
  Security security = Security::implicit_tls;
};

// "imaps://user@host[:port]" or "imap://user@host[:port]" (user may be %-encoded; the last
// '@' ends it). imap:// is plain text unless `starttls`.
Result<ServerAddress> parse_server_url(std::string_view url, bool starttls);

struct TlsOptions {
  std::string ca_file;  // empty: the system's roots
  bool insecure = false;  // no certificate check at all
};

struct Response {
  std::string tagged;                         // the tagged status line ("OK ...", "NO ...")
  std::vector<std::vector<Value>> untagged;   // each untagged response's values
  std::vector<std::string> untagged_lines;    // their first lines (for response codes)
  bool ok() const { return tagged.rfind("OK", 0) == 0; }
};

class Client {
 public:
  ~Client();
  // Connects, reads the greeting, does STARTTLS when asked and reads CAPABILITY.
  static Result<std::unique_ptr<Client>> connect(const ServerAddress& address, const TlsOptions& tls,
                                                 int timeout_seconds = 120);
  Status login(std::string_view user, std::string_view password);
  // Runs one command ("LIST \"\" \"*\""); each untagged response is handed to `on_untagged`
  // as it arrives (when set) instead of being kept, so a FETCH of many messages holds one at
  // a time. Errc::refused for a NO/BAD answer (its text in the message).
  Result<Response> command(std::string_view text,
                           const std::function<Status(std::vector<Value>&, std::string_view)>& on_untagged = {});
  bool has_capability(std::string_view cap) const;
  void logout();

 private:
  Client() = default;
  Status start_tls(const std::string& host, const TlsOptions& tls);
  Status write_all(std::string_view bytes);
  Result<size_t> read_some(char* buf, size_t n);
  Result<std::string> read_response();
  Status read_capabilities_if_missing();
  Result<Response> finish(const std::string& tag,
                          const std::function<Status(std::vector<Value>&, std::string_view)>& on_untagged);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buf_;
  std::vector<std::string> caps_;
  unsigned next_tag_ = 1;
};

}  // namespace tern::ctl::imap
