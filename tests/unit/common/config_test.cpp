#include <gtest/gtest.h>

#include <fstream>

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

// An override file changes single keys of the packaged file; tables merge, arrays and values
// are replaced; problems after the merge name both files.
TEST(Config, LaterFilesOverrideEarlierOnesKeyByKey) {
  std::string dir = ::testing::TempDir();
  std::string base = dir + "/tern-base.toml", over = dir + "/tern-over.toml";
  {
    std::ofstream(base) << "hostname = \"mail.a.example\"\ndata_dir = \"/var/lib/tern\"\n"
                           "[limits]\nmax_connections = 10\nworker_threads = 4\n"
                           "[listen]\nsmtp = [\"0.0.0.0:25\", \"[::]:25\"]\n";
    std::ofstream(over) << "data_dir = \"/tmp/t\"\n[limits]\nworker_threads = 2\n"
                           "[listen]\nsmtp = \"127.0.0.1:2525\"\n";
  }
  auto c = load_config(std::vector<std::string>{base, over});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->hostname, "mail.a.example");
  EXPECT_EQ(c->data_dir, "/tmp/t");
  EXPECT_EQ(c->limits.max_connections, 10);
  EXPECT_EQ(c->limits.worker_threads, 2);
  ASSERT_EQ(c->listen.smtp.size(), 1u);
  EXPECT_EQ(c->listen.smtp[0].port, 2525);

  std::ofstream(over) << "[limits]\nworker_threads = \"two\"\n";
  auto bad = load_config(std::vector<std::string>{base, over});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, base + " + " + over + ": limits.worker_threads: expected an integer");
}

