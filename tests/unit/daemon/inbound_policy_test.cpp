// daemon/inbound_policy.h: what the sender checks' verdicts do to a message.
#include "daemon/inbound_policy.h"

#include <gtest/gtest.h>

using namespace tern;
using namespace tern::daemon;
using authn::AuthVerdicts;
using authn::DmarcPolicy;
using authn::DmarcResult;

namespace {

AuthVerdicts dmarc_fail(DmarcPolicy disposition, DmarcPolicy policy = DmarcPolicy::reject) {
  AuthVerdicts v;
  authn::DmarcVerdict d;
  d.result = DmarcResult::fail;
  d.from_domain = "bank.example";
  d.record_domain = "bank.example";
  d.policy_tag = "p";
  d.policy = policy;
  d.disposition = disposition;
  v.dmarc = d;
  authn::SpfVerdict s;
  s.result = authn::SpfResult::fail;
  s.domain = "bank.example";
  v.spf = s;
  return v;
}

TEST(InboundPolicy, DmarcRejectNamesTheDomainsPolicy) {
  InboundPolicy p;
  auto d = decide(p, dmarc_fail(DmarcPolicy::reject), false);
  EXPECT_EQ(d.action, InboundDecision::reject);
  EXPECT_NE(d.reply_text.find("p=reject of bank.example"), std::string::npos) << d.reply_text;
}

TEST(InboundPolicy, QuarantineAndSampledOutReject) {
  InboundPolicy p;
  EXPECT_EQ(decide(p, dmarc_fail(DmarcPolicy::quarantine, DmarcPolicy::quarantine), false).action,
            InboundDecision::junk);
  // pct= sampled the reject out to quarantine: the disposition decides.
  EXPECT_EQ(decide(p, dmarc_fail(DmarcPolicy::quarantine), false).action, InboundDecision::junk);
}

TEST(InboundPolicy, RecordModeAndAllowListNeverReject) {
  InboundPolicy p;
  p.dmarc = CheckMode::record;
  p.spf = CheckMode::record;
  EXPECT_EQ(decide(p, dmarc_fail(DmarcPolicy::reject), false).action, InboundDecision::inbox);
  InboundPolicy q;
  auto d = decide(q, dmarc_fail(DmarcPolicy::reject), true);
  EXPECT_EQ(d.action, InboundDecision::inbox);
  EXPECT_TRUE(d.reply_text.empty());
}

TEST(InboundPolicy, SpfFailJunkUnlessDmarcPasses) {
  InboundPolicy p;
  auto v = dmarc_fail(DmarcPolicy::none, DmarcPolicy::none);
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::junk);
  v.dmarc->result = DmarcResult::pass;
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::inbox);
  v.dmarc.reset();
  p.spf = CheckMode::record;
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::inbox);
}

TEST(InboundPolicy, DkimAllFailedAndIprev) {
  InboundPolicy p;
  AuthVerdicts v;
  authn::DkimVerdict bad;
  bad.result = authn::DkimResult::fail;
  v.dkim = {bad};
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::junk);
  authn::DkimVerdict good;
  good.result = authn::DkimResult::pass;
  v.dkim.push_back(good);
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::inbox);
  authn::IprevVerdict ip;
  ip.result = authn::IprevResult::temperror;
  v.iprev = ip;
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::inbox);  // DNS trouble is not proof
  v.iprev->result = authn::IprevResult::permerror;
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::junk);
}

TEST(InboundPolicy, OffChecksAreNotReported) {
  InboundPolicy p;
  p.spf = CheckMode::off;
  p.iprev = CheckMode::off;
  auto v = reported_verdicts(p, dmarc_fail(DmarcPolicy::reject));
  EXPECT_FALSE(v.spf);
  EXPECT_FALSE(v.iprev);
  EXPECT_TRUE(v.dmarc);
}

TEST(InboundPolicy, AllowLists) {
  InboundAuthConfig c;
  c.allow_ips = {"192.0.2.0/24", "2001:db8::1"};
  c.allow_senders = {"Boss@Partner.example", "@friends.example", "lists.example"};
  auto p = InboundPolicy::from_config(c);
  EXPECT_TRUE(p.allowed("192.0.2.77", "", ""));
  EXPECT_FALSE(p.allowed("192.0.3.1", "", ""));
  EXPECT_TRUE(p.allowed("2001:db8::1", "", ""));
  EXPECT_FALSE(p.allowed("2001:db8::2", "x@other.example", "other.example"));
  EXPECT_TRUE(p.allowed("203.0.113.1", "boss@partner.example", ""));
  EXPECT_FALSE(p.allowed("203.0.113.1", "intern@partner.example", ""));
  EXPECT_TRUE(p.allowed("203.0.113.1", "a@friends.example", ""));
  EXPECT_TRUE(p.allowed("203.0.113.1", "", "lists.example"));
  EXPECT_FALSE(p.allowed("203.0.113.1", "", ""));
}

}  // namespace

TEST(InboundPolicy, SpfTemperrorIsDeferredOnlyWhenAsked) {
  AuthVerdicts v;
  authn::SpfVerdict s;
  s.result = authn::SpfResult::temperror;
  s.domain = "slow.example";
  v.spf = s;
  InboundPolicy p;  // default: accept (RFC 7208 §8.6 makes 451 optional)
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::inbox);
  p.spf_temperror_tempfail = true;
  auto d = decide(p, v, false);
  EXPECT_EQ(d.action, InboundDecision::tempfail);
  EXPECT_NE(d.reply_text.find("slow.example"), std::string::npos) << d.reply_text;
  EXPECT_EQ(decide(p, v, true).action, InboundDecision::inbox);  // allow-listed
  authn::DmarcVerdict pass;
  pass.result = DmarcResult::pass;
  AuthVerdicts rescued = v;
  rescued.dmarc = pass;  // an aligned DKIM pass settles it
  EXPECT_EQ(decide(p, rescued, false).action, InboundDecision::inbox);
  p.spf = CheckMode::record;
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::inbox);
  s.result = authn::SpfResult::fail;
  v.spf = s;
  p.spf = CheckMode::enforce;
  EXPECT_EQ(decide(p, v, false).action, InboundDecision::junk);
}
