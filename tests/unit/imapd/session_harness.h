// Transcript harness for imapd::Session: a real Store and a real AccountDb (minimum hash
// cost) in a temporary directory, a fixed clock, and a client wrapper that sends lines.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "auth/auth.h"
#include "imapd/session.h"
#include "store/store.h"

namespace tern::imapd::test {

inline constexpr const char* kUser = "bob@example.test";
inline constexpr const char* kPassword = "hunter2";

class TestBackend : public Backend {
 public:
  // fts_text: the full-text index's extractor (issue 18), none by default.
  explicit TestBackend(const std::string& dir,
                       std::function<void(std::string_view, std::string&, std::string&)> fts_text = {}) {
    store::StoreOptions so;
    so.data_dir = dir;
    so.fts_text = std::move(fts_text);
    auto st = store::Store::open(so);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().message);
    store_ = std::move(st.value());
    auth::AccountDb::Options options;
    options.cost = auth::HashCost::minimum;
    auto db = auth::AccountDb::open(dir + "/accounts.db", options);
    EXPECT_TRUE(db.ok());
    db_ = std::move(db.value());
    EXPECT_TRUE(db_->add_domain("example.test").ok());
    EXPECT_TRUE(db_->add_user(kUser, kPassword, 0).ok());
    EXPECT_TRUE(db_->add_user("eve@example.test", "evepass", 0).ok());
    AuthConfig cfg;
    cfg.failure_delay_ms = 1500;
    authn_ = std::make_unique<auth::Authenticator>(*db_, cfg);
  }

  store::Store& store() override { return *store_; }
  auth::LoginResult login(std::string_view user, std::string_view password, std::string_view ip) override {
    return authn_->login(user, password, ip, "imap");
  }
  Result<auth::ScramKeys> scram_keys(std::string_view user) override { return authn_->scram_keys(user); }
  auth::LoginResult login_proven(std::string_view user, bool valid, std::string_view ip) override {
    return authn_->login_proven(user, valid, ip, "imap");
  }
  Result<uint64_t> quota(std::string_view) override { return quota_bytes; }
  std::function<void()> change_notifier() override {
    auto n = notified;
    return [n] { n->fetch_add(1); };
  }
  int64_t now() override { return 1700000000; }
  // SessionSettings::stream_threshold: what the session streamed, and in how many chunks.
  void write_partial(std::string bytes) override {
    streamed += bytes;
    ++stream_chunks;
    if (on_partial) on_partial();
  }

  bool learns_junk() const override { return true; }
  void learn_junk(std::string_view user, const std::vector<std::string>& messages, bool spam) override {
    for (const auto& m : messages) lessons.push_back({std::string(user), m, spam});
  }

  struct Lesson {
    std::string user, message;
    bool spam;
  };
  std::vector<Lesson> lessons;  // junk-filter lessons, in order
  std::string streamed;
  int stream_chunks = 0;
  // Runs after each streamed chunk: lets a test change the store in the middle of a FETCH.
  std::function<void()> on_partial;
  uint64_t quota_bytes = 0;
  std::shared_ptr<std::atomic<int>> notified = std::make_shared<std::atomic<int>>(0);

 private:
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<auth::AccountDb> db_;
  std::unique_ptr<auth::Authenticator> authn_;
};

// One client connection.
class Client {
 public:
  Client(Backend& b, SessionSettings s = default_settings()) : session_(s, PeerInfo{"192.0.2.7", 40000, "imap"}, b) {
    greeting = session_.greet().bytes;
  }
  static SessionSettings default_settings() {
    SessionSettings s;
    s.allow_plaintext_auth = true;
    s.max_literal_size = 1 << 20;
    return s;
  }
  // Sends raw bytes; returns what the session wrote.
  std::string raw(std::string_view bytes) {
    last = session_.feed(bytes);
    return last.bytes;
  }
  std::string send(const std::string& line) { return raw(line + "\r\n"); }
  std::string login() { return send("L1 LOGIN " + std::string(kUser) + " " + kPassword); }
  Session& session() { return session_; }

  std::string greeting;
  Output last;

 private:
  Session session_;
};

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/imapsess-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    backend_ = std::make_unique<TestBackend>(dir_);
  }
  void TearDown() override {
    backend_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TestBackend& backend() { return *backend_; }
  store::Store& store() { return backend_->store(); }
  // Delivers a message straight into the store, as SMTP would.
  uint32_t deliver(const std::string& msg, const std::string& mailbox = "INBOX", store::Flags flags = {}) {
    auto r = store().append(kUser, mailbox, msg, flags, 1700000000);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() ? r->uid : 0;
  }
  static std::string message(const std::string& subject, const std::string& body = "Hello world\r\n") {
    return "From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nSubject: " + subject +
           "\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\nMessage-ID: <" + subject +
           "@example.test>\r\n\r\n" + body;
  }

  std::string dir_;
  std::unique_ptr<TestBackend> backend_;
};

inline bool has(const std::string& out, const std::string& needle) { return out.find(needle) != std::string::npos; }

}  // namespace tern::imapd::test
