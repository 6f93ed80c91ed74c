// ternctl dkim generate DOMAIN [--selector S] [--algorithm rsa|ed25519]
// Writes data_dir/dkim/<domain>/<selector>.<rsa|ed25519>.pem (0600; ternd signs outbound mail
// from that domain with every key found there) and prints the DNS TXT record to publish.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "common/strings.h"
#include "ctl/commands.h"
#include "relay/relay.h"

namespace tern::ctl {

namespace {

bool valid_label_text(std::string_view s, bool allow_underscore) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.' ||
      s.find("..") != std::string_view::npos)
    return false;
  for (char ch : s) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
              (allow_underscore && ch == '_');
    if (!ok) return false;
  }
  return true;
}

// TXT character-strings are at most 255 bytes (RFC 1035 §3.3.14): split for zone files.
std::string zone_quoted(const std::string& value) {
  std::string out;
  for (size_t i = 0; i < value.size(); i += 250) {
    if (!out.empty()) out += ' ';
    out += '"' + value.substr(i, 250) + '"';
  }
  return out;
}

}  // namespace

void register_dkim_commands(CLI::App& app, Context& ctx) {
  CLI::App* dkim = app.add_subcommand("dkim", "DKIM signing keys for outbound mail");
  dkim->require_subcommand(1);
  struct Args {
    std::string domain, selector = "tern", algorithm = "rsa";
  };
  auto a = std::make_shared<Args>();
  CLI::App* gen = dkim->add_subcommand("generate", "create a signing key and print its DNS TXT record");
  gen->add_option("DOMAIN", a->domain, "the From domain to sign for")->required();
  gen->add_option("--selector", a->selector, "DKIM selector (s=)");
  gen->add_option("--algorithm", a->algorithm, "rsa (rsa-sha256, 2048 bits) or ed25519")
      ->check(CLI::IsMember({"rsa", "ed25519"}));
  gen->callback([&ctx, a] {
    ctx.action = [a](Context& c) {
      auto cfg = c.config();
      if (!cfg) return fail(cfg.error());
      std::string domain = ascii_lower(a->domain);
      std::string selector = ascii_lower(a->selector);
      if (!valid_label_text(domain, false)) return fail("bad domain: " + a->domain);
      if (!valid_label_text(selector, true)) return fail("bad selector: " + a->selector);
      auto alg = a->algorithm == "ed25519" ? relay::DkimAlgorithm::ed25519_sha256
                                           : relay::DkimAlgorithm::rsa_sha256;
      std::string dkim_dir = (*cfg)->data_dir + "/dkim";
      std::string path = relay::dkim_key_file(dkim_dir, domain, selector, alg);
      std::error_code ec;
      std::filesystem::create_directories(dkim_dir + "/" + domain, ec);
      if (ec) return fail("cannot create " + dkim_dir + "/" + domain + ": " + ec.message());
      ::chmod(dkim_dir.c_str(), 0700);
      ::chmod((dkim_dir + "/" + domain).c_str(), 0700);
      auto pem = relay::generate_dkim_key(alg);
      if (!pem) return fail(pem.error());
      auto key = relay::DkimKey::from_pem(*pem);
      if (!key) return fail(key.error());
      // O_EXCL: never overwrite a published key by accident.
      int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) {
        if (errno == EEXIST) return fail(path + " already exists (choose another --selector)");
        return fail("cannot create " + path + ": " + std::strerror(errno));
      }
      bool ok = ::write(fd, pem->data(), pem->size()) == static_cast<ssize_t>(pem->size()) &&
                ::fsync(fd) == 0;
      ::close(fd);
      if (!ok) {
        ::unlink(path.c_str());
        return fail("cannot write " + path);
      }
      std::string name = relay::dkim_dns_name(selector, domain);
      std::string value = relay::dkim_dns_txt_record(*key);
      std::cout << "key: " << path << '\n'
                << "name: " << name << '\n'
                << "value: " << value << '\n'
                << "zone: " << name << ". IN TXT " << zone_quoted(value) << '\n';
      return kExitOk;
    };
  });
}

}  // namespace tern::ctl
