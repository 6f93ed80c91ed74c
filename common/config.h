// The ternd/ternctl configuration: one TOML file, parsed once at start-up into plain structs.
//
// Contract (README "Configuration" documents every key): unknown keys, wrong types, bad
// addresses and missing required keys are errors, reported as one line that names the file,
// the key and the problem, e.g.
//   /etc/tern/ternd.toml: listen.smtp: bad address "0.0.0.0": expected host:port
// Durations are integers of seconds; sizes are integers of bytes.
// Sessions never read this struct directly: the daemon copies the part each one needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace tern {

struct Endpoint {
  std::string host;  // "0.0.0.0", "::", "127.0.0.1", "::1", or a literal address
  uint16_t port = 0;
  std::string str() const;  // "host:port", IPv6 as "[::1]:25"
};

// Parses "host:port" or "[v6]:port". Port 0 means "ephemeral" (tests).
Result<Endpoint> parse_endpoint(std::string_view text);

struct TlsConfig {
  std::string cert;  // PEM chain
  std::string key;   // PEM private key
  // More certificates, each offered to clients that ask for a name it covers (SNI);
  // [[tls.sni]] tables with cert and key. cert/key above stay the default.
  struct Certificate {
    std::string cert, key;
  };
  std::vector<Certificate> sni;
};

struct ListenConfig {
  std::vector<Endpoint> smtp, submission, submissions, imap, imaps, pop3, pop3s;
  std::vector<Endpoint> http, https;  // autoconfig, MTA-STS, ACME HTTP-01, /metrics (http/)
};

// [http]: the HTTP listeners' resources (http/http.h).
struct HttpConfig {
  // Client addresses that may read /metrics; others get 403.
  std::vector<std::string> metrics_allow = {"127.0.0.0/8", "::1"};
};

// [mta_sts]: the policy served at https://mta-sts.<domain>/.well-known/mta-sts.txt
// (RFC 8461 §3.2) for every local domain.
struct MtaStsConfig {
  std::string mode = "testing";  // "enforce", "testing" or "none"
  int max_age = 604800;          // seconds senders cache the policy (RFC 8461 §3.2: max 31557600)
  std::vector<std::string> mx;   // MX names (or "*.example.net"); empty: the hostname
};

struct AuthConfig {
  bool allow_plaintext_without_tls = false;
  // Brute-force protection: after `delay_after_failures` failures in `failure_window`
  // the answer is delayed by `failure_delay_ms`; past `max_failures_per_ip` (or
  // `max_failures_per_account`) within the window, logins are refused for `lockout`.
  int delay_after_failures = 3;
  int failure_delay_ms = 2000;
  int max_failures_per_ip = 10;
  int max_failures_per_account = 20;
  int failure_window = 900;
  int lockout = 900;
  // Seconds a verified password may skip argon2id on the next login (0 = always hash).
  int credential_cache_ttl = 60;
};

struct LimitsConfig {
  int max_connections = 1000;
  // Per client address. An office behind one NAT address is many users at once, so the
  // login listeners (IMAP, POP3, submission) limit only connections that have not logged in,
  // and after login each user gets `max_user_ip_connections` per protocol from one address
  // (Thunderbird keeps 5 IMAP connections per account). The MX listener has its own count,
  // at least Postfix's smtpd_client_connection_count_limit (50).
  int max_unauthenticated_per_ip = 100;
  int max_user_ip_connections = 20;
  int smtp_max_connections_per_ip = 50;
  int worker_threads = 32;  // blocking work: SQLite, fsync, password hashing
  int shutdown_grace = 30;  // SIGTERM: seconds to let in-flight transactions finish
};

struct SmtpConfig {
  uint64_t max_message_size = 50ull << 20;  // advertised as SIZE
  int max_recipients = 100;                 // RFC 5321 §4.5.3.1.8: at least 100
  int max_line_length = 1000;               // RFC 5321 §4.5.3.1.6, incl. CRLF
  int max_errors = 10;                      // then 421 and disconnect
  int command_timeout = 300;                // RFC 5321 §4.5.3.2.7
  int data_timeout = 600;
  std::string bare_newline = "reject";      // "reject" (550) or "normalize" (LF -> CRLF)
  // AUTH on the MX listener (port 25). Off: password guessing arrives on port 25, and
  // clients submit on 587/465 (RFC 6409, RFC 8314); as Postfix, SASL on submission only.
  bool auth_on_mx = false;
};

struct ImapConfig {
  int max_line_length = 65536;
  uint64_t max_literal_size = 50ull << 20;  // APPENDLIMIT
  int idle_timeout = 1800;                  // RFC 9051 §5.4: at least 30 minutes
  int max_errors = 20;
};

