// daemon/acme_service: the names [acme] certifies by default, and the placeholder pair.
#include <gtest/gtest.h>

#include <filesystem>

#include "daemon/acme_service.h"

namespace tern::daemon {
namespace {

TEST(AcmeService, DefaultNamesAreHostnameAndEachDomainsHttpNames) {
  Config c;
  c.hostname = "mail.example.test";
  EXPECT_EQ(acme_names(c, {}), (std::vector<std::string>{"mail.example.test"}));
  EXPECT_EQ(acme_names(c, {"a.test", "b.test"}),
            (std::vector<std::string>{"mail.example.test", "mta-sts.a.test", "autoconfig.a.test",
                                      "mta-sts.b.test", "autoconfig.b.test"}));
  c.acme.names = {"only.example.test"};
  EXPECT_EQ(acme_names(c, {"a.test"}), (std::vector<std::string>{"only.example.test"}));
}

TEST(AcmeService, PrepareWritesThePlaceholderUnlessCheckOnly) {
  auto dir = std::filesystem::temp_directory_path() / ("acme_svc_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  Config c;
  c.hostname = "mail.example.test";
  c.data_dir = dir.string();
  auto off = prepare_acme(c, false);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->has_value());
  c.acme.enabled = true;
  auto checked = prepare_acme(c, true);
  ASSERT_TRUE(checked.ok());
  ASSERT_TRUE(checked->has_value());
  EXPECT_EQ((*checked)->cert, (dir / "acme/mail.example.test/cert.pem").string());
  EXPECT_FALSE(std::filesystem::exists((*checked)->cert));  // --check writes nothing
  auto started = prepare_acme(c, false);
  ASSERT_TRUE(started.ok());
  EXPECT_TRUE(std::filesystem::exists((*started)->cert));
  EXPECT_TRUE(std::filesystem::exists((*started)->key));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tern::daemon
