// Relay engine: routing, retries, DSNs, restart, with a fake clock, FakeResolver and a
// scripted transport (real Loop and WorkerPool, real QueueStore on a temp dir).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>

#include "dns/dns.h"
#include "net/net.h"
#include "relay/relay.h"

using namespace tern;
using namespace tern::relay;

namespace {

// Per host: the reply every recipient gets ("" = connection refused). Optional per-address
// overrides by recipient address.
struct ScriptedTransport : Transport {
  explicit ScriptedTransport(net::Loop& l) : loop(l) {}
  net::Loop& loop;
  std::map<std::string, std::string> host_reply;  // host -> "250 ok" / "451 ..." / "" (down)
  std::map<std::string, std::string> rcpt_reply;  // address -> reply (overrides host)
  bool remote_dsn = false;
  std::vector<TransportRequest> seen;

  void send(TransportRequest req, std::function<void(TransportResult)> done) override {
    TransportResult r;
    auto it = host_reply.find(req.host);
    std::string hr = it == host_reply.end() ? "" : it->second;
    if (hr.empty()) {
      r.connected = false;
      r.error = "connection refused";
    } else {
      r.connected = true;
      r.remote_dsn = remote_dsn;
      for (const auto& m : req.messages) {
        MessageResult mr;
        mr.id = m.id;
        for (const auto& rc : m.recipients) {
          std::string text = rcpt_reply.count(rc.address) ? rcpt_reply[rc.address] : hr;
          RecipientResult rr;
          rr.address = rc.address;
          rr.reply.code = std::stoi(text.substr(0, 3));
          std::string rest = text.size() > 4 ? text.substr(4) : "";
          if (rest.size() > 5 && rest[1] == '.') {
            rr.reply.enhanced = rest.substr(0, rest.find(' '));
            rest = rest.substr(rest.find(' ') + 1);
          }
          rr.reply.lines = {rest};
          rr.outcome = classify_reply(rr.reply.code);
          mr.recipients.push_back(rr);
        }
        r.results.push_back(mr);
      }
    }
    seen.push_back(req);
    loop.post([done, r] { done(r); });
  }
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("relayq-engine-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto q = QueueStore::open(dir_.string());
    ASSERT_TRUE(q.ok());
    queue_ = std::shared_ptr<QueueStore>(std::move(*q));
    transport_ = std::make_shared<ScriptedTransport>(loop_);
    resolver_.set_mx("remote.test", {{10, "mx1.remote.test"}, {20, "mx2.remote.test"}});
    resolver_.set_addresses("mx1.remote.test", {"192.0.2.1"});
    resolver_.set_addresses("mx2.remote.test", {"192.0.2.2"});
    resolver_.set_mx("nullmx.test", {{0, "."}});
    config_.retry_schedule = {60, 120};
    config_.max_queue_lifetime = 1000;
    config_.delay_warning_after = 500;
    config_.smtp_port = 2525;
  }
  void TearDown() override {
    relay_.reset();
    workers_.shutdown();
    std::filesystem::remove_all(dir_);
  }
  void make_relay() {
    relay_.reset();
    RelayOptions o;
    o.config = config_;
    o.hostname = "mail.local.test";
    o.data_dir = dir_.string();
    o.clock = [this] { return now_; };
    RelayDeps d;
    d.loop = &loop_;
    d.workers = &workers_;
    d.resolver = &resolver_;
    d.transport = transport_;
    d.queue = queue_;
    // local.test: every address is a user, except gone@ (unknown) and team@ (an alias of
    // alice, bob and alice again: resolved de-duplicated like auth::AccountDb does).
    d.resolve_local = [](std::string_view a) -> LocalAddress {
      LocalAddress out;
      if (a.size() <= 11 || a.substr(a.size() - 11) != "@local.test") return out;
      out.kind = LocalAddress::Kind::local;
      if (a == "gone@local.test") out.kind = LocalAddress::Kind::unknown_user;
      else if (a == "team@local.test") out.users = {"alice@local.test", "bob@local.test"};
      else out.users = {std::string(a)};
      return out;
    };
    d.deliver_local = [this](const std::string& user, std::string_view msg) -> Status {
      std::lock_guard lock(mu_);
      local_tries_++;
      if (full_.count(user)) return make_error(Errc::over_quota, "mailbox full");
      inbox_.push_back({user, std::string(msg)});
      return {};
    };
    relay_ = std::make_unique<Relay>(o, d);
    relay_->start();
    settle();
  }
  // EnvelopeRecipient is {address, orcpt, notify}.
  std::string submit(std::vector<EnvelopeRecipient> rcpts, std::string sender = "alice@local.test") {
    Envelope e;
    e.sender = sender;
    e.recipients = std::move(rcpts);
    auto id = relay_->enqueue(e, "From: alice@local.test\r\nSubject: t\r\n\r\nhello\r\n");
    EXPECT_TRUE(id.ok());
    settle();
    return id.ok() ? *id : "";
  }
  void settle() {
    relay_->rescan();
    loop_.run_until([this] { return relay_->idle(); }, std::chrono::seconds(10));
    // Posted wake-ups may have started another tick: let it finish too.
    for (int i = 0; i < 3; ++i) {
      loop_.run_until([] { return false; }, std::chrono::milliseconds(20));
      loop_.run_until([this] { return relay_->idle(); }, std::chrono::seconds(10));
    }
  }
  void advance(int64_t s) {
    now_ += s;
    settle();
  }
  RcptState state_of(const std::string& id, size_t i = 0) {
    auto m = queue_->get(id);
    if (!m) return RcptState::delivered;  // purged = finished
    return m->recipients[i].state;
  }
  std::vector<std::pair<std::string, std::string>> inbox() {
    std::lock_guard lock(mu_);
    return inbox_;
  }

