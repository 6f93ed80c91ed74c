// The service table: which handler factory serves which protocol.
#pragma once

#include "daemon/runtime.h"

namespace tern::daemon {

using ServiceFactory = net::HandlerFactory (*)(Runtime& rt, ListenerKind kind);

// One factory per protocol, listed in the table in services.cpp.
net::HandlerFactory make_imap_factory(Runtime& rt, ListenerKind kind);  // imap_service.cpp
net::HandlerFactory make_pop3_factory(Runtime& rt, ListenerKind kind);  // pop3_service.cpp
net::HandlerFactory make_smtp_factory(Runtime& rt, ListenerKind kind);  // smtp_service.cpp
net::HandlerFactory make_http_factory(Runtime& rt, ListenerKind kind);  // http_service.cpp

// The factory for a listener kind: its protocol's service.
net::HandlerFactory make_factory(Runtime& rt, ListenerKind kind);

// What a listener writes to connections over the connection limits.
const char* busy_reply(Protocol protocol);

}  // namespace tern::daemon
