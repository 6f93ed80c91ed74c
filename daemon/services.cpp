#include "daemon/services.h"

namespace tern::daemon {

namespace {

struct ServiceEntry {
  Protocol protocol;
  ServiceFactory factory;
};

// One line per protocol.
constexpr ServiceEntry kServices[] = {
    {Protocol::smtp, make_smtp_factory},  // smtp, submission, submissions
    {Protocol::imap, make_imap_factory},  // imap, imaps
    {Protocol::pop3, make_pop3_factory},  // pop3, pop3s
    {Protocol::http, make_http_factory},  // http, https
};

}  // namespace

net::HandlerFactory make_factory(Runtime& rt, ListenerKind kind) {
  Protocol p = spec(kind).protocol;
  for (const auto& entry : kServices)
    if (entry.protocol == p) return entry.factory(rt, kind);
  return kServices[0].factory(rt, kind);  // unreachable: every protocol is listed
}

const std::vector<ListenerSpec>& listener_specs() {
  static const std::vector<ListenerSpec> specs = {
      {ListenerKind::smtp, "smtp", Protocol::smtp, false, &ListenConfig::smtp},
      {ListenerKind::submission, "submission", Protocol::smtp, false, &ListenConfig::submission},
      {ListenerKind::submissions, "submissions", Protocol::smtp, true, &ListenConfig::submissions},
      {ListenerKind::imap, "imap", Protocol::imap, false, &ListenConfig::imap},
      {ListenerKind::imaps, "imaps", Protocol::imap, true, &ListenConfig::imaps},
      {ListenerKind::pop3, "pop3", Protocol::pop3, false, &ListenConfig::pop3},
      {ListenerKind::pop3s, "pop3s", Protocol::pop3, true, &ListenConfig::pop3s},
      {ListenerKind::http, "http", Protocol::http, false, &ListenConfig::http},
      {ListenerKind::https, "https", Protocol::http, true, &ListenConfig::https},
  };
  return specs;
}

const ListenerSpec& spec(ListenerKind kind) {
  for (const auto& s : listener_specs())
    if (s.kind == kind) return s;
  return listener_specs().front();  // unreachable: every kind is listed
}

const char* busy_reply(Protocol protocol) {
  switch (protocol) {
    // RFC 5321 §3.8: 421 when the service must close the transmission channel.
    case Protocol::smtp: return "421 4.7.0 Too many connections, try again later\r\n";
    // RFC 9051 §7.1.5: BYE as the greeting when the server refuses the connection.
    case Protocol::imap: return "* BYE Too many connections, try again later\r\n";
    // RFC 3206 §4: [SYS/TEMP] for a temporary server-side problem.
    case Protocol::pop3: return "-ERR [SYS/TEMP] Too many connections, try again later\r\n";
    // RFC 9110 §15.6.4: 503 while the server is overloaded.
    case Protocol::http:
      return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  }
  return "";
}

}  // namespace tern::daemon
