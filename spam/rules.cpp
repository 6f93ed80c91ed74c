// The built-in rules (see spam/spam.h): authentication verdicts, header sanity, attachments,
// GTUBE. Pure. The weights are deliberately few and round; docs/architecture.md lists them.
#include <algorithm>
#include <cctype>
#include <functional>
#include <optional>
#include <cstring>
#include <ctime>

#include "common/strings.h"
#include "mime/mime.h"
#include "spam/internal.h"
#include "spam/spam.h"

namespace tern::spam {

namespace {

// The Generic Test for Unsolicited Bulk Email: a fixed string every spam filter treats as
// spam, so that a whole path can be tested end to end.
constexpr std::string_view kGtube =
    "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

// A Date more than this far ahead of our clock is "in the future" (clock skew and time zones
// written wrong by honest clients stay below it).
constexpr int64_t kFutureSlack = 24 * 3600;

std::string domain_of(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return "";
  return ascii_lower(trim(address.substr(at + 1)));
}

// The first address of a header value (From, Reply-To): mailbox@host lower-cased, and the
// display name as written (encoded words kept).
struct FirstAddress {
  std::string address, raw_name;
};
std::optional<FirstAddress> first_address(const mime::HeaderField* f) {
  if (!f) return std::nullopt;
  for (const auto& a : mime::parse_address_list(f->raw_value)) {
    if (!a.mailbox || !a.host) continue;
    return FirstAddress{ascii_lower(*a.mailbox + "@" + *a.host), a.name.value_or("")};
  }
  return std::nullopt;
}

// Something shaped like an address (x@y.z) inside a display name.
std::optional<std::string> address_in(std::string_view text) {
  for (size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    size_t b = at, e = at + 1;
    auto atom = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("._%+-", c) != nullptr;
    };
    while (b > 0 && atom(text[b - 1])) --b;
    while (e < text.size() && atom(text[e])) ++e;
    std::string_view local = text.substr(b, at - b), host = text.substr(at + 1, e - at - 1);
    if (!local.empty() && host.find('.') != std::string_view::npos)
      return ascii_lower(text.substr(b, e - b));
  }
  return std::nullopt;
}

// Does the whole text end with ".ext" (lower-cased)?
std::string extension(std::string_view name) {
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size()) return "";
  return ascii_lower(name.substr(dot + 1));
}

bool one_of(const std::string& ext, std::initializer_list<const char*> list) {
  for (const char* e : list)
    if (ext == e) return true;
  return false;
}

bool executable(const std::string& ext) {
  return one_of(ext, {"exe", "scr", "js", "jse", "vbs", "vbe", "bat", "cmd", "com", "pif", "jar",
                      "msi", "msp", "hta", "wsf", "wsh", "cpl", "lnk", "ps1", "reg", "dll", "iso",
                      "img", "vhd", "apk", "app"});
}

