// The documents mail clients fetch to configure themselves, and the MTA-STS policy. All of
// them are written from the Site (the config), never from request input except the address,
// which is XML-escaped.
#include <cstdio>

#include "common/strings.h"
#include "http/http.h"

namespace tern::http {

namespace {

const MailEndpoint* first(const Site& site, std::string_view protocol) {
  for (const auto& e : site.endpoints)
    if (e.protocol == protocol) return &e;
  return nullptr;
}

// Thunderbird's socketType values.
std::string_view socket_type(const MailEndpoint& e) {
  if (e.implicit_tls) return "SSL";
  return e.starttls ? "STARTTLS" : "plain";
}

// A stable UUID-shaped identifier from text (FNV-1a, 128 bits from two seeds): a profile
// installed twice for the same address replaces itself instead of adding a second one.
std::string stable_uuid(std::string_view text) {
  auto fnv = [&](uint64_t h) {
    for (unsigned char c : text) {
      h ^= c;
      h *= 0x100000001b3ull;
    }
    return h;
  };
  uint64_t a = fnv(0xcbf29ce484222325ull), b = fnv(0x84222325cbf29ce4ull);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08X-%04X-4%03X-8%03X-%012llX", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>((b >> 48) & 0xfff),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

}  // namespace

// Thunderbird autoconfig, clientConfig version 1.1 (the format of Mozilla's ISPDB).
std::string autoconfig_xml(const Site& site, std::string_view email, std::string_view domain) {
  (void)email;  // the username is the placeholder Thunderbird fills in itself
  std::string d = xml_escape(domain), host = xml_escape(site.hostname);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n";
  out += "  <emailProvider id=\"" + d + "\">\n";
  out += "    <domain>" + d + "</domain>\n";
  out += "    <displayName>" + d + "</displayName>\n";
  out += "    <displayShortName>" + d + "</displayShortName>\n";
  for (const auto& e : site.endpoints) {
    bool outgoing = e.protocol == "smtp";
    std::string tag = outgoing ? "outgoingServer" : "incomingServer";
    out += "    <" + tag + " type=\"" + e.protocol + "\">\n";
    out += "      <hostname>" + host + "</hostname>\n";
    out += "      <port>" + std::to_string(e.port) + "</port>\n";
    out += "      <socketType>" + std::string(socket_type(e)) + "</socketType>\n";
    out += "      <username>%EMAILADDRESS%</username>\n";
    out += "      <authentication>password-cleartext</authentication>\n";
    out += "    </" + tag + ">\n";
  }
  out += "  </emailProvider>\n</clientConfig>\n";
  return out;
}

std::string autodiscover_request_email(std::string_view body) {
  // The POX request: <Request><EMailAddress>user@example.com</EMailAddress>...; a plain
  // search is enough (no DTDs, entities or namespaces matter for one text element).
  size_t open = body.find("<EMailAddress>");
  if (open == std::string_view::npos) return "";
  open += 14;
  size_t close = body.find("</EMailAddress>", open);
  if (close == std::string_view::npos) return "";
  std::string_view v = body.substr(open, close - open);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\n' || v.front() == '\r' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\n' || v.back() == '\r' || v.back() == '\t'))
    v.remove_suffix(1);
  // The five predefined entities (XML 1.0 §4.6); anything else stays as written.
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    bool replaced = false;
    if (v[i] == '&')
      for (auto [entity, ch] : {std::pair{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}})
        if (v.substr(i).rfind(entity, 0) == 0) {
          out += ch;
          i += std::string_view(entity).size() - 1;
          replaced = true;
          break;
        }
    if (!replaced) out += v[i];
  }
  return out;
}

// Microsoft Autodiscover, the POX "outlook" response schema (2006a).
std::string autodiscover_xml(const Site& site, std::string_view email) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
      "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
      "  <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
      "    <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n";
  for (std::string_view proto : {"imap", "pop3", "smtp"}) {
    const MailEndpoint* e = first(site, proto);
    if (!e) continue;
    std::string type = proto == "imap" ? "IMAP" : proto == "pop3" ? "POP3" : "SMTP";
    out += "      <Protocol>\n        <Type>" + type + "</Type>\n";
    out += "        <Server>" + xml_escape(site.hostname) + "</Server>\n";
    out += "        <Port>" + std::to_string(e->port) + "</Port>\n";
    out += "        <DomainRequired>off</DomainRequired>\n";
    out += "        <LoginName>" + xml_escape(email) + "</LoginName>\n";
    out += "        <SPA>off</SPA>\n";
    bool tls = e->implicit_tls || e->starttls;
    out += std::string("        <SSL>") + (tls ? "on" : "off") + "</SSL>\n";
    if (tls) out += std::string("        <Encryption>") + (e->implicit_tls ? "SSL" : "TLS") + "</Encryption>\n";
    out += "        <AuthRequired>on</AuthRequired>\n";
    if (proto == "smtp") out += "        <UsePOPAuth>off</UsePOPAuth>\n        <SMTPLast>off</SMTPLast>\n";
    out += "      </Protocol>\n";
  }
  out += "    </Account>\n  </Response>\n</Autodiscover>\n";
  return out;
}

