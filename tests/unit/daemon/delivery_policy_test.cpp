// SMTP delivery policy against a real account db and store in a temporary directory.
#include "daemon/delivery_policy.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "auth/auth.h"
#include "authn/srs.h"
#include "store/store.h"

namespace tern::daemon {
namespace {

using R = smtpd::RecipientResult;

class DeliveryPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tern-policy-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auth::AccountDb::Options o;
    o.cost = auth::HashCost::minimum;
    auto db = auth::AccountDb::open(dir_ + "/accounts.db", o);
    ASSERT_TRUE(db.ok());
    accounts_ = std::move(*db);
    store::StoreOptions so;
    so.data_dir = dir_;
    auto st = store::Store::open(so);
    ASSERT_TRUE(st.ok());
    store_ = std::move(*st);
    ASSERT_TRUE(accounts_->add_domain("example.test").ok());
    ASSERT_TRUE(accounts_->add_user("ann@example.test", "pw", 0).ok());
    ASSERT_TRUE(accounts_->add_user("bob@example.test", "pw", 0).ok());
  }
  void TearDown() override {
    store_.reset();
    accounts_.reset();
    std::filesystem::remove_all(dir_);
  }

  DeliveryPolicy policy(EnqueueRemote enqueue = {}) {
    return DeliveryPolicy(*accounts_, *store_, "mx.example.test", std::move(enqueue));
  }
  static smtpd::ResolveRecipient rcpt(const std::string& address, const std::string& auth = "") {
    smtpd::ResolveRecipient r;
    r.address = address;
    auto at = address.find('@');
    r.parsed.local = address.substr(0, at);
    if (at != std::string::npos) r.parsed.domain = address.substr(at + 1);
    r.auth_user = auth;
    return r;
  }
  static smtpd::Deliver message(std::vector<std::string> users, const std::string& body) {
    smtpd::Deliver d;
    d.envelope.sender = "someone@remote.test";
    smtpd::EnvelopeRecipient r;
    r.address = users.front();
    r.users = std::move(users);
    d.envelope.recipients.push_back(r);
    d.message = body;
    return d;
  }
  std::string only_message(const std::string& user, const std::string& mailbox) {
    auto snap = store_->snapshot(user, mailbox);
    EXPECT_TRUE(snap.ok());
    if (!snap.ok() || snap->messages.size() != 1) {
      ADD_FAILURE() << mailbox << " of " << user << " does not hold exactly one message";
      return {};
    }
    auto bytes = store_->read_message(user, mailbox, snap->messages[0].uid);
    return bytes.ok() ? *bytes : std::string();
  }