  std::filesystem::path dir_;
  int64_t now_ = 1'700'000'000;
  net::Loop loop_;
  net::WorkerPool workers_{loop_, 2};
  dns::FakeResolver resolver_{[](uint32_t) { return 0u; }};
  std::shared_ptr<ScriptedTransport> transport_;
  std::shared_ptr<QueueStore> queue_;
  RelayConfig config_;
  std::unique_ptr<Relay> relay_;
  std::mutex mu_;
  std::vector<std::pair<std::string, std::string>> inbox_;
  std::set<std::string> full_;  // users whose mailbox is over quota
  int local_tries_ = 0;
  int local_tries() {
    std::lock_guard lock(mu_);
    return local_tries_;
  }
};

TEST_F(EngineTest, DeliversToPreferredMxOnConfiguredPort) {
  transport_->host_reply = {{"mx1.remote.test", "250 2.0.0 ok"}, {"mx2.remote.test", "250 2.0.0 ok"}};
  make_relay();
  auto id = submit({{"bob@remote.test", "", ""}, {"carol@remote.test", "", ""}});
  ASSERT_EQ(transport_->seen.size(), 1u);  // one transaction carrying both recipients
  EXPECT_EQ(transport_->seen[0].host, "mx1.remote.test");
  EXPECT_EQ(transport_->seen[0].address.port, 2525);
  EXPECT_EQ(transport_->seen[0].messages.at(0).recipients.size(), 2u);
  EXPECT_FALSE(queue_->get(id).ok());  // purged: finished without DSN
  EXPECT_TRUE(inbox().empty());
  EXPECT_EQ(relay_->counters().delivered, 2u);
}

TEST_F(EngineTest, FallsBackToNextMxWhenFirstIsDown) {
  transport_->host_reply = {{"mx2.remote.test", "250 ok"}};
  make_relay();
  submit({{"bob@remote.test", "", ""}});
  ASSERT_EQ(transport_->seen.size(), 2u);
  EXPECT_EQ(transport_->seen[1].host, "mx2.remote.test");
  EXPECT_EQ(relay_->counters().delivered, 1u);
}

TEST_F(EngineTest, TempfailIsRetriedOnScheduleThenDelivered) {
  transport_->host_reply = {{"mx1.remote.test", "451 4.7.1 try later"},
                            {"mx2.remote.test", "451 4.7.1 try later"}};
  make_relay();
  auto id = submit({{"bob@remote.test", "", ""}});
  EXPECT_EQ(transport_->seen.size(), 2u);  // 4xx -> next MX
  auto m = *queue_->get(id);
  EXPECT_EQ(m.recipients[0].state, RcptState::deferred);
  EXPECT_EQ(m.recipients[0].attempts, 1);
  EXPECT_EQ(m.recipients[0].next_attempt, now_ + 60);
  EXPECT_EQ(m.recipients[0].last_reply, "451 4.7.1 try later");
  advance(59);
  EXPECT_EQ(transport_->seen.size(), 2u);  // not yet
  advance(1);
  EXPECT_EQ(transport_->seen.size(), 4u);
  EXPECT_EQ(queue_->get(id)->recipients[0].next_attempt, now_ + 120);
  transport_->host_reply["mx1.remote.test"] = "250 ok";
  advance(120);
  EXPECT_FALSE(queue_->get(id).ok());
  EXPECT_TRUE(inbox().empty());
}

TEST_F(EngineTest, PermanentFailureBouncesToLocalSenderInbox) {
  transport_->host_reply = {{"mx1.remote.test", "250 ok"}};
  transport_->rcpt_reply = {{"bad@remote.test", "550 5.1.1 no such user"}};
  make_relay();
  submit({{"bad@remote.test", "bad@remote.test", ""}, {"good@remote.test", "", ""}});
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  EXPECT_EQ(box[0].first, "alice@local.test");
  const std::string& dsn = box[0].second;
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; bad@remote.test"), std::string::npos);
  EXPECT_NE(dsn.find("Original-Recipient: rfc822; bad@remote.test"), std::string::npos);
  EXPECT_NE(dsn.find("Status: 5.1.1"), std::string::npos);
  EXPECT_NE(dsn.find("Diagnostic-Code: smtp; 550 5.1.1 no such user"), std::string::npos);
  EXPECT_NE(dsn.find("Remote-MTA: dns; mx1.remote.test"), std::string::npos);
  EXPECT_EQ(dsn.find("good@remote.test"), std::string::npos);
}

TEST_F(EngineTest, RemoteSenderGetsBounceThroughTheQueueWithNullSender) {
  transport_->host_reply = {{"mx1.remote.test", "550 5.7.1 rejected"}};
  resolver_.set_mx("sender.test", {{10, "mx.sender.test"}});
  resolver_.set_addresses("mx.sender.test", {"192.0.2.9"});
  make_relay();
  transport_->host_reply["mx.sender.test"] = "250 ok";
  submit({{"bob@remote.test", "", ""}}, "someone@sender.test");
  settle();
  ASSERT_GE(transport_->seen.size(), 2u);
  const auto& bounce = transport_->seen.back();
  EXPECT_EQ(bounce.host, "mx.sender.test");
  ASSERT_EQ(bounce.messages.size(), 1u);
  EXPECT_EQ(bounce.messages[0].sender, "");
  EXPECT_NE(bounce.messages[0].data.find("Status: 5.7.1"), std::string::npos);
}

TEST_F(EngineTest, NullSenderAndNotifyNeverAreNotBounced) {
  transport_->host_reply = {{"mx1.remote.test", "550 5.1.1 no"}};
  make_relay();
  auto a = submit({{"x@remote.test", "", ""}}, "");
  auto b = submit({{"y@remote.test", "", "NEVER"}});
  settle();
  EXPECT_TRUE(inbox().empty());
  EXPECT_FALSE(queue_->get(a).ok());
  EXPECT_FALSE(queue_->get(b).ok());
  EXPECT_EQ(relay_->counters().failed, 2u);
}

TEST_F(EngineTest, NullMxFailsPermanentlyWithoutConnecting) {
  make_relay();
  submit({{"x@nullmx.test", "", ""}});
  EXPECT_TRUE(transport_->seen.empty());
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  EXPECT_NE(box[0].second.find("Status: 5.1.10"), std::string::npos);
}

TEST_F(EngineTest, SuccessNotifyGivesRelayedOnlyPastNonDsnServers) {
  transport_->host_reply = {{"mx1.remote.test", "250 2.0.0 ok"}};
  make_relay();
  submit({{"x@remote.test", "", "SUCCESS"}});
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  EXPECT_NE(box[0].second.find("Action: relayed"), std::string::npos);
  transport_->remote_dsn = true;  // RFC 3461 §5.2.1: the next hop reports itself
  submit({{"y@remote.test", "", "SUCCESS"}});
  EXPECT_EQ(inbox().size(), 1u);
}

TEST_F(EngineTest, DelayWarningOnceThenExpiryBounce) {
  transport_->host_reply = {{"mx1.remote.test", "451 4.3.0 busy"}};
  make_relay();
  auto id = submit({{"x@remote.test", "", ""}});
  for (int i = 0; i < 6; ++i) advance(120);  // 720 s: past delay_warning_after (500)
  auto box = inbox();
  ASSERT_EQ(box.size(), 1u);
  EXPECT_NE(box[0].second.find("Action: delayed"), std::string::npos);
  EXPECT_NE(box[0].second.find("Status: 4.3.0"), std::string::npos);
  for (int i = 0; i < 3; ++i) advance(120);  // past max_queue_lifetime (1000)
  box = inbox();
  ASSERT_EQ(box.size(), 2u);
  EXPECT_NE(box[1].second.find("Action: failed"), std::string::npos);
  EXPECT_NE(box[1].second.find("Status: 4.4.7"), std::string::npos);
  EXPECT_NE(box[1].second.find("Diagnostic-Code: smtp; 451 4.3.0 busy"), std::string::npos);
  EXPECT_FALSE(queue_->get(id).ok());
}

TEST_F(EngineTest, RestartResumesDeferredAndNeverRedeliversDelivered) {
  transport_->host_reply = {{"mx1.remote.test", "250 ok"}};
  transport_->rcpt_reply = {{"later@remote.test", "451 4.4.1 not now"}};
  config_.retry_schedule = {60};
  make_relay();
  auto id = submit({{"now@remote.test", "", ""}, {"later@remote.test", "", ""}});
  size_t before = transport_->seen.size();
  // "Restart": a new Relay over a re-opened queue.
  relay_.reset();
  auto q = QueueStore::open(dir_.string());
  ASSERT_TRUE(q.ok());
  queue_ = std::shared_ptr<QueueStore>(std::move(*q));
  transport_->rcpt_reply.clear();
  make_relay();
  EXPECT_EQ(transport_->seen.size(), before);  // not due yet
  advance(60);
  ASSERT_EQ(transport_->seen.size(), before + 1);
  const auto& again = transport_->seen.back();
  ASSERT_EQ(again.messages.size(), 1u);
  ASSERT_EQ(again.messages[0].recipients.size(), 1u);
  EXPECT_EQ(again.messages[0].recipients[0].address, "later@remote.test");
  EXPECT_FALSE(queue_->get(id).ok());
}

TEST_F(EngineTest, ConcurrencyPerDestinationIsLimited) {
  config_.max_per_destination = 1;
  transport_->host_reply = {{"mx1.remote.test", "250 ok"}};
  make_relay();
  relay_->stop();  // queue up without dispatching
  for (int i = 0; i < 5; ++i) {
    Envelope e;
    e.sender = "alice@local.test";
    e.recipients = {{"r" + std::to_string(i) + "@remote.test", "", ""}};
    ASSERT_TRUE(relay_->enqueue(e, "Subject: x\r\n\r\nx\r\n").ok());
  }
  make_relay();
  // One connection at a time, but several messages on it.
  EXPECT_EQ(transport_->seen.size(), 1u);
  EXPECT_EQ(transport_->seen[0].messages.size(), 5u);
  EXPECT_EQ(relay_->counters().delivered, 5u);
}

TEST_F(EngineTest, BounceToAnAliasReachesEveryTargetOnce) {
  transport_->host_reply = {{"mx1.remote.test", "550 5.1.1 no such user"}};
  make_relay();
  submit({{"x@remote.test", "", ""}}, "team@local.test");
  auto box = inbox();
  ASSERT_EQ(box.size(), 2u);
  std::set<std::string> users{box[0].first, box[1].first};
  EXPECT_EQ(users, (std::set<std::string>{"alice@local.test", "bob@local.test"}));
  EXPECT_NE(box[1].second.find("Status: 5.1.1"), std::string::npos);
}

TEST_F(EngineTest, UndeliverableLocalBounceFollowsTheRetryScheduleAndExpires) {
  transport_->host_reply = {{"mx1.remote.test", "550 5.1.1 no such user"}};
  config_.retry_schedule = {100};
  full_ = {"alice@local.test"};
  make_relay();
  auto id = submit({{"x@remote.test", "", ""}});
  // The direct delivery failed, then the queued DSN's first attempt: deferred, not hammered.
  EXPECT_EQ(local_tries(), 2);
  auto all = queue_->list();
  ASSERT_TRUE(all.ok());
  const QueuedMessage* dsn = nullptr;
  for (const auto& m : *all)
    if (m.kind == MessageKind::dsn) dsn = &m;
  ASSERT_NE(dsn, nullptr);
  ASSERT_EQ(dsn->recipients.size(), 1u);
  EXPECT_EQ(dsn->recipients[0].address, "alice@local.test");
  EXPECT_EQ(dsn->recipients[0].state, RcptState::deferred);
  EXPECT_EQ(dsn->recipients[0].next_attempt, now_ + 100);
  EXPECT_EQ(dsn->recipients[0].last_reply.substr(0, 9), "452 4.2.2");
  std::string dsn_id = dsn->id;
  for (int i = 0; i < 5; ++i) advance(10);  // many ticks, nothing due
  EXPECT_EQ(local_tries(), 2);
  advance(50);
  EXPECT_EQ(local_tries(), 3);
  // Past max_queue_lifetime (1000): the DSN expires and, undeliverable_bounce = "drop", is
  // dropped; nothing is retried any more.
  for (int i = 0; i < 10; ++i) advance(100);
  int tries = local_tries();
  EXPECT_LE(tries, 3 + 10);
  EXPECT_FALSE(queue_->get(dsn_id).ok());
  advance(500);
  EXPECT_EQ(local_tries(), tries);
  EXPECT_TRUE(inbox().empty());
  EXPECT_FALSE(queue_->get(id).ok());
}

TEST_F(EngineTest, BounceToAFullMailboxIsDeliveredOnceItHasRoom) {
  transport_->host_reply = {{"mx1.remote.test", "550 5.1.1 no such user"}};
  config_.retry_schedule = {100};
  full_ = {"bob@local.test"};
  make_relay();
  submit({{"x@remote.test", "", ""}}, "team@local.test");
  ASSERT_EQ(inbox().size(), 1u);  // alice at once
  EXPECT_EQ(inbox()[0].first, "alice@local.test");
  {
    std::lock_guard lock(mu_);
    full_.clear();
  }
  advance(100);
  auto box = inbox();
  ASSERT_EQ(box.size(), 2u);  // bob on the retry, alice not twice
  EXPECT_EQ(box[1].first, "bob@local.test");
  advance(500);
  EXPECT_EQ(inbox().size(), 2u);
}

TEST_F(EngineTest, BounceToAVanishedLocalSenderIsNotSentToTheNetwork) {
  transport_->host_reply = {{"mx1.remote.test", "550 5.1.1 no such user"}};
  make_relay();
  submit({{"x@remote.test", "", ""}}, "gone@local.test");
  advance(10);
  ASSERT_EQ(transport_->seen.size(), 1u);  // only the original attempt
  EXPECT_TRUE(inbox().empty());
  auto all = queue_->list();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());  // the DSN failed permanently and was dropped
}

}  // namespace
