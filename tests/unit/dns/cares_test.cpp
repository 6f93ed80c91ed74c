// CaresResolver against a real loopback DNS server (tests/support/dns_server.py, dnslib).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <optional>
#include <string>

#include "dns/dns.h"

using namespace tern::dns;

namespace {

// Runs the Python DNS server as a child process; reads its port from the first stdout line.
class DnsServer {
 public:
  DnsServer() {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      std::string script = std::string(TERN_SOURCE_DIR) + "/tests/support/dns_server.py";
      execl("/usr/bin/python3", "python3", script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(fds[1]);
    FILE* out = fdopen(fds[0], "r");
    char line[32] = {};
    if (out && fgets(line, sizeof line, out)) port_ = static_cast<uint16_t>(atoi(line));
    if (out) fclose(out);
  }
  ~DnsServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

class CaresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(server().port(), 0) << "dns_server.py did not start";
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    CaresOptions opts;
    opts.servers = {tern::Endpoint{"127.0.0.1", server().port()}};
    opts.timeout_ms = 300;
    opts.tries = 1;
    opts.random = [](uint32_t) { return 0u; };
    auto r = CaresResolver::create(&loop_, opts);
    ASSERT_TRUE(r.ok()) << r.error().message;
    resolver_ = std::move(r.value());
  }
  void TearDown() override {
    resolver_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);  // let closed handles be released
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  MxResult mx(const std::string& domain) {
    std::optional<MxResult> out;
    resolver_->lookup_mx(domain, [&](MxResult r) { out = std::move(r); });
    EXPECT_FALSE(out.has_value()) << "callback must not run inside lookup_mx";
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_TRUE(out.has_value());
    return out.value_or(MxResult{});
  }
  AddressResult addresses(const std::string& host) {
    std::optional<AddressResult> out;
    resolver_->lookup_addresses(host, [&](AddressResult r) { out = std::move(r); });
    EXPECT_FALSE(out.has_value());
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_TRUE(out.has_value());
    return out.value_or(AddressResult{});
  }

  // Started lazily (not during test discovery), once per test process.
  static DnsServer& server() {
    static DnsServer s;
    return s;
  }
  uv_loop_t loop_{};
  std::unique_ptr<CaresResolver> resolver_;
};

}  // namespace

TEST_F(CaresTest, MxSortedByPreference) {
  auto r = mx("mx.test");
  ASSERT_EQ(r.status, DnsStatus::ok) << r.detail;
  EXPECT_FALSE(r.implicit);
  ASSERT_EQ(r.hosts.size(), 3u);
  EXPECT_EQ(r.hosts[0], (MxRecord{5, "primary.mx.test"}));
  EXPECT_EQ(r.hosts[1].preference, 10);
  EXPECT_EQ(r.hosts[2].preference, 10);
}

TEST_F(CaresTest, NullMx) {
  auto r = mx("nullmx.test");
  EXPECT_EQ(r.status, DnsStatus::null_mx) << r.detail;
  EXPECT_TRUE(r.hosts.empty());
}

TEST_F(CaresTest, ImplicitMx) {
  auto r = mx("implicit.test");
  ASSERT_EQ(r.status, DnsStatus::ok) << r.detail;
  EXPECT_TRUE(r.implicit);
  ASSERT_EQ(r.hosts.size(), 1u);
  EXPECT_EQ(r.hosts[0].exchange, "implicit.test");
}

TEST_F(CaresTest, NxdomainIsPermanent) {
  EXPECT_EQ(mx("nonexistent.test").status, DnsStatus::not_found);
  EXPECT_EQ(addresses("nonexistent.test").status, DnsStatus::not_found);
}

TEST_F(CaresTest, ServfailIsTemporary) {
  EXPECT_EQ(mx("servfail.test").status, DnsStatus::temporary);
  EXPECT_EQ(addresses("servfail.test").status, DnsStatus::temporary);
}

TEST_F(CaresTest, TimeoutIsTemporary) {
  auto r = mx("timeout.test");
  EXPECT_EQ(r.status, DnsStatus::temporary);
  EXPECT_FALSE(r.detail.empty());
}

