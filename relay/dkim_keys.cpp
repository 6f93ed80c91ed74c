// DKIM keys on disk (data_dir/dkim/<domain>/<selector>.<rsa|ed25519>.pem) and outbound signing.
#include <algorithm>
#include <cctype>
#include <filesystem>

#include "common/file.h"
#include "common/log.h"
#include "common/strings.h"
#include "mime/mime.h"
#include "relay/dkim.h"
#include "relay/outbound.h"

namespace tern::relay {

std::string from_header_domain(std::string_view message) {
  // Only the header block is copied and parsed: the body may be large and is not needed.
  size_t end = message.find("\r\n\r\n");
  size_t lf_end = message.find("\n\n");
  if (lf_end != std::string_view::npos && (end == std::string_view::npos || lf_end < end)) end = lf_end;
  std::string_view header = message.substr(0, end == std::string_view::npos ? message.size() : end + 2);
  mime::Message parsed = mime::Message::parse(std::string(header));
  const mime::HeaderField* from = parsed.root().header("From");
  if (!from) return {};
  // RFC 5322 §3.6.2: the first mailbox of From: is the author whose domain signs.
  std::string domain;
  for (const mime::Address& a : mime::parse_address_list(from->value)) {
    if (a.mailbox && a.host) {
      domain = ascii_lower(trim(*a.host));
      break;
    }
  }
  // Domain names only: the path component below must not escape dkim/.
  for (char c : domain) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.')) return {};
  }
  if (domain.empty() || domain[0] == '.' || domain.find("..") != std::string::npos) return {};
  return domain;
}

Result<std::string> dkim_sign_outbound(std::string_view message, const std::string& dkim_dir,
                                       int64_t now) {
  std::string domain = from_header_domain(message);
  if (domain.empty()) return std::string(message);
  std::string signatures;
  for (const auto& file : dkim_key_files(dkim_dir, domain)) {
    auto pem = read_file(file.path);
    if (!pem) {
      spdlog::warn("relay dkim: {}", pem.error().message);
      continue;
    }
    auto key = DkimKey::from_pem(*pem);
    if (!key) {
      spdlog::warn("relay dkim: cannot load {}: {}", file.path, key.error().message);
      continue;
    }
    DkimSignOptions opt;
    opt.domain = domain;
    opt.selector = file.selector;
    opt.timestamp = now;
    auto sig = dkim_sign(message, *key, opt);
    if (!sig) {
      spdlog::warn("relay dkim: cannot sign for {}: {}", domain, sig.error().message);
      continue;
    }
    // RFC 6376 §5.6 / RFC 8463 §4: several signatures; each is prepended independently (none
    // covers another DKIM-Signature field).
    signatures += *sig;
  }
  if (signatures.empty()) return std::string(message);
  return signatures + std::string(message);
}

std::vector<DkimKeyFile> dkim_key_files(const std::string& dkim_dir, std::string_view domain) {
  std::vector<DkimKeyFile> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(std::filesystem::path(dkim_dir) / domain, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".pem") != 0) continue;
    std::string stem = name.substr(0, name.size() - 4);  // "<selector>.<alg>"
    size_t dot = stem.rfind('.');
    if (dot == std::string::npos || dot == 0) continue;
    out.push_back({e.path().string(), stem.substr(0, dot)});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

std::string dkim_key_file(const std::string& dkim_dir, std::string_view domain,
                          std::string_view selector, DkimAlgorithm algorithm) {
  return dkim_dir + "/" + std::string(domain) + "/" + std::string(selector) +
         (algorithm == DkimAlgorithm::rsa_sha256 ? ".rsa.pem" : ".ed25519.pem");
}

}  // namespace tern::relay
