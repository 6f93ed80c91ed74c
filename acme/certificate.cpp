// acme/certificate: the certificate on disk: where it lives, when it is due, the placeholder
// used before the first issuance, and the atomic writes.
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "acme/acme.h"
#include "acme/crypto.h"
#include "acme/storage.h"
#include "common/file.h"

namespace tern::acme {
namespace {

using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

X509Ptr first_certificate(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  ERR_clear_error();
  return x;
}

Result<int64_t> to_unix(const ASN1_TIME* t) {
  struct tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return make_error(Errc::syntax, "bad certificate time");
  return static_cast<int64_t>(timegm(&tm));
}

Status sys_error(const std::string& what, const std::string& path) {
  return make_error(Errc::internal, what + " " + path + ": " + std::strerror(errno));
}

// The private key matches the certificate (a crash between the two renames of an update
// could leave a new key beside the old certificate).
bool key_matches(const std::string& cert_pem, const std::string& key_pem) {
  X509Ptr x = first_certificate(cert_pem);
  auto key = load_private_key(key_pem);
  if (!x || !key) return false;
  bool ok = X509_check_private_key(x.get(), key->get()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace

CertificatePaths certificate_paths(const std::string& dir, const std::string& first_name) {
  std::string d = dir + "/" + first_name;
  return {d + "/cert.pem", d + "/key.pem"};
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return sys_error("cannot create", tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = sys_error("cannot write", tmp);
      ::close(fd);
      return s;
    }
    done += static_cast<size_t>(n);
  }
  // The data reaches the disk before the name points at it: a crash leaves old or new.
  if (::fsync(fd) != 0) {
    Status s = sys_error("cannot fsync", tmp);
    ::close(fd);
    return s;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return sys_error("cannot rename", tmp);
  // The rename itself is durable once the directory is flushed.
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return sys_error("cannot open", dir);
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return sys_error("cannot fsync", dir);
  return {};
}

Status write_pair(const CertificatePaths& paths, const std::string& cert_pem,
                  const std::string& key_pem) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(paths.cert).parent_path(), ec);
  if (ec) return make_error(Errc::internal, "cannot create " + paths.cert + "'s directory: " + ec.message());
  // Key first: until the certificate is renamed too, a reader sees a mismatched pair, which
  // TlsContext refuses (the old certificates stay in use) and ensure_placeholder repairs.
  if (Status s = write_file_atomic(paths.key, key_pem, 0600); !s) return s;
  return write_file_atomic(paths.cert, cert_pem, 0640);
}

Status ensure_placeholder(const CertificatePaths& paths, const std::vector<std::string>& names) {
  auto cert = read_file(paths.cert);
  auto key = read_file(paths.key);
  if (cert && key && key_matches(*cert, *key)) return {};
  auto made = self_signed(names);
  if (!made) return made.error();
  return write_pair(paths, made->first, made->second);
}

Result<Validity> certificate_validity(std::string_view pem) {
  X509Ptr x = first_certificate(pem);
  if (!x) return make_error(Errc::syntax, "no PEM certificate");
  auto nb = to_unix(X509_get0_notBefore(x.get()));
  if (!nb) return nb.error();
  auto na = to_unix(X509_get0_notAfter(x.get()));
  if (!na) return na.error();
  return Validity{*nb, *na};
}

int64_t renewal_time(const Validity& v, int64_t test_renew_after) {
  if (test_renew_after > 0) return v.not_before + test_renew_after;
  // Two thirds into the lifetime: 60 days into a 90-day certificate, leaving a month of
  // retries before it expires.
  return v.not_before + (v.not_after - v.not_before) * 2 / 3;
}

int64_t retry_delay(int failures, int64_t base) {
  constexpr int64_t kMax = 86400;
  int64_t d = std::max<int64_t>(base, 1);
  for (int i = 1; i < failures && d < kMax; ++i) d *= 2;
  return std::min(d, kMax);
}

bool needs_order(std::string_view cert_pem, const std::vector<std::string>& names, int64_t now,
                 int64_t test_renew_after) {
  X509Ptr x = first_certificate(cert_pem);
  if (!x) return true;
  // The placeholder (or any self-signed certificate) is never kept.
  if (X509_check_issued(x.get(), x.get()) == X509_V_OK) return true;
  for (const auto& n : names)
    if (X509_check_host(x.get(), n.c_str(), n.size(), X509_CHECK_FLAG_NO_WILDCARDS, nullptr) != 1)
      return true;
  auto v = certificate_validity(cert_pem);
  return !v || now >= renewal_time(*v, test_renew_after);
}

}  // namespace tern::acme
