// The handler listeners use until their protocol's service exists: greet with the protocol's
// "not available" answer and close. Lets TLS listeners be tested with any client.
#include "common/log.h"
#include "daemon/services.h"

namespace tern::daemon {

namespace {

// RFC 5321 §3.1: a 421 greeting refuses the session.
constexpr const char* kSmtpNotAvailable = "421 4.3.2 Service not available\r\n";
// RFC 9051 §7.1.5: BYE as the greeting refuses the connection.
constexpr const char* kImapNotAvailable = "* BYE Service not available\r\n";
// RFC 3206 §4: [SYS/TEMP] marks a temporary server-side failure.
constexpr const char* kPop3NotAvailable = "-ERR [SYS/TEMP] Service not available\r\n";

class PlaceholderHandler final : public net::ConnectionHandler {
 public:
  explicit PlaceholderHandler(const char* greeting) : greeting_(greeting) {}
  void on_open(net::Connection& conn) override {
    conn.write(greeting_);
    conn.close();
  }
  void on_data(std::string_view) override {}

 private:
  const char* greeting_;
};

}  // namespace

net::HandlerFactory make_placeholder_factory(Runtime&, ListenerKind kind) {
  const char* greeting = kSmtpNotAvailable;
  switch (spec(kind).protocol) {
    case Protocol::smtp: greeting = kSmtpNotAvailable; break;
    case Protocol::imap: greeting = kImapNotAvailable; break;
    case Protocol::pop3: greeting = kPop3NotAvailable; break;
  }
  return [greeting] { return std::make_shared<PlaceholderHandler>(greeting); };
}

}  // namespace tern::daemon
