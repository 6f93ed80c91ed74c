#include <gtest/gtest.h>

#include "common/config.h"

using namespace tern;

namespace {

Result<Config> parse(const std::string& text) { return parse_config(text, "/etc/t.toml"); }

TEST(Config, FullContractParses) {
  auto c = parse(R"(
hostname = "mail.example.test"
data_dir = "/var/lib/tern"
user = "tern"
log_level = "debug"
[tls]
cert = "/etc/tern/fullchain.pem"
key  = "/etc/tern/privkey.pem"
[listen]
smtp = "0.0.0.0:25"
submission = ["0.0.0.0:587", "[::]:587"]
imaps = "127.0.0.1:993"
[auth]
allow_plaintext_without_tls = true
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->hostname, "mail.example.test");
  EXPECT_EQ(c->log_level, "debug");
  ASSERT_EQ(c->listen.smtp.size(), 1u);
  EXPECT_EQ(c->listen.smtp[0].port, 25);
  ASSERT_EQ(c->listen.submission.size(), 2u);
  EXPECT_EQ(c->listen.submission[1].host, "::");
  EXPECT_EQ(c->listen.submission[1].str(), "[::]:587");
  EXPECT_TRUE(c->listen.pop3.empty());
  EXPECT_TRUE(c->auth.allow_plaintext_without_tls);
  EXPECT_EQ(c->smtp.max_recipients, 100);
}

TEST(Config, UnknownKeyNamesFileAndKey) {
  auto c = parse("data_dir = \"/x\"\n[listen]\nsmtpp = \"0.0.0.0:25\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "/etc/t.toml: listen.smtpp: unknown key");
}

TEST(Config, BadAddressNamesKey) {
  auto c = parse("data_dir = \"/x\"\n[listen]\nsmtp = \"0.0.0.0\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("listen.smtp: bad address \"0.0.0.0\""), std::string::npos)
      << c.error().message;
  c = parse("data_dir = \"/x\"\n[listen]\nimap = \"0.0.0.0:99999\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("listen.imap"), std::string::npos);
  c = parse("data_dir = \"/x\"\n[listen]\nimap = \"mail.example:143\"\n");
  ASSERT_FALSE(c.ok());
}

TEST(Config, WrongTypeAndMalformed) {
  auto c = parse("data_dir = 5\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "/etc/t.toml: data_dir: expected a string");
  c = parse("data_dir = \"/x\"\n[auth]\nallow_plaintext_without_tls = \"yes\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("auth.allow_plaintext_without_tls"), std::string::npos);
  c = parse("data_dir = \"/x\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message.rfind("/etc/t.toml:1:", 0), 0u) << c.error().message;
  c = parse("hostname = \"h\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "/etc/t.toml: data_dir: required");
}

TEST(Config, Postmaster) {
  auto c = parse("data_dir = \"/x\"\npostmaster = \"admin@example.test\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->postmaster, "admin@example.test");
  c = parse("data_dir = \"/x\"\npostmaster = \"admin\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message,
            "/etc/t.toml: postmaster: bad address \"admin\": expected local@domain");
}

TEST(Config, RangesAndChoices) {
  auto c = parse("data_dir = \"/x\"\n[smtp]\nmax_recipients = 10\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("smtp.max_recipients: must be between 100"), std::string::npos);
  c = parse("data_dir = \"/x\"\nlog_level = \"loud\"\n");
  ASSERT_FALSE(c.ok());
  c = parse("data_dir = \"/x\"\n[relay]\nsmarthost = \"smtp.isp.example:587\"\nretry_schedule = [1, 2]\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->relay.smarthost.address.host, "smtp.isp.example");
  EXPECT_EQ(c->relay.smarthost.address.port, 587);
  EXPECT_EQ(c->relay.retry_schedule, (std::vector<int>{1, 2}));
}

TEST(Config, DnsAndInboundAuth) {
  auto c = parse("data_dir = \"/d\"\n[dns]\nservers = [\"127.0.0.1:5353\"]\n"
                 "[inbound_auth]\nspf = \"record\"\niprev = \"off\"\ntimeout = 3\n"
                 "allow_ips = [\"192.0.2.0/24\", \"::1\"]\nallow_senders = \"example.com\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->dns.servers.size(), 1u);
  EXPECT_EQ(c->dns.servers[0].port, 5353);
  EXPECT_EQ(c->inbound_auth.spf, "record");
  EXPECT_EQ(c->inbound_auth.dkim, "enforce");  // the default
  EXPECT_EQ(c->inbound_auth.iprev, "off");
  EXPECT_EQ(c->inbound_auth.timeout, 3);
  EXPECT_EQ(c->inbound_auth.allow_senders, std::vector<std::string>{"example.com"});
  auto bad = [](const std::string& body) {
    auto r = parse("data_dir = \"/d\"\n" + body);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(bad("[inbound_auth]\ndmarc = \"strict\"\n"),
            "/etc/t.toml: inbound_auth.dmarc: must be one of \"off\", \"record\", \"enforce\"");
  EXPECT_EQ(bad("[inbound_auth]\ntimeout = 0\n"),
            "/etc/t.toml: inbound_auth.timeout: must be between 1 and 120");
  EXPECT_EQ(bad("[inbound_auth]\nallow_ips = [\"10.0.0.0/33\"]\n"),
            "/etc/t.toml: inbound_auth.allow_ips: bad address \"10.0.0.0/33\": expected an IP "
            "address or address/prefix");
  EXPECT_EQ(bad("[dns]\nservers = [\"dns.example\"]\n").rfind("/etc/t.toml: dns.servers: bad address", 0),
            0u);
}

TEST(Config, MissingFile) {
  auto c = load_config("/nonexistent/tern.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "/nonexistent/tern.toml: cannot read the configuration file");
}

}  // namespace

TEST(Config, SampleConfigParses) {
  auto c = load_config(std::string(TERN_SOURCE_DIR) + "/etc/ternd.toml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->listen.smtp.size(), 2u);
  EXPECT_EQ(c->user, "tern");
}