struct Pop3Config {
  int idle_timeout = 600;  // RFC 1939 §3: at least 10 minutes
  int max_errors = 10;
  // The unique-id of UIDL (pop3d/uidl_format.h): "%v.%u"; "%08Xu%08Xv" serves the ids a
  // Dovecot with its default pop3_uidl_format served for mail moved in from it.
  std::string uidl_format = "%v.%u";
};

struct StoreConfig {
  uint64_t default_quota = 0;  // bytes per new user, 0 = unlimited
  // Free-space guard (store/free_space.h): new mail is refused (SMTP 452 4.3.1, IMAP APPEND
  // NO [OVERQUOTA]) while less than this would stay free on data_dir's file system (or the
  // queue's). Unset: the largest message the config accepts (smtp.max_message_size or
  // imap.max_literal_size) plus kIndexGrowthReserve. 0 = never refuse.
  uint64_t min_free_space = 0;
  // data_dir/tern-reserve, preallocated; released when a deletion finds the disk full.
  uint64_t reserve_file_size = 8 * 1024 * 1024;
  // The index's worst-case growth before its WAL is checkpointed (wal_autocheckpoint: 8000
  // pages of 4 KiB), which a deletion on a nearly full disk may need.
  static constexpr uint64_t kIndexGrowthReserve = 32 * 1024 * 1024;
};

struct SmarthostConfig {
  Endpoint address;           // empty host = deliver by MX
  std::string username;
  std::string password;
  std::string tls = "starttls";  // "starttls", "implicit" or "none"
  // The credentials go only to a server whose certificate chains to a trusted CA (the
  // system's, or ca_file) and names the smarthost host; false = encrypt without checking.
  bool verify = true;
  std::string ca_file;
};

struct RelayConfig {
  uint16_t smtp_port = 25;
  std::vector<Endpoint> dns;  // empty: /etc/resolv.conf
  SmarthostConfig smarthost;
  std::vector<int> retry_schedule = {300, 600, 1200, 2400, 3600};  // last one repeats
  int max_queue_lifetime = 5 * 86400;
  int delay_warning_after = 4 * 3600;
  int max_concurrency = 20;
  int max_per_destination = 4;
  int connect_timeout = 30;
  std::vector<std::string> require_tls_domains;
  std::string undeliverable_bounce = "drop";  // "drop" or "postmaster"
};

// [dns]: the resolvers of every ternd lookup (relay MX lookups, sender authentication).
struct DnsConfig {
  std::vector<Endpoint> servers;  // empty: /etc/resolv.conf
};

// [inbound_auth]: SPF, DKIM, DMARC and iprev on the MX listener (daemon/inbound_checks.h).
// Modes: "off" (not reported), "record" (Authentication-Results only), "enforce" (acted on).
struct InboundAuthConfig {
  std::string spf = "enforce", dkim = "enforce", dmarc = "enforce", iprev = "enforce";
  int timeout = 10;  // seconds the end of DATA waits for missing DNS answers (then temperror)
  // RFC 7208 §8.6: an SPF temperror (DMARC not passing) is "accept"ed or answered 451 4.4.3.
  std::string spf_temperror = "accept";
  std::vector<std::string> allow_senders;  // "user@domain" or "domain": never rejected/junked
  std::vector<std::string> allow_ips;      // "192.0.2.1", "2001:db8::/32"
};

// [srs]: the Sender Rewriting Scheme for aliases that forward off-site (authn/srs.h).
struct SrsConfig {
  bool enabled = true;  // acts only when an alias forwards; off: no rewriting, no SRS bounces
  std::string domain;   // the rewritten sender's domain; empty: the forwarding alias's domain
  int max_age = 21;     // days a bounce to an SRS0 address is accepted
};

// [spam]: the built-in content scoring of the MX listener (spam/spam.h, daemon/content_stage.h).
struct SpamConfig {
  bool enabled = true;
  double junk_threshold = 5.0;     // score >= this: the Junk folder with $Junk
  double reject_threshold = 15.0;  // score >= this: 550 5.7.1 at the end of DATA
  std::vector<std::string> uribl;  // "zone:weight" URI blocklists for domains in the body
  int dns_timeout = 5;             // seconds the URI blocklist lookups may take in all
};

// [clamav] and [rspamd]: the external scanners (spam/scanners.h). Empty address: off.
struct ScannerConfig {
  std::string address;                 // "unix:/path", "/path" or "ip:port"
  int timeout = 30;                    // seconds for the whole exchange
  std::string on_failure = "tempfail";  // "tempfail" (451 4.7.1) or "accept" (with a header)
  bool scan_submission = false;        // clamav only: scan authenticated mail too
  std::string mode = "add";            // rspamd only: "add" its score, or "replace" ours
};

