// DKIM keys on disk (data_dir/dkim/<domain>/<selector>.<rsa|ed25519>.pem) and outbound signing.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.h"
#include "common/strings.h"
#include "relay/dkim.h"
#include "relay/outbound.h"

namespace tern::relay {

namespace {

// One header field (unfolded) by name, from the header block; "" if absent.
std::string header_value(std::string_view message, std::string_view name) {
  size_t pos = 0;
  std::string value;
  bool in_field = false;
  while (pos < message.size()) {
    size_t eol = message.find('\n', pos);
    std::string_view line = message.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // end of the header block
    if (line[0] == ' ' || line[0] == '\t') {
      if (in_field) value += std::string(line);
    } else {
      if (in_field) return value;
      size_t colon = line.find(':');
      if (colon != std::string_view::npos && iequals(trim(line.substr(0, colon)), name)) {
        in_field = true;
        value = std::string(line.substr(colon + 1));
      }
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return in_field ? value : std::string();
}

}  // namespace

std::string from_header_domain(std::string_view message) {
  std::string from = header_value(message, "From");
  if (from.empty()) return {};
  // Prefer the angle-addr; otherwise the first token containing '@'.
  std::string addr;
  size_t lt = from.find('<');
  if (lt != std::string::npos) {
    size_t gt = from.find('>', lt);
    if (gt != std::string::npos) addr = from.substr(lt + 1, gt - lt - 1);
  }
  if (addr.empty()) {
    for (auto word : split(from, ' ')) {
      if (word.find('@') != std::string_view::npos) {
        addr = std::string(trim(word));
        break;
      }
    }
  }
  size_t at = addr.rfind('@');
  if (at == std::string::npos) return {};
  std::string domain = ascii_lower(trim(addr.substr(at + 1)));
  while (!domain.empty() && (domain.back() == ',' || domain.back() == ';')) domain.pop_back();
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
  std::filesystem::path dir = std::filesystem::path(dkim_dir) / domain;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return std::string(message);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".pem") == 0) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());  // deterministic order of signatures
  std::string signatures;
  for (const auto& path : files) {
    std::string name = path.filename().string();
    std::string stem = name.substr(0, name.size() - 4);  // "<selector>.<alg>"
    size_t dot = stem.rfind('.');
    if (dot == std::string::npos || dot == 0) continue;
    std::string selector = stem.substr(0, dot);
    std::ifstream in(path);
    std::stringstream pem;
    pem << in.rdbuf();
    auto key = DkimKey::from_pem(pem.str());
    if (!key) {
      spdlog::warn("relay dkim: cannot load {}: {}", path.string(), key.error().message);
      continue;
    }
    DkimSignOptions opt;
    opt.domain = domain;
    opt.selector = selector;
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

std::string dkim_key_file(const std::string& dkim_dir, std::string_view domain,
                          std::string_view selector, DkimAlgorithm algorithm) {
  return dkim_dir + "/" + std::string(domain) + "/" + std::string(selector) +
         (algorithm == DkimAlgorithm::rsa_sha256 ? ".rsa.pem" : ".ed25519.pem");
}

}  // namespace tern::relay
