#include "daemon/service_manager.h"

#include <string>

#ifdef TERN_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#include <time.h>
#endif

namespace tern::daemon {

namespace {

void notify(const std::string& state) {
#ifdef TERN_HAVE_SYSTEMD
  // 0: keep $NOTIFY_SOCKET, reload and stop notifications come later.
  (void)sd_notify(0, state.c_str());
#else
  (void)state;
#endif
}

}  // namespace

void notify_ready(std::string_view status) {
  notify("READY=1\nSTATUS=" + std::string(status));
}

void notify_reloading() {
  std::string state = "RELOADING=1";
#ifdef TERN_HAVE_SYSTEMD
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  state += "\nMONOTONIC_USEC=" +
           std::to_string(static_cast<unsigned long long>(now.tv_sec) * 1000000ull +
                          static_cast<unsigned long long>(now.tv_nsec) / 1000);
#endif
  notify(state);
}

void notify_reloaded(std::string_view status) {
  notify("READY=1\nSTATUS=" + std::string(status));
}

void notify_stopping() { notify("STOPPING=1\nSTATUS=finishing transactions"); }

}  // namespace tern::daemon