TEST(Config, ConnectionLimitDefaultsFitAnOffice) {
  auto c = parse("data_dir = \"/d\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_GE(c->limits.max_unauthenticated_per_ip, 100);
  EXPECT_GE(c->limits.max_user_ip_connections, 10);
  EXPECT_GE(c->limits.smtp_max_connections_per_ip, 50);
  EXPECT_FALSE(c->smtp.auth_on_mx);
  auto old = parse("data_dir = \"/d\"\n[limits]\nmax_connections_per_ip = 20\n");
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.error().message.find("limits.max_connections_per_ip: replaced by"), std::string::npos)
      << old.error().message;
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

TEST(Config, DmarcReports) {
  auto c = parse("data_dir = \"/d\"\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->dmarc_reports.enabled, "auto");
  EXPECT_EQ(c->dmarc_reports.send_hour_utc, 0);
  c = parse("data_dir = \"/d\"\n[dmarc_reports]\nenabled = false\nfrom = \"DMARC@Example.COM\"\n"
            "org_name = \"Example\"\nsend_hour_utc = 23\nmax_rows_per_domain = 50\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->dmarc_reports.enabled, "false");
  EXPECT_EQ(c->dmarc_reports.from, "dmarc@example.com");
  EXPECT_EQ(c->dmarc_reports.org_name, "Example");
  EXPECT_EQ(c->dmarc_reports.send_hour_utc, 23);
  EXPECT_EQ(c->dmarc_reports.max_rows_per_domain, 50);
  EXPECT_EQ(parse("data_dir = \"/d\"\n[dmarc_reports]\nenabled = true\n")->dmarc_reports.enabled, "true");
  auto bad = [](const std::string& body) {
    auto r = parse("data_dir = \"/d\"\n[dmarc_reports]\n" + body);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(bad("enabled = \"yes\"\n"),
            "/etc/t.toml: dmarc_reports.enabled: expected true, false or \"auto\"");
  EXPECT_EQ(bad("from = \"nobody\"\n"),
            "/etc/t.toml: dmarc_reports.from: bad address \"nobody\": expected local@domain");
  EXPECT_EQ(bad("send_hour_utc = 24\n"), "/etc/t.toml: dmarc_reports.send_hour_utc: must be between 0 and 23");
  EXPECT_EQ(bad("max_rows_per_domain = 0\n"),
            "/etc/t.toml: dmarc_reports.max_rows_per_domain: must be between 1 and 1000000");
  EXPECT_EQ(bad("rua = \"x\"\n"), "/etc/t.toml: dmarc_reports.rua: unknown key");
}

TEST(Config, SpamAndScanners) {
  auto d = parse("data_dir = \"/d\"\n");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->spam.enabled);  // on out of the box
  EXPECT_TRUE(d->clamav.address.empty());
  EXPECT_EQ(d->rspamd.on_failure, "tempfail");
  auto c = parse("data_dir = \"/d\"\n[spam]\njunk_threshold = 4\nreject_threshold = 9.5\n"
                 "uribl = [\"dbl.example.org:4\", \"multi.example.net:1.5\"]\n"
                 "[clamav]\naddress = \"unix:/run/clamav/clamd.ctl\"\non_failure = \"accept\"\n"
                 "scan_submission = true\n[rspamd]\naddress = \"[::1]:11333\"\nmode = \"replace\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_DOUBLE_EQ(c->spam.junk_threshold, 4.0);
  EXPECT_DOUBLE_EQ(c->spam.reject_threshold, 9.5);
  EXPECT_EQ(c->spam.uribl.size(), 2u);
  EXPECT_EQ(c->clamav.on_failure, "accept");
  EXPECT_TRUE(c->clamav.scan_submission);
  EXPECT_EQ(c->rspamd.mode, "replace");
  auto bad = [](const std::string& body) {
    auto r = parse("data_dir = \"/d\"\n" + body);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(bad("[spam]\njunk_threshold = 10\nreject_threshold = 5\n"),
            "/etc/t.toml: spam.reject_threshold: must not be below spam.junk_threshold");
  EXPECT_EQ(bad("[spam]\njunk_threshold = \"high\"\n"), "/etc/t.toml: spam.junk_threshold: expected a number");
  EXPECT_EQ(bad("[spam]\nuribl = [\"dbl.example.org\"]\n"),
            "/etc/t.toml: spam.uribl: bad entry \"dbl.example.org\": expected zone:weight, e.g. "
            "dbl.example.org:4");
  EXPECT_EQ(bad("[clamav]\naddress = \"localhost:3310\"\n"),
            "/etc/t.toml: clamav.address: bad address \"localhost:3310\": expected "
            "unix:/path/to/socket or ip:port (a literal address)");
  EXPECT_EQ(bad("[rspamd]\non_failure = \"drop\"\n"),
            "/etc/t.toml: rspamd.on_failure: must be one of \"tempfail\", \"accept\"");
  EXPECT_EQ(bad("[rspamd]\nscan_submission = true\n").find("rspamd.scan_submission"), 13u);
}

TEST(Config, Screen) {
  auto d = parse("data_dir = \"/d\"\n");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->screen.dnsbl.empty());  // no blocklist unless configured
  EXPECT_FALSE(d->screen.greylist);
  auto c = parse("data_dir = \"/d\"\n[screen]\ngreet_delay_ms = 0\nreject_pipelining = false\n"
                 "dnsbl = [\"zen.spamhaus.org 5 127.0.0.2-127.0.0.11\", \"list.dnswl.org -3\"]\n"
                 "dnsbl_reject_score = 5\nconnections_per_minute = 0\ngreylist = true\n"
                 "greylist_delay = 2\ngreylist_allow_senders = [\"partner.example\"]\n"
                 "allow_ips = []\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->screen.dnsbl.size(), 2u);
  EXPECT_EQ(c->screen.dnsbl[0].zone, "zen.spamhaus.org");
  EXPECT_EQ(c->screen.dnsbl[1].weight, -3);
  EXPECT_EQ(c->screen.dnsbl_reject_score, 5);
  EXPECT_EQ(c->screen.greylist_delay, 2);
  EXPECT_TRUE(c->screen.allow_ips.empty());
  auto bad = [](const std::string& body) {
    auto r = parse("data_dir = \"/d\"\n[screen]\n" + body);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(bad("dnsbl = [\"zen.spamhaus.org five\"]\n"),
            "/etc/t.toml: screen.dnsbl: bad entry \"zen.spamhaus.org five\": weight must be an "
            "integer from -10000 to 10000");
  EXPECT_EQ(bad("allow_ips = [\"nope\"]\n"),
            "/etc/t.toml: screen.allow_ips: bad address \"nope\": expected an IP address or "
            "address/prefix");
  EXPECT_EQ(bad("greylist_delay = 100000\n"),
            "/etc/t.toml: screen.greylist_delay: must be between 0 and 86400");
  EXPECT_EQ(bad("greylist_delay = 600\ngreylist_retry_window = 300\n"),
            "/etc/t.toml: screen.greylist_retry_window: must be longer than screen.greylist_delay");
  EXPECT_EQ(bad("greylisting = true\n"), "/etc/t.toml: screen.greylisting: unknown key");
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

// Issue 20: the free-space reserve. Unset: the largest message the config accepts (SMTP or
// IMAP APPEND) plus the index's WAL growth; set (0 included): as given.
TEST(Config, MinFreeSpaceDefaultsToTheLargestTransaction) {
  auto c = parse("data_dir = \"/d\"\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->store.min_free_space, 52428800u + StoreConfig::kIndexGrowthReserve);
  EXPECT_EQ(c->store.reserve_file_size, 8u << 20);
  c = parse("data_dir = \"/d\"\n[smtp]\nmax_message_size = 2000\n[imap]\nmax_literal_size = 90000000\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->store.min_free_space, 90000000u + StoreConfig::kIndexGrowthReserve);
  c = parse("data_dir = \"/d\"\n[store]\nmin_free_space = 0\nreserve_file_size = 0\n");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->store.min_free_space, 0u);
  EXPECT_EQ(c->store.reserve_file_size, 0u);
  c = parse("data_dir = \"/d\"\n[store]\nmin_free_space = -1\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("store.min_free_space"), std::string::npos) << c.error().message;
}

namespace {

TEST(Config, HttpListenersAndMtaSts) {
  auto d = parse("data_dir = \"/d\"\n");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->listen.http.empty());
  EXPECT_EQ(d->http.metrics_allow, (std::vector<std::string>{"127.0.0.0/8", "::1"}));
  EXPECT_EQ(d->mta_sts.mode, "testing");
  EXPECT_EQ(d->mta_sts.max_age, 604800);
  auto c = parse("data_dir = \"/d\"\n[listen]\nhttp = \"0.0.0.0:80\"\nhttps = [\"[::]:443\"]\n"
                 "[http]\nmetrics_allow = [\"10.0.0.0/8\"]\n"
                 "[mta_sts]\nmode = \"enforce\"\nmax_age = 86400\nmx = [\"MX1.Example.net\", \"*.example.org\"]\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->listen.http.size(), 1u);
  EXPECT_EQ(c->listen.http[0].port, 80);
  EXPECT_EQ(c->listen.https[0].str(), "[::]:443");
  EXPECT_EQ(c->http.metrics_allow, (std::vector<std::string>{"10.0.0.0/8"}));
  EXPECT_EQ(c->mta_sts.mode, "enforce");
  EXPECT_EQ(c->mta_sts.mx, (std::vector<std::string>{"mx1.example.net", "*.example.org"}));
  auto bad = [](const std::string& body) {
    auto r = parse("data_dir = \"/d\"\n" + body);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  EXPECT_EQ(bad("[mta_sts]\nmode = \"strict\"\n").find("/etc/t.toml: mta_sts.mode:"), 0u);
  EXPECT_EQ(bad("[mta_sts]\nmax_age = 40000000\n"),
            "/etc/t.toml: mta_sts.max_age: must be between 1 and 31557600");
  EXPECT_EQ(bad("[mta_sts]\nmx = [\"mail example\"]\n"),
            "/etc/t.toml: mta_sts.mx: bad name \"mail example\": expected a host name or *.domain");
  EXPECT_EQ(bad("[http]\nmetrics_allow = [\"localhost\"]\n"),
            "/etc/t.toml: http.metrics_allow: bad address \"localhost\": expected an IP address or "
            "address/prefix");
  EXPECT_EQ(bad("[listen]\nhttp = \"nope\"\n").find("/etc/t.toml: listen.http:"), 0u);
}

TEST(Config, Acme) {
  auto d = parse("data_dir = \"/d\"\n");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->acme.enabled);
  EXPECT_EQ(d->acme.challenge, "http-01");
  EXPECT_EQ(d->acme.test_renew_after, 0);
  auto c = parse("data_dir = \"/d\"\n[acme]\nenabled = true\n"
                 "directory = \"https://ca.example/dir\"\ncontact = \"admin@example.test\"\n"
                 "names = [\"Mail.Example.test\", \"mta-sts.example.test\"]\n"
                 "challenge = \"tls-alpn-01\"\nca_file = \"/etc/ca.pem\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->acme.enabled);
  EXPECT_EQ(c->acme.names, (std::vector<std::string>{"mail.example.test", "mta-sts.example.test"}));
  EXPECT_EQ(c->acme.challenge, "tls-alpn-01");
  EXPECT_EQ(c->acme.ca_file, "/etc/ca.pem");
  auto bad = [](const std::string& body) {
    auto r = parse("data_dir = \"/d\"\n[acme]\n" + body);
    return r.ok() ? std::string("ok") : r.error().message;
  };
  // RFC 8555 §6.1: HTTPS only.
  EXPECT_EQ(bad("enabled = true\ndirectory = \"http://ca.example/dir\"\n").find("/etc/t.toml: acme.directory:"), 0u);
  EXPECT_EQ(bad("enabled = true\n").find("/etc/t.toml: acme.directory:"), 0u);
  EXPECT_EQ(bad("directory = \"http://x\"\n"), "ok");  // only checked when enabled
  EXPECT_EQ(bad("challenge = \"dns-01\"\n").find("/etc/t.toml: acme.challenge:"), 0u);
  EXPECT_EQ(bad("contact = \"nobody\"\n").find("/etc/t.toml: acme.contact:"), 0u);
  EXPECT_EQ(bad("names = [\"*.example.test\"]\n").find("/etc/t.toml: acme.names:"), 0u);
}

}  // namespace