TEST_F(CaresTest, AddressesBothFamilies) {
  auto r = addresses("primary.mx.test");
  ASSERT_EQ(r.status, DnsStatus::ok) << r.detail;
  EXPECT_EQ(r.ipv4, std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(r.ipv6, std::vector<std::string>{"2001:db8::1"});
  r = addresses("v6only.test");
  ASSERT_EQ(r.status, DnsStatus::ok) << r.detail;
  EXPECT_TRUE(r.ipv4.empty());
  EXPECT_EQ(r.ipv6, std::vector<std::string>{"2001:db8::6"});
  // A name that exists but has no addresses (only MX): permanent "no addresses".
  EXPECT_EQ(addresses("nullmx.test").status, DnsStatus::not_found);
}

TEST_F(CaresTest, ConcurrentLookupsAndBadName) {
  int done = 0;
  MxResult a, b;
  AddressResult c;
  resolver_->lookup_mx("mx.test", [&](MxResult r) { a = std::move(r); ++done; });
  resolver_->lookup_mx("nullmx.test", [&](MxResult r) { b = std::move(r); ++done; });
  resolver_->lookup_addresses("mx1.mx.test", [&](AddressResult r) { c = std::move(r); ++done; });
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(done, 3);
  EXPECT_EQ(a.status, DnsStatus::ok);
  EXPECT_EQ(b.status, DnsStatus::null_mx);
  EXPECT_EQ(c.ipv4, std::vector<std::string>{"192.0.2.2"});
  // A name c-ares rejects outright still answers through the loop, never synchronously.
  auto bad = mx(std::string(300, 'a') + ".test");
  EXPECT_NE(bad.status, DnsStatus::ok);
}

TEST_F(CaresTest, DestroyWithPendingLookupDoesNotCallBack) {
  bool called = false;
  resolver_->lookup_mx("timeout.test", [&](MxResult) { called = true; });
  resolver_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_FALSE(called);
}

TEST(CaresCreate, RejectsBadServerList) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  CaresOptions opts;
  opts.servers = {tern::Endpoint{"not-an-ip", 53}};
  auto r = CaresResolver::create(&loop, opts);
  EXPECT_FALSE(r.ok());
  uv_run(&loop, UV_RUN_DEFAULT);
  EXPECT_EQ(uv_loop_close(&loop), 0);
}

// ---- RecordResolver over c-ares (TXT, MX, PTR, negative answers with RFC 2308 TTLs) -------

namespace {

Answer record(CaresResolver& r, uv_loop_t* loop, const std::string& name, RrType type) {
  std::optional<Answer> out;
  r.lookup({name, type}, [&](Answer a) { out = std::move(a); });
  EXPECT_FALSE(out.has_value()) << "callback must not run inside lookup";
  uv_run(loop, UV_RUN_DEFAULT);
  EXPECT_TRUE(out.has_value());
  return out.value_or(Answer{});
}

}  // namespace

TEST_F(CaresTest, RecordLookups) {
  Answer txt = record(*resolver_, &loop_, "TXT.auth.test.", RrType::txt);
  ASSERT_EQ(txt.rcode, Rcode::ok) << txt.detail;
  EXPECT_EQ(txt.records, (std::vector<std::string>{"v=spf1 -all", "hello"}));  // strings joined
  EXPECT_EQ(txt.ttl, 60u);
  Answer mx = record(*resolver_, &loop_, "mx.auth.test", RrType::mx);
  ASSERT_EQ(mx.rcode, Rcode::ok);
  ASSERT_EQ(mx.mx.size(), 1u);
  EXPECT_EQ(mx.mx[0], (MxAnswer{10, "mx1.auth.test"}));
  Answer ptr = record(*resolver_, &loop_, "1.2.0.192.in-addr.arpa", RrType::ptr);
  ASSERT_EQ(ptr.rcode, Rcode::ok);
  EXPECT_EQ(ptr.records, std::vector<std::string>{"host.auth.test"});
  Answer a = record(*resolver_, &loop_, "primary.mx.test", RrType::aaaa);
  EXPECT_EQ(a.records, std::vector<std::string>{"2001:db8::1"});
}

TEST_F(CaresTest, RecordNegativeAnswersAndErrors) {
  Answer nx = record(*resolver_, &loop_, "missing.auth.test", RrType::txt);
  EXPECT_EQ(nx.rcode, Rcode::nxdomain);
  EXPECT_EQ(nx.ttl, 120u);  // min(SOA TTL 300, MINIMUM 120), RFC 2308 §5
  Answer nodata = record(*resolver_, &loop_, "nodata.auth.test", RrType::txt);
  EXPECT_EQ(nodata.rcode, Rcode::nodata);
  EXPECT_EQ(nodata.ttl, 120u);
  EXPECT_EQ(record(*resolver_, &loop_, "nonexistent.test", RrType::a).rcode, Rcode::nxdomain);
  EXPECT_EQ(record(*resolver_, &loop_, "servfail.test", RrType::txt).rcode, Rcode::temperror);
  Answer slow = record(*resolver_, &loop_, "timeout.test", RrType::txt);
  EXPECT_EQ(slow.rcode, Rcode::temperror);
  EXPECT_FALSE(slow.detail.empty());
}

TEST_F(CaresTest, CacheInFrontOfCares) {
  CacheOptions opts;
  opts.now_ms = [this] { return uv_now(&loop_); };
  CachingResolver cache(*resolver_, opts);
  int done = 0;
  for (int i = 0; i < 3; ++i) cache.lookup({"txt.auth.test", RrType::txt}, [&](Answer a) { done += a.rcode == Rcode::ok; });
  uv_run(&loop_, UV_RUN_DEFAULT);
  EXPECT_EQ(done, 3);
  EXPECT_EQ(cache.stats().misses, 1u);  // one query on the wire for three askers
  EXPECT_EQ(cache.stats().joined, 2u);
  bool hit = false;
  cache.lookup({"txt.auth.test", RrType::txt}, [&](Answer a) { hit = a.rcode == Rcode::ok; });
  EXPECT_TRUE(hit);  // answered from the cache, synchronously
  EXPECT_EQ(cache.stats().hits, 1u);
}
