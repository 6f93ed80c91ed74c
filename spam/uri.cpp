// URI/domain blocklists: the domains of the links in the body and their DNS lookups (see
// spam/spam.h).
#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <set>

#include "common/strings.h"
#include "mime/mime.h"
#include "spam/internal.h"
#include "spam/spam.h"

namespace tern::spam {

namespace {

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

// The host of a link starting at `pos` (just after "://" or at "www."), or "".
std::string host_at(std::string_view text, size_t pos) {
  // userinfo@host: the host is after the last '@' before the path.
  size_t end = pos;
  while (end < text.size() && std::string_view("/?#\"'<>() \t\r\n\\").find(text[end]) == std::string_view::npos)
    ++end;
  std::string_view auth = text.substr(pos, end - pos);
  if (size_t at = auth.rfind('@'); at != std::string_view::npos) auth = auth.substr(at + 1);
  size_t n = 0;
  while (n < auth.size() && host_char(auth[n])) ++n;
  std::string host = ascii_lower(auth.substr(0, n));
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host.rfind("www.", 0) == 0) host = host.substr(4);
  // A name with at least one dot and a letter in its last label (no IP literals).
  size_t dot = host.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == host.size()) return "";
  if (!std::any_of(host.begin() + dot + 1, host.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); }))
    return "";
  if (host.size() > 253) return "";
  return host;
}

void scan_text(std::string_view text, std::vector<std::string>& out, size_t max) {
  std::string lower = ascii_lower(text);
  for (size_t pos = 0; out.size() < max;) {
    size_t scheme = lower.find("://", pos);
    size_t www = lower.find("www.", pos);
    size_t hit = std::min(scheme, www);
    if (hit == std::string::npos) break;
    bool is_scheme = hit == scheme;
    if (is_scheme) {
      // Only http(s): "ftp://" and friends are rare in spam and "x://" in prose is noise.
      bool http = (hit >= 4 && lower.compare(hit - 4, 4, "http") == 0) ||
                  (hit >= 5 && lower.compare(hit - 5, 5, "https") == 0);
      pos = hit + 3;
      if (!http) continue;
    } else {
      pos = hit + 4;
      if (hit > 0 && (host_char(lower[hit - 1]) || lower[hit - 1] == '/')) continue;
    }
    std::string host = host_at(lower, is_scheme ? hit + 3 : hit);
    if (!host.empty() && std::find(out.begin(), out.end(), host) == out.end()) out.push_back(host);
  }
}

void walk_text(const mime::Message& msg, const mime::Part& p, std::vector<std::string>& out,
               size_t max) {
  if (out.size() >= max) return;
  if (p.is_multipart() || !p.children.empty()) {
    for (const auto& c : p.children) walk_text(msg, c, out, max);
    return;
  }
  if (p.type != "text") return;
  auto body = mime::decode_body(msg, p);
  if (body) scan_text(*body, out, max);
}

}  // namespace

void collect_domains(const mime::Message& msg, std::vector<std::string>& out, size_t max) {
  walk_text(msg, msg.root(), out, max);
}

std::vector<std::string> body_domains(std::string_view message, size_t max) {
  auto msg = mime::Message::parse(std::string(message));
  std::vector<std::string> out;
  collect_domains(msg, out, max);
  return out;
}

bool uribl_listed(const dns::Answer& answer) {
  if (answer.rcode != dns::Rcode::ok) return false;
  for (const auto& a : answer.records) {
    // 127.0.0.0/8 is the listing convention; 127.255.255.x are the "you may not query" codes
    // some lists return to open resolvers: counting those would list everything.
    if (a.rfind("127.", 0) != 0 || a.rfind("127.255.255.", 0) == 0) continue;
    return true;
  }
  return false;
}

std::function<void()> lookup_uribl(dns::RecordResolver& resolver, const std::vector<std::string>& domains,
                  const std::vector<UriblZone>& zones,
                  std::function<void(std::vector<Contribution>)> done) {
  struct State {
    size_t pending = 0;
    std::map<size_t, std::vector<std::string>> listed;  // zone index -> domains
    std::vector<UriblZone> zones;
    std::function<void(std::vector<Contribution>)> done;
    bool finished = false;
    void finish() {
      if (finished) return;
      finished = true;
      std::vector<Contribution> out;
      for (auto& [z, names] : listed) {
        std::string detail = names.front();
        for (size_t i = 1; i < names.size(); ++i) detail += " " + names[i];
        out.push_back({"URIBL_" + std::to_string(z + 1), zones[z].weight * double(names.size()),
                       detail + " listed in " + zones[z].zone});
      }
      auto d = std::move(done);
      d(std::move(out));
    }
  };
  auto st = std::make_shared<State>();
  st->zones = zones;
  st->done = std::move(done);
  st->pending = 1;  // held until every lookup was started (synchronous resolvers)
  for (size_t z = 0; z < zones.size(); ++z)
    for (const auto& d : domains) {
      ++st->pending;
      dns::Question q{d + "." + zones[z].zone, dns::RrType::a};
      resolver.lookup(q, [st, z, d](const dns::Answer& a) {
        if (st->finished) return;
        if (uribl_listed(a)) st->listed[z].push_back(d);
        if (--st->pending == 0) st->finish();
      });
    }
  if (--st->pending == 0) st->finish();
  return [st] { st->finish(); };
}

}  // namespace tern::spam