// [screen]: the MX listener's connection and envelope stage (issue 17; daemon/screen_glue.h).
// Authenticated clients, the submission listeners and `allow_ips` are exempt.
struct DnsblZone {
  std::string zone;  // "zen.spamhaus.org" (lower-case, no trailing dot)
  int weight = 1;    // added to the client's blocklist score per hit; negative: an allowlist
  // The A answers that count, as IPv4 ranges (host order, inclusive); empty: any 127.0.0.0/8
  // answer but 127.0.0.1 (RFC 5782 §2.1: answers are 127.0.0.0/8 and 127.0.0.1 is never one).
  std::vector<std::pair<uint32_t, uint32_t>> codes;
};
// "zone weight [code,code-code,...]", e.g. "zen.spamhaus.org 5 127.0.0.2-127.0.0.11".
Result<DnsblZone> parse_dnsbl_zone(std::string_view text);
// "192.0.2.1", "2001:db8::/32": the check config.cpp gives every *allow_ips key.
bool valid_ip_or_prefix(std::string_view text);

struct ScreenConfig {
  int greet_delay_ms = 1000;      // wait before the 220; input meanwhile: 554 (0 = no wait)
  bool reject_pipelining = true;  // RFC 2920 §3.1 violations before EHLO is answered: 554
  std::vector<std::string> allow_ips = {"127.0.0.0/8", "::1"};
  std::vector<DnsblZone> dnsbl;
  int dnsbl_reject_score = 0;  // RCPT answers 550 5.7.1 at this total weight (0 = never)
  int dnsbl_wait = 5;          // seconds RCPT waits for blocklist answers still missing
  // Per client address (/32, IPv6 /64); 0 = unlimited.
  int connections_per_minute = 60;
  int messages_per_hour = 1000;
  int recipients_per_hour = 3000;
  int rate_limit_entries = 100000;  // addresses remembered at most
  bool greylist = false;
  int greylist_delay = 300;               // seconds before a retry is accepted
  int greylist_retry_window = 86400;      // a retry later than this starts over
  int greylist_pass_ttl = 36 * 86400;     // a passed triplet is allowed this long after use
  int greylist_max_entries = 200000;      // rows kept at most (the oldest go first)
  std::vector<std::string> greylist_allow_senders;  // "user@domain" or "domain"
};

// [dmarc_reports]: DMARC aggregate reports (RFC 7489 §7.2) about mail the MX listener
// received (daemon/dmarc_reports.h).
struct DmarcReportsConfig {
  std::string enabled = "auto";  // "auto" (on when a DKIM key exists for `from`'s domain), "true", "false"
  std::string from;      // empty: noreply-dmarc@<organizational domain of hostname>
  std::string org_name;  // empty: the From address's domain
  int send_hour_utc = 0; // the daily send, for the days before
  int max_rows_per_domain = 10000;  // distinct rows per policy domain and day
};

// [acme]: certificates from an ACME CA (RFC 8555), see acme/acme.h.
struct AcmeConfig {
  bool enabled = false;
  std::string directory;  // the CA's directory URL (https://)
  std::string contact;    // email address for the account
  std::string ca_file;    // CA bundle for the ACME server's HTTPS; empty: the system's
  std::vector<std::string> names;  // empty: hostname + mta-sts./autoconfig. of local domains
  std::string challenge = "http-01";  // or "tls-alpn-01"
  int test_renew_after = 0;  // test only: renew N seconds after notBefore (0: 2/3 of lifetime)
};

struct Config {
  std::string path;  // the file this came from, for messages
  std::string hostname = "localhost";
  std::string data_dir;
  std::string user;
  std::string postmaster;  // where postmaster@<each local domain> goes unless defined there
  std::string log_level = "info";
  TlsConfig tls;
  ListenConfig listen;
  AuthConfig auth;
  LimitsConfig limits;
  SmtpConfig smtp;
  ImapConfig imap;
  Pop3Config pop3;
  StoreConfig store;
  RelayConfig relay;
  DnsConfig dns;
  InboundAuthConfig inbound_auth;
  SrsConfig srs;
  SpamConfig spam;
  ScannerConfig clamav;
  ScannerConfig rspamd;
  ScreenConfig screen;
  DmarcReportsConfig dmarc_reports;
  AcmeConfig acme;
  HttpConfig http;
  MtaStsConfig mta_sts;
};

// Reads and validates the file. Does not touch the certificate or data_dir beyond
// checking nothing; callers (ternd) check readability of files themselves so that the
// message can name the key.
Result<Config> load_config(const std::string& path);
// Several files, each overriding the ones before it key by key (tables merge, other values
// are replaced): a packaged /etc/tern/ternd.toml plus a local override, say. Errors about keys
// name the files as "a.toml + b.toml".
Result<Config> load_config(const std::vector<std::string>& paths);
Result<Config> parse_config(std::string_view toml_text, const std::string& path_for_messages);

}  // namespace tern