// An unsigned Apple configuration profile with one com.apple.mail.managed payload.
std::string apple_mobileconfig(const Site& site, std::string_view email, std::string_view domain) {
  const MailEndpoint* in = first(site, "imap");
  if (!in) in = first(site, "pop3");
  const MailEndpoint* out_ep = first(site, "smtp");
  std::string e = xml_escape(email), host = xml_escape(site.hostname), d = xml_escape(domain);
  // One plist entry: <key>k</key> then <type>v</type> (or <true/>/<false/>), indented.
  auto entry = [](std::string_view indent, std::string_view k, std::string_view type, std::string_view v) {
    std::string in(indent), t(type);
    return in + "<key>" + std::string(k) + "</key>\n" + in + "<" + t + ">" + std::string(v) + "</" + t + ">\n";
  };
  auto key = [&](std::string_view k, std::string_view type, std::string_view v) { return entry("      ", k, type, v); };
  auto top = [&](std::string_view k, std::string_view type, std::string_view v) { return entry("  ", k, type, v); };
  auto flag = [](std::string_view k, bool v) {
    return "      <key>" + std::string(k) + "</key>\n      <" + (v ? "true" : "false") + "/>\n";
  };
  std::string reverse = "email.tern.";
  for (char c : domain) reverse += (c == '.' ? '-' : c);
  std::string p =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
      "<plist version=\"1.0\">\n<dict>\n  <key>PayloadContent</key>\n  <array>\n    <dict>\n";
  p += key("EmailAccountDescription", "string", e);
  p += key("EmailAccountName", "string", e);
  p += key("EmailAccountType", "string", in && in->protocol == "pop3" ? "EmailTypePOP" : "EmailTypeIMAP");
  p += key("EmailAddress", "string", e);
  // The Incoming* and Outgoing* keys have the same shape.
  auto server = [&](std::string_view side, const MailEndpoint& ep) {
    std::string k(side);
    return key(k + "MailServerAuthentication", "string", "EmailAuthPassword") +
           key(k + "MailServerHostName", "string", host) +
           key(k + "MailServerPortNumber", "integer", std::to_string(ep.port)) +
           flag(k + "MailServerUseSSL", ep.implicit_tls || ep.starttls) +
           key(k + "MailServerUsername", "string", e);
  };
  if (in) p += server("Incoming", *in);
  if (out_ep) p += server("Outgoing", *out_ep) + flag("OutgoingPasswordSameAsIncomingPassword", true);
  p += key("PayloadDisplayName", "string", e);
  p += key("PayloadIdentifier", "string", reverse + ".account." + stable_uuid(email));
  p += key("PayloadType", "string", "com.apple.mail.managed");
  p += key("PayloadUUID", "string", stable_uuid(std::string(email) + "/account"));
  p += key("PayloadVersion", "integer", "1");
  p += "    </dict>\n  </array>\n";
  p += top("PayloadDisplayName", "string", "Mail: " + e);
  p += top("PayloadIdentifier", "string", reverse + "." + stable_uuid(email));
  p += top("PayloadOrganization", "string", d);
  p += "  <key>PayloadRemovalDisallowed</key>\n  <false/>\n";
  p += top("PayloadType", "string", "Configuration");
  p += top("PayloadUUID", "string", stable_uuid(std::string(email) + "/profile"));
  p += top("PayloadVersion", "integer", "1");
  p += "</dict>\n</plist>\n";
  return p;
}

// RFC 8461 §3.2: the policy body, "key: value" lines; mx may repeat.
std::string mta_sts_policy(const Site& site) {
  std::string out = "version: STSv1\r\nmode: " + site.mta_sts_mode + "\r\n";
  if (site.mta_sts_mx.empty()) out += "mx: " + site.hostname + "\r\n";
  for (const auto& mx : site.mta_sts_mx) out += "mx: " + mx + "\r\n";
  out += "max_age: " + std::to_string(site.mta_sts_max_age) + "\r\n";
  return out;
}

}  // namespace tern::http
