#include "common/config.h"

#include <toml++/toml.h>

#include <arpa/inet.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <functional>
#include <map>

#include "common/file.h"
#include "common/strings.h"

namespace tern {

std::string Endpoint::str() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host, port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return make_error(Errc::syntax, "expected [ipv6]:port");
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return make_error(Errc::syntax, "expected host:port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return make_error(Errc::syntax, "IPv6 addresses must be written [addr]:port");
  }
  auto p = parse_u64(port);
  if (!p || *p > 65535) return make_error(Errc::syntax, "port must be a number from 0 to 65535");
  if (host.empty()) return make_error(Errc::syntax, "missing host");
  Endpoint ep{std::string(host), static_cast<uint16_t>(*p)};
  unsigned char buf[16];
  bool v6 = ep.host.find(':') != std::string::npos;
  if (inet_pton(v6 ? AF_INET6 : AF_INET, ep.host.c_str(), buf) != 1 && ep.host != "localhost")
    return make_error(Errc::syntax, "host must be an IP address");
  if (ep.host == "localhost") ep.host = "127.0.0.1";
  return ep;
}

bool valid_ip_or_prefix(std::string_view text) {
  size_t slash = text.find('/');
  std::string host(text.substr(0, slash));
  unsigned char buf[16];
  bool v6 = ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
  bool ok = v6 || ::inet_pton(AF_INET, host.c_str(), buf) == 1;
  if (ok && slash != std::string_view::npos) {
    auto bits = parse_u64(text.substr(slash + 1));
    ok = bits && *bits <= (v6 ? 128u : 32u);
  }
  return ok;
}

namespace {
std::optional<uint32_t> ipv4_value(std::string_view text) {
  in_addr a{};
  if (::inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}
}  // namespace

Result<DnsblZone> parse_dnsbl_zone(std::string_view text) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find_first_of(" \t", i);
    if (j == std::string_view::npos) j = text.size();
    if (j > i) words.push_back(text.substr(i, j - i));
    i = j + 1;
  }
  if (words.size() < 2 || words.size() > 3)
    return make_error(Errc::syntax, "expected \"zone weight [codes]\"");
  DnsblZone z;
  z.zone = ascii_lower(words[0]);
  while (!z.zone.empty() && z.zone.back() == '.') z.zone.pop_back();
  if (z.zone.empty() || z.zone.find('.') == std::string::npos ||
      z.zone.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-._") != std::string::npos)
    return make_error(Errc::syntax, "bad zone name");
  std::string_view w = words[1];
  bool negative = !w.empty() && w.front() == '-';
  auto weight = parse_u64(negative ? w.substr(1) : w);
  if (!weight || *weight > 10000) return make_error(Errc::syntax, "weight must be an integer from -10000 to 10000");
  z.weight = negative ? -static_cast<int>(*weight) : static_cast<int>(*weight);
  if (words.size() == 3) {
    std::string_view codes = words[2];
    while (!codes.empty()) {
      size_t comma = codes.find(',');
      std::string_view item = codes.substr(0, comma);
      codes = comma == std::string_view::npos ? std::string_view() : codes.substr(comma + 1);
      size_t dash = item.find('-');
      auto lo = ipv4_value(item.substr(0, dash));
      auto hi = dash == std::string_view::npos ? lo : ipv4_value(item.substr(dash + 1));
      if (!lo || !hi || *lo > *hi)
        return make_error(Errc::syntax, "bad return code \"" + std::string(item) +
                                            "\": expected 127.0.0.2 or 127.0.0.2-127.0.0.11");
      z.codes.emplace_back(*lo, *hi);
    }
  }
  return z;
}

namespace {

// Walks one TOML table, applying known keys and reporting the first problem as
// "key.path: problem". Unknown keys are errors: a typo must not silently become a default.
class Reader {
 public:
  Reader(const toml::table& table, std::string prefix) : table_(table), prefix_(std::move(prefix)) {}

  std::string key_name(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
  }