bool macro_document(const std::string& ext) {
  return one_of(ext, {"docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "ppsm", "sldm"});
}

// Extensions that make the name before an executable one look harmless.
bool decoy(const std::string& ext) {
  return one_of(ext, {"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "rtf", "jpg",
                      "jpeg", "png", "gif", "zip", "html", "htm", "odt", "csv"});
}

void walk(const mime::Part& p, const std::function<void(const mime::Part&)>& f) {
  f(p);
  for (const auto& c : p.children) walk(c, f);
}

}  // namespace

std::vector<Contribution> auth_rules(const AuthInput& in) {
  std::vector<Contribution> out;
  // DMARC's own disposition (reject/quarantine) is acted on before this stage (inbound_auth);
  // here a fail under p=none, or a pass, moves the score.
  if (in.dmarc == "fail") out.push_back({"DMARC_FAIL", 3.0, "dmarc=fail"});
  else if (in.dmarc == "pass") out.push_back({"DMARC_PASS", -1.0, "dmarc=pass"});
  if (in.spf == "fail") out.push_back({"SPF_FAIL", 2.0, "spf=fail"});
  else if (in.spf == "softfail") out.push_back({"SPF_SOFTFAIL", 1.0, "spf=softfail"});
  else if (in.spf == "pass") out.push_back({"SPF_PASS", -0.5, "spf=pass"});
  const bool any_pass = std::count(in.dkim.begin(), in.dkim.end(), "pass") > 0;
  const bool any_fail = std::count(in.dkim.begin(), in.dkim.end(), "fail") > 0;
  if (any_pass) out.push_back({"DKIM_VALID", -0.5, "dkim=pass"});
  else if (any_fail) out.push_back({"DKIM_INVALID", 1.5, "every DKIM signature failed"});
  return out;
}

bool contains_gtube(std::string_view message) {
  return message.find(kGtube) != std::string_view::npos;
}

std::string risky_filename(std::string_view raw) {
  // RFC 2047 words in a quoted parameter are not standard but common; decode them too.
  std::string name = mime::decode_header_value(raw);
  // Trailing dots and spaces are dropped by Windows: "x.exe." runs as x.exe.
  while (!name.empty() && (name.back() == '.' || name.back() == ' ')) name.pop_back();
  std::string ext = extension(name);
  if (ext.empty()) return "";
  if (executable(ext)) {
    std::string before = extension(std::string_view(name).substr(0, name.size() - ext.size() - 1));
    return decoy(before) ? "DOUBLE_EXT" : "EXECUTABLE";
  }
  if (macro_document(ext)) return "MACRO_DOC";
  return "";
}

static std::vector<Contribution> header_rules_of(const mime::Message& msg, int64_t now) {
  std::vector<Contribution> out;
  const mime::Part& root = msg.root();
  const auto* date = root.header("Date");
  if (!date) {
    out.push_back({"MISSING_DATE", 1.5, "no Date field"});
  } else if (auto t = parse_date(date->value); !t) {
    out.push_back({"BAD_DATE", 1.0, "unreadable Date: " + date->value.substr(0, 60)});
  } else if (*t > now + kFutureSlack) {
    out.push_back({"DATE_IN_FUTURE", 2.0, "Date " + date->value.substr(0, 60)});
  }
  // RFC 5322 §3.6.4: every message SHOULD have a Message-ID; bulk tools often forget it.
  if (!root.header("Message-ID")) out.push_back({"MISSING_MESSAGE_ID", 1.0, "no Message-ID field"});
  const auto* from_field = root.header("From");
  auto from = first_address(from_field);
  if (!from) {
    out.push_back({"MISSING_FROM", 3.0, from_field ? "no address in From" : "no From field"});
    return out;
  }
  const std::string from_domain = domain_of(from->address);
  if (auto reply = first_address(root.header("Reply-To"))) {
    std::string d = domain_of(reply->address);
    if (!d.empty() && d != from_domain)
      out.push_back({"FROM_REPLYTO_DIFFER", 1.0, "From " + from_domain + ", Reply-To " + d});
  }
  // A display name holding another address ("support@bank.example" <x@elsewhere>) is how a
  // forged sender shows in clients that display the name only; hidden in an RFC 2047 word it
  // also escapes naive filters, so that scores more.
  if (!from->raw_name.empty()) {
    std::string decoded = mime::decode_header_value(from->raw_name);
    if (auto shown = address_in(decoded); shown && domain_of(*shown) != from_domain) {
      const bool encoded = !address_in(from->raw_name);
      if (encoded)
        out.push_back({"FROM_NAME_ENCODED_ADDR", 3.5,
                       "encoded display name shows " + *shown + ", address is " + from->address});
      else
        out.push_back({"FROM_NAME_ADDR", 2.0,
                       "display name shows " + *shown + ", address is " + from->address});
    }
  }
  // RFC 2047 §5: an encoded word must not stand for the addr-spec itself.
  if (from_field && from_field->raw_value.find("=?") != std::string::npos) {
    std::string_view raw = from_field->raw_value;
    size_t lt = raw.rfind('<');
    if (lt != std::string_view::npos && raw.find("=?", lt) != std::string_view::npos)
      out.push_back({"FROM_ENCODED_ADDR_SPEC", 2.0, "encoded word inside the From address"});
  }
  return out;
}

static std::vector<Contribution> attachment_rules_of(const mime::Message& msg) {
  std::vector<Contribution> out;
  std::vector<std::string> seen;
  walk(msg.root(), [&](const mime::Part& p) {
    if (p.is_multipart()) return;
    std::vector<std::string> names;
    // Content-Disposition filename= and Content-Type name= (RFC 2231 forms are joined and
    // decoded by mime/).
    if (p.disposition)
      for (const auto& prm : p.disposition->params)
        if (prm.name == "filename") names.push_back(prm.value);
    if (auto n = p.param("name")) names.push_back(*n);
    for (const auto& n : names) {
      std::string kind = risky_filename(n);
      if (kind.empty() || std::find(seen.begin(), seen.end(), n) != seen.end()) continue;
      seen.push_back(n);
      double score = kind == "DOUBLE_EXT" ? 6.0 : kind == "EXECUTABLE" ? 5.0 : 3.0;
      out.push_back({"ATTACH_" + kind, score, mime::decode_header_value(n)});
    }
  });
  return out;
}

std::vector<Contribution> header_rules(std::string_view message, int64_t now) {
  return header_rules_of(mime::Message::parse(std::string(message)), now);
}

std::vector<Contribution> attachment_rules(std::string_view message) {
  return attachment_rules_of(mime::Message::parse(std::string(message)));
}

std::vector<Contribution> message_rules(std::string_view message, int64_t now) {
  return analyse(message, now, 0).rules;
}

Analysis analyse(std::string_view message, int64_t now, size_t max_domains) {
  auto msg = mime::Message::parse(std::string(message));
  Analysis a;
  if (max_domains > 0) collect_domains(msg, a.domains, max_domains);
  auto& out = a.rules;
  out = header_rules_of(msg, now);
  auto att = attachment_rules_of(msg);
  out.insert(out.end(), att.begin(), att.end());
  bool gtube = contains_gtube(message);
  // Also inside a base64 or quoted-printable text part.
  if (!gtube)
    walk(msg.root(), [&](const mime::Part& p) {
      if (gtube || p.type != "text" || p.encoding.empty() || p.encoding == "7bit" ||
          p.encoding == "8bit")
        return;
      if (auto body = mime::decode_body(msg, p)) gtube = contains_gtube(*body);
    });
  if (gtube) out.push_back({"GTUBE", kGtubeScore, "the GTUBE test string"});
  return a;
}

}  // namespace tern::spam
