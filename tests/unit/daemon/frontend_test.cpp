// The front-end runtime against a fake connection: hooks, flow control, completions that
// find their handler gone, the refused path, STARTTLS input, the login delay.
#include "daemon/frontend/frontend.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/config.h"

namespace tern::daemon {
namespace {

using namespace std::chrono_literals;

class FakeConnection final : public net::Connection {
 public:
  void write(std::string_view bytes) override { written += bytes; }
  void start_tls() override { tls_started = true; }
  void start_tls_client(const std::string&) override {}
  void close() override { closed = true; }
  void abort() override { closed = true; }
  void set_idle_timeout(uint64_t ms) override { timeouts.push_back(ms); }
  void set_reading(bool on) override { reading = on; }
  size_t write_queue_bytes() const override { return 0; }
  const net::ConnectionInfo& info() const override { return info_; }

  std::string written;
  bool tls_started = false, closed = false, reading = true;
  std::vector<uint64_t> timeouts;
  net::ConnectionInfo info_{.peer_ip = "192.0.2.7"};
};

// A toy protocol: every line is "work" done on a worker, answered with its length.
class EchoHandler final : public Frontend<EchoHandler> {
 public:
  static constexpr size_t kReadWhilePending = 8;
  explicit EchoHandler(Runtime& rt) : Frontend(rt) {}

  bool pending() const { return pending_ > 0; }
  size_t buffered() const { return buffered_; }
  std::optional<uint64_t> idle_timeout_ms() const { return pending() ? 0 : 30'000; }

  void opened(const net::ConnectionInfo& info) { conn_->write("hello " + info.peer_ip + "\n"); }
  void received(std::string_view bytes) {
    if (bytes == "STARTTLS") {
      conn_->write("go\n");
      start_tls();
      return;
    }
    if (pending()) buffered_ += bytes.size();
    ++pending_;
    run([line = std::string(bytes)] { return line.size(); },
        [](EchoHandler& h, size_t n) {
          --h.pending_;
          h.buffered_ = 0;
          if (h.conn_) h.conn_->write(std::to_string(n) + "\n");
          h.update_flow();
        },
        [](EchoHandler& h) {
          --h.pending_;
          if (h.conn_) h.conn_->write("try later\n");
        });
    update_flow();
  }
  void tls_ready(const net::ConnectionInfo&) { conn_->write("secure\n"); }
  void timed_out() { conn_->write("bye\n"); }
  void shutting_down() { conn_->close(); }
  void closed() { closed_hook = true; }

  void login_answer(std::chrono::milliseconds delay) {
    after_delay(delay, [this] { conn_->write("login answered\n"); });
  }

  bool closed_hook = false;

 private:
  int pending_ = 0;
  size_t buffered_ = 0;
};

class FrontendTest : public ::testing::Test {
 protected:
  FrontendTest() : rt_{config_, loop_, workers_, nullptr} {}
  std::shared_ptr<EchoHandler> open() {
    auto h = std::make_shared<EchoHandler>(rt_);
    h->on_open(conn_);
    return h;
  }
  bool wait_for(const std::string& text) {
    return loop_.run_until([&] { return conn_.written.find(text) != std::string::npos; }, 5s);
  }

  Config config_;
  net::Loop loop_;
  net::WorkerPool workers_{loop_, 2};
  Runtime rt_;
  FakeConnection conn_;
};

TEST_F(FrontendTest, WorkRunsInOrderAndAnswersOnTheLoop) {
  auto h = open();
  EXPECT_EQ(conn_.written, "hello 192.0.2.7\n");
  h->on_data("abc");
  h->on_data("abcdef");
  ASSERT_TRUE(wait_for("6\n"));
  EXPECT_EQ(conn_.written, "hello 192.0.2.7\n3\n6\n");
}

TEST_F(FrontendTest, ReadingPausesOnlyPastTheBufferedLimitAndTheIdleTimerRestsWhilePending) {
  auto h = open();
  h->on_data("first");       // pending now: idle timer off, still reading
  EXPECT_TRUE(conn_.reading);
  ASSERT_FALSE(conn_.timeouts.empty());
  EXPECT_EQ(conn_.timeouts.back(), 0u);
  h->on_timeout();           // we are the slow side: not the client's fault
  EXPECT_EQ(conn_.written.find("bye"), std::string::npos);
  h->on_data("0123456789");  // 10 bytes buffered while pending > kReadWhilePending
  EXPECT_FALSE(conn_.reading);
  ASSERT_TRUE(wait_for("10\n"));
  EXPECT_TRUE(conn_.reading);
  EXPECT_EQ(conn_.timeouts.back(), 30'000u);
  // Unchanged values are not set again (each set restarts net's timer).
  const size_t sets = conn_.timeouts.size();
  h->on_timeout();
  EXPECT_NE(conn_.written.find("bye\n"), std::string::npos);
  EXPECT_EQ(conn_.timeouts.size(), sets);
}

TEST_F(FrontendTest, ACompletionForAClosedConnectionDoesNothing) {
  auto h = open();
  h->on_data("abc");
  h->on_close();
  EXPECT_TRUE(h->closed_hook);
  std::weak_ptr<EchoHandler> weak = h;
  h.reset();  // net drops the handler at close
  EXPECT_TRUE(weak.expired());  // the job in flight does not keep it alive
  loop_.run_until([] { return false; }, 100ms);
  EXPECT_EQ(conn_.written, "hello 192.0.2.7\n");
}

TEST_F(FrontendTest, WorkRefusedAtShutdownAnswersThroughTheRefusedPath) {
  auto h = open();
  workers_.shutdown();
  h->on_data("abc");
  ASSERT_TRUE(wait_for("try later\n"));
}

TEST_F(FrontendTest, InputDuringTheTlsHandshakeIsDropped) {
  auto h = open();
  h->on_data("STARTTLS");
  EXPECT_TRUE(conn_.tls_started);
  h->on_data("sneaky");  // RFC 3207 §4.2: nothing before the handshake is acted on
  h->on_tls_ready();
  h->on_data("ok");
  ASSERT_TRUE(wait_for("2\n"));
  EXPECT_EQ(conn_.written, "hello 192.0.2.7\ngo\nsecure\n2\n");
}

TEST_F(FrontendTest, TheLoginDelayHoldsTheAnswerAndDiesWithTheConnection) {
  auto h = open();
  // libuv times timers from the loop's cached clock: bring it up to date first.
  loop_.run_until([] { return false; }, 1ms);
  const auto start = std::chrono::steady_clock::now();
  h->login_answer(50ms);
  EXPECT_EQ(conn_.written.find("login answered"), std::string::npos);
  ASSERT_TRUE(wait_for("login answered\n"));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 45ms);

  conn_.written.clear();
  h->login_answer(50ms);
  h->on_close();
  loop_.run_until([] { return false; }, 150ms);
  EXPECT_TRUE(conn_.written.empty());
}

}  // namespace
}  // namespace tern::daemon
