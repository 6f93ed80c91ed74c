// Telling the service manager (systemd, Type=notify) what ternd is doing: ready to accept,
// reloading after SIGHUP, stopping. sd_notify(3) from libsystemd; without $NOTIFY_SOCKET (not
// started by systemd) every call does nothing, and a build without libsystemd compiles them
// away.
#pragma once

#include <string_view>

namespace tern::daemon {

// After every listener is bound and the store has recovered: connections are served.
void notify_ready(std::string_view status);
// SIGHUP: RELOADING=1 with the monotonic timestamp systemd >= 253 asks for, then READY=1
// when the reload is over (systemd waits for it before `systemctl reload` returns).
void notify_reloading();
void notify_reloaded(std::string_view status);
// Graceful shutdown began.
void notify_stopping();

}  // namespace tern::daemon
