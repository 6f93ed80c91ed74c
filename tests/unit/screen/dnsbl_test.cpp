// screen/dnsbl.h: query names (RFC 5782 §2.1, §2.4), return codes, lookups over a fake DNS.
#include "screen/dnsbl.h"

#include <gtest/gtest.h>

#include "authn/resolver.h"

using namespace tern;
using namespace tern::screen;

namespace {

authn::IpAddress ip(const char* text) { return *authn::IpAddress::parse(text); }

DnsblZone zone(const char* spec) {
  auto z = parse_dnsbl_zone(spec);
  EXPECT_TRUE(z) << spec;
  return *z;
}

}  // namespace

TEST(Dnsbl, Ipv4QueryNameReversesOctets) {
  EXPECT_EQ(query_name(ip("192.0.2.99"), "zen.spamhaus.org"), "99.2.0.192.zen.spamhaus.org");
  EXPECT_EQ(query_name(ip("127.0.0.2"), "bl.example"), "2.0.0.127.bl.example");
  // An IPv4-mapped client is the IPv4 host it is.
  EXPECT_EQ(query_name(ip("::ffff:192.0.2.1"), "bl.example"), "1.2.0.192.bl.example");
}

TEST(Dnsbl, Ipv6QueryNameIsReversedNibbles) {
  // RFC 5782 §2.4's own example.
  EXPECT_EQ(query_name(ip("2001:db8:1:2:3:4:567:89ab"), "ugly.example.com"),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example.com");
}

TEST(Dnsbl, ZoneSpecParsing) {
  DnsblZone z = zone("Zen.Spamhaus.org. 5 127.0.0.2-127.0.0.11,127.0.1.9");
  EXPECT_EQ(z.zone, "zen.spamhaus.org");
  EXPECT_EQ(z.weight, 5);
  ASSERT_EQ(z.codes.size(), 2u);
  EXPECT_EQ(z.codes[0], std::make_pair(0x7f000002u, 0x7f00000bu));
  EXPECT_EQ(zone("list.dnswl.org -3").weight, -3);
  EXPECT_TRUE(zone("list.dnswl.org -3").codes.empty());
  for (const char* bad : {"", "zen.spamhaus.org", "zen 5", "bl.example x", "bl.example 5 127.0.0.9-127.0.0.2",
                          "bl.example 5 nonsense", "bl.example 5 127.0.0.2 extra", "b/l.example 1"})
    EXPECT_FALSE(parse_dnsbl_zone(bad)) << bad;
}

TEST(Dnsbl, ReturnCodes) {
  DnsblZone zen = zone("zen.spamhaus.org 5 127.0.0.2-127.0.0.11");
  EXPECT_TRUE(code_counts(zen, "127.0.0.2"));
  EXPECT_TRUE(code_counts(zen, "127.0.0.11"));
  EXPECT_FALSE(code_counts(zen, "127.0.0.12"));
  EXPECT_FALSE(code_counts(zen, "127.255.255.254"));  // Spamhaus: query refused
  EXPECT_FALSE(code_counts(zen, "not an address"));
  DnsblZone any = zone("bl.example 1");
  EXPECT_TRUE(code_counts(any, "127.0.0.2"));
  EXPECT_TRUE(code_counts(any, "127.1.2.3"));
  EXPECT_FALSE(code_counts(any, "127.0.0.1"));  // RFC 5782 §2.1: never a listing
  EXPECT_FALSE(code_counts(any, "10.0.0.2"));
}

TEST(Dnsbl, LookupCollectsHitsAndScore) {
  authn::FakeResolver dns(
      "2.0.0.127.bl.example A 127.0.0.2\n"
      "2.0.0.127.quiet.example A 127.0.0.1\n"
      "2.0.0.127.wl.example A 127.0.10.3\n"
      "2.0.0.127.broken.example TEMPERROR\n");
  std::vector<DnsblZone> zones = {zone("bl.example 4"), zone("quiet.example 9"),
                                  zone("wl.example -2"), zone("broken.example 7"),
                                  zone("absent.example 3")};
  auto lookup = DnsblLookup::start(dns, ip("127.0.0.2"), zones);
  ASSERT_TRUE(lookup->done());
  ASSERT_EQ(lookup->hits().size(), 2u);
  EXPECT_EQ(lookup->hits()[0], (ScoreRecord{"DNSBL_bl.example", 4, "127.0.0.2"}));
  EXPECT_EQ(lookup->hits()[1], (ScoreRecord{"DNSBL_wl.example", -2, "127.0.10.3"}));
  EXPECT_EQ(lookup->score(), 2);
  EXPECT_TRUE(lookup->allow_listed());
  EXPECT_EQ(lookup->worst_zone(), "bl.example");
  // Another address is listed nowhere.
  auto clean = DnsblLookup::start(dns, ip("127.0.0.3"), zones);
  EXPECT_TRUE(clean->hits().empty());
  EXPECT_EQ(clean->worst_zone(), "");
}

TEST(Dnsbl, WaitersAndGiveUp) {
  authn::FakeResolver dns("2.0.0.127.bl.example A 127.0.0.2\n");
  dns.set_deferred(true);
  auto lookup = DnsblLookup::start(dns, ip("127.0.0.2"), {zone("bl.example 4"), zone("slow.example 1")});
  int woken = 0;
  lookup->when_done([&] { ++woken; });
  lookup->when_done([&] { ++woken; });
  EXPECT_FALSE(lookup->done());
  lookup->give_up();  // a deadline: the missing answers count as not listed
  EXPECT_TRUE(lookup->done());
  EXPECT_EQ(woken, 2);
  dns.run_pending();  // late answers are ignored
  EXPECT_TRUE(lookup->hits().empty());
  lookup->when_done([&] { ++woken; });  // already done: at once
  EXPECT_EQ(woken, 3);
}

TEST(Dnsbl, DeferredAnswersComplete) {
  authn::FakeResolver dns("2.0.0.127.bl.example A 127.0.0.2\n");
  dns.set_deferred(true);
  auto lookup = DnsblLookup::start(dns, ip("127.0.0.2"), {zone("bl.example 4")});
  bool woken = false;
  lookup->when_done([&] { woken = true; });
  dns.run_pending();
  EXPECT_TRUE(woken);
  EXPECT_EQ(lookup->score(), 4);
}