  std::string dir_;
  std::unique_ptr<auth::AccountDb> accounts_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(DeliveryPolicyTest, RecipientsResolveThroughAliasesAndDomains) {
  auto p = policy();
  auto d = p.resolve_recipient(rcpt("Ann@example.test"));
  EXPECT_EQ(d.result.status, R::local);
  EXPECT_EQ(d.result.users, std::vector<std::string>{"ann@example.test"});
  EXPECT_EQ(p.resolve_recipient(rcpt("nobody@example.test")).result.status, R::unknown_user);
  // Never an open relay: another domain needs authentication.
  EXPECT_EQ(p.resolve_recipient(rcpt("x@remote.test")).result.status, R::not_local_domain);
  EXPECT_EQ(p.resolve_recipient(rcpt("x@remote.test", "ann@example.test")).result.status, R::remote);
  ASSERT_TRUE(accounts_->add_alias("team@example.test", {"ann@example.test", "bob@example.test"}).ok());
  d = p.resolve_recipient(rcpt("team@example.test"));
  EXPECT_EQ(d.result.status, R::local);
  EXPECT_EQ(d.result.users.size(), 2u);
  EXPECT_EQ(d.quotas.size(), 2u);
}

TEST_F(DeliveryPolicyTest, ForwardingAliasesNeedARunningRelay) {
  ASSERT_TRUE(accounts_->add_alias("fwd@example.test", {"out@remote.test"}).ok());
  ASSERT_TRUE(accounts_->add_alias("mix@example.test", {"ann@example.test", "out@remote.test"}).ok());
  auto with_relay = policy([](const relay::Envelope&, std::string_view) -> Result<std::string> {
    return std::string("q1");
  });
  auto d = with_relay.resolve_recipient(rcpt("fwd@example.test"));
  EXPECT_EQ(d.result.status, R::forward);  // ours: accepted without authentication
  EXPECT_EQ(d.forwards, std::vector<std::string>{"out@remote.test"});
  EXPECT_EQ(with_relay.resolve_recipient(rcpt("mix@example.test")).result.status, R::local);
  // No relay: the whole recipient waits rather than losing its off-site part.
  auto without = policy();
  EXPECT_EQ(without.resolve_recipient(rcpt("fwd@example.test")).result.status, R::temporary);
  d = without.resolve_recipient(rcpt("mix@example.test"));
  EXPECT_EQ(d.result.status, R::temporary);
  EXPECT_TRUE(d.result.users.empty());
}

TEST_F(DeliveryPolicyTest, AFullMailboxIsATemporaryRefusalAtRcpt) {
  auto p = policy();
  ASSERT_EQ(p.deliver_local(message({"ann@example.test"}, "Subject: x\r\n\r\nbody\r\n"), nullptr).status,
            smtpd::DeliverResult::ok);
  ASSERT_TRUE(accounts_->set_quota("ann@example.test", 1000).ok());
  EXPECT_EQ(p.resolve_recipient(rcpt("ann@example.test")).result.status, R::local);
  ASSERT_TRUE(accounts_->set_quota("ann@example.test", 10).ok());
  // RFC 3463 X.2.2: 452 4.2.2, the sender retries.
  EXPECT_EQ(p.resolve_recipient(rcpt("ann@example.test")).result.status, R::over_quota);
}

TEST_F(DeliveryPolicyTest, LocalDeliveryAddsReturnPathAndFilesJunkInTheJunkFolder) {
  auto p = policy();
  auto r = p.deliver_local(message({"ann@example.test"}, "Subject: hi\r\n\r\nbody\r\n"), nullptr);
  ASSERT_EQ(r.status, smtpd::DeliverResult::ok) << r.text;
  // RFC 5321 §4.4: the reverse-path is recorded at final delivery.
  EXPECT_EQ(only_message("ann@example.test", "INBOX"),
            "Return-Path: <someone@remote.test>\r\nSubject: hi\r\n\r\nbody\r\n");

  r = p.deliver_local(message({"bob@example.test"}, "Subject: spam\r\n\r\nbuy\r\n"), nullptr, true);
  ASSERT_EQ(r.status, smtpd::DeliverResult::ok) << r.text;
  EXPECT_NE(only_message("bob@example.test", "Junk").find("Subject: spam"), std::string::npos);
  auto inbox = store_->snapshot("bob@example.test", "INBOX");
  ASSERT_TRUE(inbox.ok());
  EXPECT_TRUE(inbox->messages.empty());
}

TEST_F(DeliveryPolicyTest, OneFailedCopyFailsTheWholeMessageTemporarily) {
  ASSERT_TRUE(accounts_->set_quota("bob@example.test", 5).ok());
  auto p = policy();
  QuotaMap known{{"ann@example.test", 0}, {"bob@example.test", 5}};
  auto r = p.deliver_local(message({"ann@example.test", "bob@example.test"},
                                   "Subject: big\r\n\r\nmore than five bytes\r\n"),
                           &known);
  EXPECT_EQ(r.status, smtpd::DeliverResult::temporary);
  EXPECT_NE(r.text.find("bob@example.test"), std::string::npos);
}

TEST_F(DeliveryPolicyTest, TheRelayCopyFollowsTheLocalOnesWithItsDsnParameters) {
  std::vector<relay::Envelope> queued;
  auto p = policy([&](const relay::Envelope& e, std::string_view) -> Result<std::string> {
    queued.push_back(e);
    return std::string("q1");
  });
  smtpd::Deliver d = message({"ann@example.test"}, "Subject: x\r\n\r\nbody\r\n");
  d.envelope.envid = "abc+2Bdef";
  d.envelope.ret = smtpd::DsnRet::hdrs;
  smtpd::EnvelopeRecipient ext;
  ext.address = "far@remote.test";
  ext.remote = true;
  ext.notify = smtpd::kNotifyFailure | smtpd::kNotifyDelay;
  ext.orcpt = "rfc822;far+2Bx@remote.test";
  d.envelope.recipients.push_back(ext);
  smtpd::EnvelopeRecipient alias;
  alias.address = "Fwd@example.test";
  d.envelope.recipients.push_back(alias);
  relay::Envelope remote = remote_envelope(d.envelope, {{"fwd@example.test", {"out@remote.test"}}});
  ASSERT_EQ(remote.recipients.size(), 2u);
  EXPECT_EQ(remote.envid, "abc+def");  // RFC 3461 §4.4: kept decoded
  EXPECT_EQ(remote.ret, "HDRS");
  EXPECT_EQ(remote.recipients[0].address, "far@remote.test");
  EXPECT_EQ(remote.recipients[0].orcpt, "far+x@remote.test");
  EXPECT_EQ(remote.recipients[0].notify, "FAILURE,DELAY");
  // A forward reports the alias it was sent to as its original recipient.
  EXPECT_EQ(remote.recipients[1].address, "out@remote.test");
  EXPECT_EQ(remote.recipients[1].orcpt, "Fwd@example.test");

  auto r = p.deliver(d, remote, nullptr);
  ASSERT_EQ(r.status, smtpd::DeliverResult::ok) << r.text;
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(only_message("ann@example.test", "INBOX").rfind("Return-Path: ", 0), 0u);

  // No relay: the local copies are in, but the client must retry (a duplicate, never a loss).
  r = policy().deliver(d, remote, nullptr);
  EXPECT_EQ(r.status, smtpd::DeliverResult::temporary);
  EXPECT_EQ(r.text, "relay unavailable");
}

TEST_F(DeliveryPolicyTest, SrsRewritesForwardsAndRoutesVerifiedBouncesBack) {
  auto srs = std::make_shared<const authn::Srs>("0123456789abcdef0123456789abcdef");
  DeliveryPolicy p(*accounts_, *store_, "mx.example.test",
                   [](const relay::Envelope&, std::string_view) -> Result<std::string> {
                     return std::string("q1");
                   },
                   SenderRewriting{srs, ""});
  smtpd::Envelope e;
  e.sender = "alice@orig.test";
  std::string fwd = p.forward_sender(e, "example.test");
  EXPECT_TRUE(istarts_with(fwd, "SRS0=")) << fwd;
  EXPECT_TRUE(fwd.ends_with("=orig.test=alice@example.test")) << fwd;
  EXPECT_EQ(p.forward_sender(e, ""), "alice@orig.test");  // nothing forwards
  smtpd::Envelope bounce;  // RFC 5321 §4.5.5: <> stays <>
  EXPECT_EQ(p.forward_sender(bounce, "example.test"), "");
  smtpd::Envelope submitted = e;
  submitted.auth_user = "ann@example.test";
  EXPECT_EQ(p.forward_sender(submitted, "example.test"), "alice@orig.test");

  // The bounce to it is a forward to alice; altered or foreign-domain ones are not.
  auto d = p.resolve_recipient(rcpt(fwd));
  EXPECT_EQ(d.result.status, R::forward);
  EXPECT_EQ(d.forwards, std::vector<std::string>{"alice@orig.test"});
  std::string altered = fwd;
  altered.replace(altered.find("alice"), 5, "eve00");
  EXPECT_EQ(p.resolve_recipient(rcpt(altered)).result.status, R::unknown_user);
  std::string elsewhere = fwd.substr(0, fwd.find('@')) + "@other.test";
  EXPECT_EQ(p.resolve_recipient(rcpt(elsewhere)).result.status, R::not_local_domain);
  // SRS off: the same address is just an unknown user.
  EXPECT_EQ(policy().resolve_recipient(rcpt(fwd)).result.status, R::unknown_user);
  EXPECT_EQ(policy().forward_sender(e, "example.test"), "alice@orig.test");
}

}  // namespace
}  // namespace tern::daemon
