// Sender Rewriting Scheme: see authn/srs.h.
#include "authn/srs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "common/strings.h"

namespace tern::authn {

namespace {

constexpr char kBase32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
constexpr int kStampModulo = 1024;  // two base32 characters of days
constexpr size_t kKeyBytes = 32;

int base32_value(char c) {
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

int64_t today(int64_t now) { return now / 86400; }

std::string stamp(int64_t now) {
  int d = static_cast<int>(today(now) % kStampModulo);
  return {kBase32[(d >> 5) & 31], kBase32[d & 31]};
}

// Days since the stamp was made (modulo 1024), or -1 when it is not a stamp.
int stamp_age(std::string_view tt, int64_t now) {
  if (tt.size() != 2) return -1;
  int hi = base32_value(tt[0]), lo = base32_value(tt[1]);
  if (hi < 0 || lo < 0) return -1;
  int then = hi << 5 | lo;
  int d = static_cast<int>(today(now) % kStampModulo);
  return ((d - then) % kStampModulo + kStampModulo) % kStampModulo;
}

// The fields joined with '=', then "@domain".
std::string address(std::initializer_list<std::string_view> fields, std::string_view domain) {
  std::string out;
  for (auto f : fields) {
    if (!out.empty()) out += '=';
    out += f;
  }
  out += '@';
  out += domain;
  return out;
}

bool is_separator(char c) { return c == '=' || c == '+' || c == '-'; }

// Splits `s` at its first '=': the part before, the rest after (npos: no '=').
bool take_field(std::string_view& s, std::string_view& field) {
  size_t eq = s.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  field = s.substr(0, eq);
  s.remove_prefix(eq + 1);
  return true;
}

}  // namespace

Srs::Srs(std::string secret, int max_age_days)
    : secret_(std::move(secret)), max_age_days_(max_age_days) {}

bool Srs::looks_like_srs(std::string_view local) {
  return local.size() >= 5 && (istarts_with(local, "SRS0") || istarts_with(local, "SRS1")) &&
         is_separator(local[4]);
}

std::string Srs::hash(std::string_view a, std::string_view b, std::string_view c) const {
  // Lower-cased: domains are case-insensitive, and relays may fold local parts too.
  std::string data = ascii_lower(a);
  data += '\x1f';
  data += ascii_lower(b);
  data += '\x1f';
  data += ascii_lower(c);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  // The first 40 bits, 5 at a time.
  uint64_t bits = 0;
  for (int i = 0; i < 5; ++i) bits = bits << 8 | mac[i];
  std::string out(kHashLength, 'A');
  for (size_t i = 0; i < kHashLength; ++i) out[i] = kBase32[(bits >> (35 - 5 * i)) & 31];
  return out;
}

bool Srs::hash_matches(std::string_view given, std::string_view a, std::string_view b,
                       std::string_view c) const {
  if (given.size() != kHashLength) return false;
  std::string want = hash(a, b, c);
  std::string got = ascii_upper(given);  // base32 is upper case; compare case-insensitively
  return CRYPTO_memcmp(want.data(), got.data(), kHashLength) == 0;
}

std::string Srs::forward(std::string_view sender, std::string_view our_domain, int64_t now) const {
  size_t at = sender.rfind('@');
  if (sender.empty() || at == std::string_view::npos || at == 0 || at + 1 == sender.size())
    return std::string(sender);
  std::string_view local = sender.substr(0, at), domain = sender.substr(at + 1);
  std::string_view host, rest;
  if (looks_like_srs(local) && istarts_with(local, "SRS0")) {
    // Already rewritten once: the previous forwarder is the first; keep its SRS0 part as is.
    host = domain;
    rest = local.substr(4);  // with its separator
  } else if (looks_like_srs(local)) {
    // SRS1 from another forwarder: keep its first forwarder and its SRS0 part, re-sign.
    std::string_view body = local.substr(5), old_hash;
    if (take_field(body, old_hash) && take_field(body, host) && !body.empty()) rest = body;
  }
  if (!rest.empty()) return address({"SRS1", hash(host, rest, ""), host, rest}, our_domain);
  std::string tt = stamp(now);
  return address({"SRS0", hash(tt, domain, local), tt, domain, local}, our_domain);
}

Srs::Reversed Srs::reverse(std::string_view local, int64_t now) const {
  Reversed r;
  if (!looks_like_srs(local)) return r;
  r.verdict = Verdict::malformed;
  std::string_view body = local.substr(5), given;
  if (istarts_with(local, "SRS0")) {
    std::string_view tt, domain;
    if (!take_field(body, given) || !take_field(body, tt) || !take_field(body, domain) ||
        body.empty())
      return r;
    const int age = stamp_age(tt, now);
    if (age < 0) return r;
    if (!hash_matches(given, tt, domain, body)) {
      r.verdict = Verdict::bad_hash;
      return r;
    }
    if (age > max_age_days_) {
      r.verdict = Verdict::expired;
      return r;
    }
    r.verdict = Verdict::ok;
    r.address = std::string(body) + "@" + std::string(domain);
    return r;
  }
  std::string_view host;
  if (!take_field(body, given) || !take_field(body, host) || body.empty()) return r;
  if (!hash_matches(given, host, body, "")) {
    r.verdict = Verdict::bad_hash;
    return r;
  }
  // The first forwarder checks the age of its own SRS0 part.
  r.verdict = Verdict::ok;
  r.address = "SRS0" + std::string(body) + "@" + std::string(host);
  return r;
}

const char* to_string(Srs::Verdict v) {
  switch (v) {
    case Srs::Verdict::not_srs: return "not-srs";
    case Srs::Verdict::ok: return "ok";
    case Srs::Verdict::malformed: return "malformed";
    case Srs::Verdict::bad_hash: return "bad-hash";
    case Srs::Verdict::expired: return "expired";
  }
  return "?";
}

namespace {

Result<std::string> read_key(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(Errc::internal, path + ": " + std::strerror(errno));
  char buf[256];
  ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n < 0) return make_error(Errc::internal, path + ": " + std::strerror(errno));
  std::string_view hex = trim(std::string_view(buf, static_cast<size_t>(n)));
  std::string key;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    auto v = [](char c) {
      return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    int hi = v(hex[i]), lo = v(hex[i + 1]);
    if (hi < 0 || lo < 0) return make_error(Errc::syntax, path + ": not a hex key");
    key += static_cast<char>(hi << 4 | lo);
  }
  if (hex.size() % 2 != 0 || key.size() < 16)
    return make_error(Errc::syntax, path + ": the key must be at least 16 bytes of hex");
  return key;
}

}  // namespace

Result<std::string> load_srs_key(const std::string& path) {
  if (::access(path.c_str(), F_OK) == 0) return read_key(path);
  unsigned char raw[kKeyBytes];
  if (RAND_bytes(raw, sizeof raw) != 1) return make_error(Errc::internal, "srs key: no random bytes");
  std::string hex;
  for (unsigned char c : raw) {
    hex += "0123456789abcdef"[c >> 4];
    hex += "0123456789abcdef"[c & 15];
  }
  hex += '\n';
  // Written aside, fsynced, then linked into place: a crash never leaves a short key, and a
  // key that exists is never replaced (bounces to addresses made with it must still verify).
  std::string tmp = path + ".tmp." + random_id(8);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::internal, tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  int linked = ok ? ::link(tmp.c_str(), path.c_str()) : -1;
  int err = errno;
  ::unlink(tmp.c_str());
  if (!ok) return make_error(Errc::internal, tmp + ": " + std::strerror(err));
  if (linked != 0 && err != EEXIST) return make_error(Errc::internal, path + ": " + std::strerror(err));
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  if (!dir.empty())
    if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  return read_key(path);
}

}  // namespace tern::authn