  void fail(std::string_view key, const std::string& problem) {
    if (error_.empty()) error_ = key_name(key) + ": " + problem;
  }

  void string(std::string_view key, std::string& out) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    if (auto v = n->value<std::string>()) out = *v;
    else fail(key, "expected a string");
  }

  // A key an earlier version knew: a clear error that names what took its place.
  void replaced(std::string_view key, std::string_view by) {
    seen_.emplace_back(key);
    if (table_.get(key)) fail(key, "replaced by " + std::string(by) + " (see README)");
  }

  void boolean(std::string_view key, bool& out) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    if (auto v = n->value_exact<bool>()) out = *v;
    else fail(key, "expected true or false");
  }

  bool has(std::string_view key) const { return table_.get(key) != nullptr; }

  template <class Int>
  void integer(std::string_view key, Int& out, int64_t min, int64_t max) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    auto v = n->value_exact<int64_t>();
    if (!v) return fail(key, "expected an integer");
    if (*v < min || *v > max)
      return fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    out = static_cast<Int>(*v);
  }

  // A TOML integer or float.
  void number(std::string_view key, double& out, double min, double max) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    std::optional<double> v;
    if (auto i = n->value_exact<int64_t>()) v = static_cast<double>(*i);
    else if (auto d = n->value_exact<double>()) v = *d;
    if (!v) return fail(key, "expected a number");
    if (!(*v >= min && *v <= max))
      return fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    out = *v;
  }

  // A string or an array of strings.
  void strings(std::string_view key, std::vector<std::string>& out) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    out.clear();
    if (auto v = n->value_exact<std::string>()) {
      out.push_back(*v);
      return;
    }
    const toml::array* arr = n->as_array();
    if (!arr) return fail(key, "expected a string or a list of strings");
    for (const auto& item : *arr) {
      auto v = item.value_exact<std::string>();
      if (!v) return fail(key, "expected a list of strings");
      out.push_back(*v);
    }
  }

  void endpoints(std::string_view key, std::vector<Endpoint>& out) {
    std::vector<std::string> texts;
    strings(key, texts);
    if (!error_.empty() || !table_.get(key)) return;
    out.clear();
    for (const auto& t : texts) {
      auto ep = parse_endpoint(t);
      if (!ep) return fail(key, "bad address \"" + t + "\": " + ep.error().message);
      out.push_back(*ep);
    }
  }

  void int_list(std::string_view key, std::vector<int>& out, int min, int max) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr || arr->empty()) return fail(key, "expected a non-empty list of integers");
    out.clear();
    for (const auto& item : *arr) {
      auto v = item.value_exact<int64_t>();
      if (!v || *v < min || *v > max)
        return fail(key, "expected integers between " + std::to_string(min) + " and " +
                             std::to_string(max));
      out.push_back(static_cast<int>(*v));
    }
  }

  void section(std::string_view key, const std::function<void(Reader&)>& body) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    const toml::table* t = n->as_table();
    if (!t) return fail(key, "expected a table [" + key_name(key) + "]");
    Reader sub(*t, key_name(key));
    body(sub);
    sub.finish();
    if (error_.empty()) error_ = sub.error_;
  }

  // true, false or "auto", kept as that text.
  void bool_or_auto(std::string_view key, std::string& out) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    if (auto b = n->value_exact<bool>()) out = *b ? "true" : "false";
    else if (auto v = n->value_exact<std::string>(); v && *v == "auto") out = *v;
    else fail(key, "expected true, false or \"auto\"");
  }

  // An array of tables ([[prefix.key]]): body(reader, index) for each, the reader's keys
  // named "prefix.key[index].name" in errors.
  void tables(std::string_view key, const std::function<void(Reader&, size_t)>& body) {
    seen_.emplace_back(key);
    const toml::node* n = table_.get(key);
    if (!n) return;
    const toml::array* arr = n->as_array();
    if (!arr) return fail(key, "expected a list of tables [[" + key_name(key) + "]]");
    for (size_t i = 0; i < arr->size() && error_.empty(); ++i) {
      const toml::table* t = (*arr)[i].as_table();
      if (!t) return fail(key, "expected a list of tables [[" + key_name(key) + "]]");
      Reader sub(*t, key_name(key) + "[" + std::to_string(i) + "]");
      body(sub, i);
      sub.finish();
      if (error_.empty()) error_ = sub.error_;
    }
  }

  void one_of(std::string_view key, std::string& out, std::initializer_list<const char*> allowed) {
    string(key, out);
    for (const char* a : allowed)
      if (out == a) return;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "\"" : ", \"") + std::string(a) + "\"";
    fail(key, "must be one of " + list);
  }

  void finish() {
    for (const auto& [k, v] : table_) {
      bool known = false;
      for (const auto& s : seen_) known = known || s == k.str();
      if (!known) fail(k.str(), "unknown key");
    }
  }

  const std::string& error() const { return error_; }

 private:
  const toml::table& table_;
  std::string prefix_;
  std::vector<std::string> seen_;
  std::string error_;
};

}  // namespace

