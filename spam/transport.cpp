// The blocking scanner transport: one connection, one request, one reply, all within a
// deadline (see spam/scanners.h for why blocking, on a worker).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/strings.h"
#include "spam/scanners.h"

namespace tern::spam {

namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on fd; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  while (true) {
    pollfd p{fd, events, 0};
    int ms = remaining_ms(deadline);
    if (ms == 0) return false;
    int n = ::poll(&p, 1, ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

Error transport_error(const std::string& what) {
  return make_error(Errc::temporary, what);
}

Result<int> connect_to(const ScannerAddress& a, Clock::time_point deadline, Fd& out) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_UNIX;
  if (!a.unix_path.empty()) {
    auto* un = reinterpret_cast<sockaddr_un*>(&ss);
    if (a.unix_path.size() >= sizeof un->sun_path) return transport_error("socket path too long");
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, a.unix_path.data(), a.unix_path.size());
    len = sizeof(sockaddr_un);
  } else {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, a.host.c_str(), &v4->sin_addr) == 1) {
      family = v4->sin_family = AF_INET;
      v4->sin_port = htons(a.port);
      len = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, a.host.c_str(), &v6->sin6_addr) == 1) {
      family = v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(a.port);
      len = sizeof(sockaddr_in6);
    } else {
      // Scanners run on this host or the LAN: a literal address is required (no DNS on a
      // worker thread); config validation says so.
      return transport_error("not an IP address: " + a.host);
    }
  }
  out.fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (out.fd < 0) return transport_error(std::string("socket: ") + std::strerror(errno));
  if (::connect(out.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN)
      return transport_error(std::string("connect: ") + std::strerror(errno));
    if (!wait_for(out.fd, POLLOUT, deadline)) return transport_error("connect: timed out");
    int err = 0;
    socklen_t el = sizeof err;
    ::getsockopt(out.fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) return transport_error(std::string("connect: ") + std::strerror(err));
  }
  return out.fd;
}

}  // namespace

Result<ScannerAddress> parse_scanner_address(std::string_view text) {
  ScannerAddress a;
  if (text.rfind("unix:", 0) == 0) text.remove_prefix(5);
  if (!text.empty() && text.front() == '/') {
    a.unix_path = std::string(text);
    return a;
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return make_error(Errc::syntax, "expected host:port or a socket path");
  auto port = parse_u64(text.substr(colon + 1));
  if (!port || *port == 0 || *port > 65535) return make_error(Errc::syntax, "bad port");
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned char buf[16];
  std::string h(host);
  if (::inet_pton(AF_INET, h.c_str(), buf) != 1 && ::inet_pton(AF_INET6, h.c_str(), buf) != 1)
    return make_error(Errc::syntax, "\"" + h + "\" is not an IP address");
  a.host = h;
  a.port = static_cast<uint16_t>(*port);
  return a;
}

Result<std::string> exchange(const ScannerAddress& address, std::string_view request,
                             int timeout_ms, bool (*complete)(std::string_view reply)) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Fd fd;
  auto c = connect_to(address, deadline, fd);
  if (!c) return c.error();
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd.fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd.fd, POLLOUT, deadline)) return transport_error("send: timed out");
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // The scanner may answer and close early (clamd's "size limit exceeded"): read that.
    break;
  }
  std::string reply;
  char buf[16384];
  while (!(complete && complete(reply))) {
    ssize_t n = ::recv(fd.fd, buf, sizeof buf, 0);
    if (n > 0) {
      reply.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) break;  // the peer closed: the reply is what we have
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_for(fd.fd, POLLIN, deadline)) return transport_error("reply: timed out");
      continue;
    }
    if (!reply.empty()) break;
    return transport_error(std::string("recv: ") + std::strerror(errno));
  }
  if (reply.empty()) return transport_error("connection closed without a reply");
  return reply;
}

}  // namespace tern::spam