namespace {

Result<toml::table> parse_table(std::string_view toml_text, const std::string& path) {
  try {
    return toml::parse(toml_text, path);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::syntax, path + ":" + std::to_string(e.source().begin.line) + ": " +
                                        std::string(e.description()));
  }
}

// A later file's keys replace an earlier file's; tables merge key by key, so an override file
// can change one key of [limits] and keep the rest. Arrays are values: replaced whole.
void merge_into(toml::table& base, const toml::table& over) {
  for (const auto& [key, value] : over) {
    auto* into = base.get_as<toml::table>(key);
    if (into && value.is_table()) {
      merge_into(*into, *value.as_table());
      continue;
    }
    base.insert_or_assign(key, value);
  }
}

Result<Config> config_from_table(const toml::table& root, const std::string& path);

}  // namespace

Result<Config> parse_config(std::string_view toml_text, const std::string& path) {
  auto root = parse_table(toml_text, path);
  if (!root) return root.error();
  return config_from_table(*root, path);
}

namespace {

// "unix:/path", "/path", "ip:port" or "[ipv6]:port" (scanners are not looked up in DNS).
bool scanner_address_ok(std::string_view a) {
  if (a.rfind("unix:", 0) == 0) a.remove_prefix(5);
  if (!a.empty() && a.front() == '/') return a.size() < 100;
  size_t colon = a.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  auto port = parse_u64(a.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return false;
  std::string host(a.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool valid_sender_entry(const std::string& who) {
  return !who.empty() && who.find_first_of(" \t<>\"") == std::string::npos && who.back() != '@';
}

// [screen] (common/config.h ScreenConfig).
void read_screen(Reader& s, ScreenConfig& m) {
  s.integer("greet_delay_ms", m.greet_delay_ms, 0, 30000);
  s.boolean("reject_pipelining", m.reject_pipelining);
  s.strings("allow_ips", m.allow_ips);
  for (const auto& ip : m.allow_ips)
    if (!valid_ip_or_prefix(ip))
      return s.fail("allow_ips", "bad address \"" + ip + "\": expected an IP address or address/prefix");
  std::vector<std::string> zones;
  s.strings("dnsbl", zones);
  m.dnsbl.clear();
  for (const auto& z : zones) {
    auto zone = parse_dnsbl_zone(z);
    if (!zone) return s.fail("dnsbl", "bad entry \"" + z + "\": " + zone.error().message);
    m.dnsbl.push_back(*zone);
  }
  s.integer("dnsbl_reject_score", m.dnsbl_reject_score, 0, 1000000);
  s.integer("dnsbl_wait", m.dnsbl_wait, 1, 60);
  s.integer("connections_per_minute", m.connections_per_minute, 0, 1000000);
  s.integer("messages_per_hour", m.messages_per_hour, 0, 100000000);
  s.integer("recipients_per_hour", m.recipients_per_hour, 0, 100000000);
  s.integer("rate_limit_entries", m.rate_limit_entries, 100, 100000000);
  s.boolean("greylist", m.greylist);
  s.integer("greylist_delay", m.greylist_delay, 0, 86400);
  s.integer("greylist_retry_window", m.greylist_retry_window, 60, 86400 * 30);
  s.integer("greylist_pass_ttl", m.greylist_pass_ttl, 3600, 86400 * 365);
  s.integer("greylist_max_entries", m.greylist_max_entries, 100, 100000000);
  s.strings("greylist_allow_senders", m.greylist_allow_senders);
  for (const auto& who : m.greylist_allow_senders)
    if (!valid_sender_entry(who))
      return s.fail("greylist_allow_senders", "bad entry \"" + who + "\": expected local@domain or a domain");
  if (m.greylist_retry_window <= m.greylist_delay)
    s.fail("greylist_retry_window", "must be longer than screen.greylist_delay");
}

Result<Config> config_from_table(const toml::table& root, const std::string& path) {
  Config c;
  c.path = path;
  bool min_free_set = false;  // store.min_free_space: its default depends on other keys
  Reader r(root, "");
  r.string("hostname", c.hostname);
  r.string("data_dir", c.data_dir);
  r.string("user", c.user);
  r.string("postmaster", c.postmaster);
  if (!c.postmaster.empty()) {
    size_t at = c.postmaster.rfind('@');
    if (at == std::string::npos || at == 0 || at + 1 == c.postmaster.size() ||
        c.postmaster.find_first_of(" \t<>\"") != std::string::npos)
      r.fail("postmaster", "bad address \"" + c.postmaster + "\": expected local@domain");
  }
  r.one_of("log_level", c.log_level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
  r.section("tls", [&](Reader& s) {
    s.string("cert", c.tls.cert);
    s.string("key", c.tls.key);
    s.tables("sni", [&](Reader& t, size_t) {
      TlsConfig::Certificate one;
      t.string("cert", one.cert);
      t.string("key", one.key);
      if (one.cert.empty()) t.fail("cert", "required");
      else if (one.key.empty()) t.fail("key", "required");
      c.tls.sni.push_back(std::move(one));
    });
    if (!c.tls.sni.empty() && c.tls.cert.empty()) s.fail("sni", "needs tls.cert and tls.key (the default certificate)");
  });
  r.section("listen", [&](Reader& s) {
    s.endpoints("smtp", c.listen.smtp);
    s.endpoints("submission", c.listen.submission);
    s.endpoints("submissions", c.listen.submissions);
    s.endpoints("imap", c.listen.imap);
    s.endpoints("imaps", c.listen.imaps);
    s.endpoints("pop3", c.listen.pop3);
    s.endpoints("pop3s", c.listen.pop3s);
    s.endpoints("http", c.listen.http);
    s.endpoints("https", c.listen.https);
  });
  r.section("http", [&](Reader& s) {
    s.strings("metrics_allow", c.http.metrics_allow);
    for (const auto& ip : c.http.metrics_allow)
      if (!valid_ip_or_prefix(ip)) {
        s.fail("metrics_allow", "bad address \"" + ip + "\": expected an IP address or address/prefix");
        break;
      }
  });
  r.section("mta_sts", [&](Reader& s) {
    s.one_of("mode", c.mta_sts.mode, {"enforce", "testing", "none"});
    s.integer("max_age", c.mta_sts.max_age, 1, 31557600);  // RFC 8461 §3.2: at most a year
    s.strings("mx", c.mta_sts.mx);
    for (auto& mx : c.mta_sts.mx) {
      mx = ascii_lower(mx);
      if (mx.empty() || mx.find_first_of(" \t@<>:/") != std::string::npos) {
        s.fail("mx", "bad name \"" + mx + "\": expected a host name or *.domain");
        break;
      }
    }
  });
  r.section("auth", [&](Reader& s) {
    auto& a = c.auth;
    s.boolean("allow_plaintext_without_tls", a.allow_plaintext_without_tls);
    s.integer("delay_after_failures", a.delay_after_failures, 0, 1000);
    s.integer("failure_delay_ms", a.failure_delay_ms, 0, 60000);
    s.integer("max_failures_per_ip", a.max_failures_per_ip, 1, 1000000);
    s.integer("max_failures_per_account", a.max_failures_per_account, 1, 1000000);
    s.integer("failure_window", a.failure_window, 1, 86400 * 7);
    s.integer("lockout", a.lockout, 0, 86400 * 7);
    s.integer("credential_cache_ttl", a.credential_cache_ttl, 0, 3600);
  });
  r.section("limits", [&](Reader& s) {
    auto& l = c.limits;
    s.integer("max_connections", l.max_connections, 1, 1000000);
    s.integer("max_unauthenticated_per_ip", l.max_unauthenticated_per_ip, 1, 1000000);
    s.integer("max_user_ip_connections", l.max_user_ip_connections, 1, 1000000);
    s.integer("smtp_max_connections_per_ip", l.smtp_max_connections_per_ip, 1, 1000000);
    s.replaced("max_connections_per_ip",
               "limits.max_unauthenticated_per_ip, limits.max_user_ip_connections and "
               "limits.smtp_max_connections_per_ip");
    s.integer("worker_threads", l.worker_threads, 1, 1024);
    s.integer("shutdown_grace", l.shutdown_grace, 0, 3600);
  });
  r.section("smtp", [&](Reader& s) {
    auto& m = c.smtp;
    s.integer("max_message_size", m.max_message_size, 1024, int64_t(1) << 40);
    s.integer("max_recipients", m.max_recipients, 100, 100000);
    s.integer("max_line_length", m.max_line_length, 1000, 1 << 20);
    s.integer("max_errors", m.max_errors, 1, 10000);
    s.integer("command_timeout", m.command_timeout, 1, 86400);
    s.integer("data_timeout", m.data_timeout, 1, 86400);
    s.one_of("bare_newline", m.bare_newline, {"reject", "normalize"});
    s.boolean("auth_on_mx", m.auth_on_mx);
  });
  r.section("imap", [&](Reader& s) {
    auto& m = c.imap;
    s.integer("max_line_length", m.max_line_length, 1000, 1 << 24);
    s.integer("max_literal_size", m.max_literal_size, 1024, int64_t(1) << 40);
    s.integer("idle_timeout", m.idle_timeout, 1, 86400);
    s.integer("max_errors", m.max_errors, 1, 10000);
  });
  r.section("pop3", [&](Reader& s) {
    s.integer("idle_timeout", c.pop3.idle_timeout, 1, 86400);
    s.integer("max_errors", c.pop3.max_errors, 1, 10000);
    s.string("uidl_format", c.pop3.uidl_format);  // checked by ternd (pop3d::UidlFormat)
  });
  r.section("store", [&](Reader& s) {
    s.integer("default_quota", c.store.default_quota, 0, int64_t(1) << 50);
    min_free_set = s.has("min_free_space");
    s.integer("min_free_space", c.store.min_free_space, 0, int64_t(1) << 50);
    s.integer("reserve_file_size", c.store.reserve_file_size, 0, int64_t(1) << 40);
  });
  r.section("relay", [&](Reader& s) {
    auto& m = c.relay;
    s.integer("smtp_port", m.smtp_port, 1, 65535);
    s.endpoints("dns", m.dns);
    std::string smarthost;
    s.string("smarthost", smarthost);
    if (!smarthost.empty()) {
      // A smarthost is usually a name, not an address: keep the host text unvalidated here,
      // the relay resolves it.
      size_t colon = smarthost.rfind(':');
      auto port = colon == std::string::npos ? std::nullopt : parse_u64(smarthost.substr(colon + 1));
      if (!port || *port == 0 || *port > 65535 || colon == 0)
        s.fail("smarthost", "bad address \"" + smarthost + "\": expected host:port");
      else
        m.smarthost.address = Endpoint{smarthost.substr(0, colon), static_cast<uint16_t>(*port)};
    }
    s.string("smarthost_username", m.smarthost.username);
    s.string("smarthost_password", m.smarthost.password);
    s.one_of("smarthost_tls", m.smarthost.tls, {"starttls", "implicit", "none"});
    s.boolean("smarthost_verify", m.smarthost.verify);
    s.string("smarthost_ca_file", m.smarthost.ca_file);
    s.int_list("retry_schedule", m.retry_schedule, 1, 86400);
    s.integer("max_queue_lifetime", m.max_queue_lifetime, 1, 86400 * 60);
    s.integer("delay_warning_after", m.delay_warning_after, 0, 86400 * 60);
    s.integer("max_concurrency", m.max_concurrency, 1, 10000);
    s.integer("max_per_destination", m.max_per_destination, 1, 10000);
    s.integer("connect_timeout", m.connect_timeout, 1, 3600);
    s.strings("require_tls_domains", m.require_tls_domains);
    s.one_of("undeliverable_bounce", m.undeliverable_bounce, {"drop", "postmaster"});
  });
  r.section("dns", [&](Reader& s) { s.endpoints("servers", c.dns.servers); });
  r.section("inbound_auth", [&](Reader& s) {
    auto& a = c.inbound_auth;
    for (auto [key, mode] : {std::pair{"spf", &a.spf}, {"dkim", &a.dkim}, {"dmarc", &a.dmarc},
                             {"iprev", &a.iprev}})
      s.one_of(key, *mode, {"off", "record", "enforce"});
    s.integer("timeout", a.timeout, 1, 120);
    s.one_of("spf_temperror", a.spf_temperror, {"accept", "tempfail"});
    s.strings("allow_senders", a.allow_senders);
    s.strings("allow_ips", a.allow_ips);
    for (const auto& ip : a.allow_ips)
      if (!valid_ip_or_prefix(ip)) {
        s.fail("allow_ips", "bad address \"" + ip + "\": expected an IP address or address/prefix");
        break;
      }
    for (const auto& who : a.allow_senders)
      if (!valid_sender_entry(who)) {
        s.fail("allow_senders", "bad entry \"" + who + "\": expected local@domain or a domain");
        break;
      }
  });
  r.section("srs", [&](Reader& s) {
    s.boolean("enabled", c.srs.enabled);
    s.string("domain", c.srs.domain);
    c.srs.domain = ascii_lower(c.srs.domain);
    if (c.srs.domain.find_first_of(" \t@<>") != std::string::npos)
      s.fail("domain", "bad domain \"" + c.srs.domain + "\"");
    s.integer("max_age", c.srs.max_age, 1, 1000);  // the stamp wraps after 1024 days
  });
  r.section("spam", [&](Reader& s) {
    auto& m = c.spam;
    s.boolean("enabled", m.enabled);
    s.number("junk_threshold", m.junk_threshold, -1000, 1000000);
    s.number("reject_threshold", m.reject_threshold, -1000, 1000000);
    if (m.reject_threshold < m.junk_threshold)
      s.fail("reject_threshold", "must not be below spam.junk_threshold");
    s.strings("uribl", m.uribl);
    for (const auto& z : m.uribl) {
      size_t colon = z.rfind(':');
      char* end = nullptr;
      std::string weight = colon == std::string::npos ? "" : z.substr(colon + 1);
      std::strtod(weight.c_str(), &end);
      if (colon == std::string::npos || colon == 0 || weight.empty() || *end != '\0' ||
          z.find_first_of(" \t/") != std::string::npos) {
        s.fail("uribl", "bad entry \"" + z + "\": expected zone:weight, e.g. dbl.example.org:4");
        break;
      }
    }
    s.integer("dns_timeout", m.dns_timeout, 1, 60);
  });
  auto scanner = [](Reader& s, ScannerConfig& m, bool clamav) {
    s.string("address", m.address);
    if (!m.address.empty() && !scanner_address_ok(m.address))
      s.fail("address", "bad address \"" + m.address +
                            "\": expected unix:/path/to/socket or ip:port (a literal address)");
    s.integer("timeout", m.timeout, 1, 600);
    s.one_of("on_failure", m.on_failure, {"tempfail", "accept"});
    if (clamav) s.boolean("scan_submission", m.scan_submission);
    else s.one_of("mode", m.mode, {"add", "replace"});
  };
  r.section("clamav", [&](Reader& s) { scanner(s, c.clamav, true); });
  r.section("rspamd", [&](Reader& s) { scanner(s, c.rspamd, false); });
  r.section("screen", [&](Reader& s) { read_screen(s, c.screen); });
  r.section("dmarc_reports", [&](Reader& s) {
    auto& m = c.dmarc_reports;
    s.bool_or_auto("enabled", m.enabled);
    s.string("from", m.from);
    m.from = ascii_lower(m.from);
    if (!m.from.empty() && (!parse_mail_address(m.from) || !valid_sender_entry(m.from)))
      s.fail("from", "bad address \"" + m.from + "\": expected local@domain");
    s.string("org_name", m.org_name);
    s.integer("send_hour_utc", m.send_hour_utc, 0, 23);
    s.integer("max_rows_per_domain", m.max_rows_per_domain, 1, 1000000);
  });
  r.section("acme", [&](Reader& s) {
    auto& m = c.acme;
    s.boolean("enabled", m.enabled);
    s.string("directory", m.directory);
    // RFC 8555 §6.1: ACME runs over HTTPS only.
    if (m.enabled && m.directory.rfind("https://", 0) != 0)
      s.fail("directory", "required when acme.enabled: the CA's https:// directory URL");
    s.string("contact", m.contact);
    if (!m.contact.empty() && !parse_mail_address(m.contact))
      s.fail("contact", "bad address \"" + m.contact + "\": expected local@domain");
    s.string("ca_file", m.ca_file);
    s.strings("names", m.names);
    for (auto& n : m.names) {
      n = ascii_lower(n);
      if (n.empty() || n.find_first_of(" \t@/*:") != std::string::npos) {
        s.fail("names", "bad name \"" + n + "\": expected a DNS name");
        break;
      }
    }
    s.one_of("challenge", m.challenge, {"http-01", "tls-alpn-01"});
    s.integer("test_renew_after", m.test_renew_after, 0, 86400 * 365);
  });
  r.finish();
  if (!r.error().empty()) return make_error(Errc::syntax, path + ": " + r.error());
  if (c.data_dir.empty()) return make_error(Errc::syntax, path + ": data_dir: required");
  if (c.hostname.empty()) return make_error(Errc::syntax, path + ": hostname: must not be empty");
  if (!min_free_set)
    c.store.min_free_space = std::max<uint64_t>(c.smtp.max_message_size, c.imap.max_literal_size) +
                             StoreConfig::kIndexGrowthReserve;
  return c;
}

}  // namespace

Result<Config> load_config(const std::vector<std::string>& paths) {
  if (paths.empty()) return make_error(Errc::syntax, "no configuration file given");
  toml::table merged;
  for (const std::string& path : paths) {
    auto text = read_file(path);
    if (!text) return make_error(Errc::not_found, path + ": cannot read the configuration file");
    auto table = parse_table(*text, path);
    if (!table) return table.error();
    merge_into(merged, *table);
  }
  // Problems with keys are found after the merge: name every file they may come from.
  std::string label = paths.front();
  for (size_t i = 1; i < paths.size(); ++i) label += " + " + paths[i];
  return config_from_table(merged, label);
}

Result<Config> load_config(const std::string& path) {
  return load_config(std::vector<std::string>{path});
}

}  // namespace tern
