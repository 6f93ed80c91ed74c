// Retry schedule, NOTIFY rules, status derivation and DSN composition parsed back.
#include <gtest/gtest.h>

#include <map>

#include "relay/relay.h"

using namespace tern::relay;

TEST(RetrySchedule, LastValueRepeatsAndLifetimeCaps) {
  std::vector<int> s = {60, 120, 600};
  EXPECT_EQ(retry_delay(s, 1), 60);
  EXPECT_EQ(retry_delay(s, 2), 120);
  EXPECT_EQ(retry_delay(s, 3), 600);
  EXPECT_EQ(retry_delay(s, 9), 600);
  EXPECT_EQ(retry_delay({}, 1), 300);
  EXPECT_EQ(next_attempt_time(s, 1, 1000, 1000, 86400), 1060);
  EXPECT_EQ(next_attempt_time(s, 3, 1000, 0, 1200), 1200);  // capped at arrival + lifetime
}

TEST(Notify, Table) {
  struct V {
    const char* notify;
    bool failure, delay, success;
  };
  for (const V& v : std::vector<V>{{"", true, true, false},
                                   {"NEVER", false, false, false},
                                   {"SUCCESS", false, false, true},
                                   {"FAILURE", true, false, false},
                                   {"delay,failure", true, true, false},
                                   {"SUCCESS,FAILURE,DELAY", true, true, true}}) {
    EXPECT_EQ(notify_allows(v.notify, DsnKind::failure), v.failure) << v.notify;
    EXPECT_EQ(notify_allows(v.notify, DsnKind::delay), v.delay) << v.notify;
    EXPECT_EQ(notify_allows(v.notify, DsnKind::success), v.success) << v.notify;
  }
}

TEST(StatusFromReply, Table) {
  EXPECT_EQ(status_from_reply("550 5.1.1 no such user", "5.0.0"), "5.1.1");
  EXPECT_EQ(status_from_reply("550 no such user", "5.0.0"), "5.0.0");
  EXPECT_EQ(status_from_reply("451 4.7.1 greylisted", "4.0.0"), "4.7.1");
  EXPECT_EQ(status_from_reply("550 4.1.1 class mismatch", "5.0.0"), "5.0.0");
  EXPECT_EQ(status_from_reply("556 5.1.10 null MX", "5.0.0"), "5.1.10");
  EXPECT_EQ(status_from_reply("", "4.4.7"), "4.4.7");
  EXPECT_EQ(status_from_reply("junk", "5.0.0"), "5.0.0");
  EXPECT_EQ(status_from_reply("250 2.0.0 ok", "2.0.0"), "2.0.0");
}

TEST(ReturnContent, RetAndSize) {
  EXPECT_EQ(choose_return_content("FULL", DsnKind::failure, 10), ReturnContent::full);
  EXPECT_EQ(choose_return_content("HDRS", DsnKind::failure, 10), ReturnContent::headers);
  EXPECT_EQ(choose_return_content("", DsnKind::failure, 10), ReturnContent::full);
  EXPECT_EQ(choose_return_content("", DsnKind::failure, 1 << 20), ReturnContent::headers);
  EXPECT_EQ(choose_return_content("FULL", DsnKind::delay, 10), ReturnContent::headers);
}

namespace {

// Splits a multipart body at the boundary; returns the parts (headers + body each).
std::vector<std::string> parts_of(const std::string& msg, const std::string& boundary) {
  std::vector<std::string> parts;
  std::string delim = "\r\n--" + boundary;
  size_t pos = msg.find("--" + boundary + "\r\n");
  while (pos != std::string::npos) {
    size_t start = msg.find("\r\n", pos) + 2;
    size_t end = msg.find(delim, start);
    if (end == std::string::npos) break;
    parts.push_back(msg.substr(start, end - start));
    pos = end + 2;
    if (msg.compare(end + delim.size(), 2, "--") == 0) break;
  }
  return parts;
}

// "Name: value" lines of one block -> map (first occurrence).
std::multimap<std::string, std::string> fields(const std::string& block) {
  std::multimap<std::string, std::string> out;
  size_t pos = 0;
  while (pos < block.size()) {
    size_t eol = block.find("\r\n", pos);
    if (eol == std::string::npos) eol = block.size();
    std::string line = block.substr(pos, eol - pos);
    size_t colon = line.find(": ");
    if (colon != std::string::npos) out.emplace(line.substr(0, colon), line.substr(colon + 2));
    pos = eol + 2;
  }
  return out;
}

}  // namespace

TEST(ComposeDsn, FailureReportStructure) {
  DsnRequest r;
  r.reporting_mta = "mail.local.test";
  r.from = "MAILER-DAEMON@mail.local.test";
  r.to = "alice@local.test";
  r.envid = "ENV42";
  r.arrival = 1700000000;
  r.now = 1700000100;
  r.message_id = "<dsn1@mail.local.test>";
  r.boundary = "BOUNDARY/x";
  DsnRecipientReport a;
  a.original_recipient = "bob@remote.test";
  a.final_recipient = "bob@remote.test";
  a.action = "failed";
  a.status = "5.1.1";
  a.remote_mta = "mx.remote.test";
  a.diagnostic = "550 5.1.1 no such\r\nuser";  // CRLF from a remote must not break fields
  a.last_attempt = 1700000090;
  DsnRecipientReport b = a;
  b.original_recipient.clear();
  b.final_recipient = "carol@remote.test";
  r.recipients = {a, b};
  std::string original = "From: alice@local.test\r\nSubject: hello\r\n\r\nbody line\r\n";
  r.original = original;
  r.content = ReturnContent::headers;
  std::string dsn = compose_dsn(r);

  auto top = fields(std::string(message_headers(dsn)));
  EXPECT_EQ(top.find("To")->second, "<alice@local.test>");
  EXPECT_NE(top.find("Content-Type")->second.find("multipart/report; report-type=delivery-status"),
            std::string::npos);
  auto parts = parts_of(dsn, r.boundary);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_NE(parts[0].find("Content-Type: text/plain"), std::string::npos);
  EXPECT_NE(parts[0].find("bob@remote.test"), std::string::npos);
  ASSERT_EQ(parts[1].rfind("Content-Type: message/delivery-status\r\n", 0), 0u);
  // Per-message block, then one block per recipient, separated by blank lines.
  std::string status_body = parts[1].substr(parts[1].find("\r\n\r\n") + 4);
  std::vector<std::string> blocks;
  size_t pos = 0;
  while (pos < status_body.size()) {
    size_t end = status_body.find("\r\n\r\n", pos);
    if (end == std::string::npos) end = status_body.size();
    if (end > pos) blocks.push_back(status_body.substr(pos, end - pos + 2));
    pos = end + 4;
  }
  ASSERT_EQ(blocks.size(), 3u);
  auto per_msg = fields(blocks[0]);
  EXPECT_EQ(per_msg.find("Reporting-MTA")->second, "dns; mail.local.test");
  EXPECT_EQ(per_msg.find("Original-Envelope-Id")->second, "ENV42");
  EXPECT_EQ(per_msg.count("Arrival-Date"), 1u);
  auto r1 = fields(blocks[1]);
  EXPECT_EQ(r1.find("Original-Recipient")->second, "rfc822; bob@remote.test");
  EXPECT_EQ(r1.find("Final-Recipient")->second, "rfc822; bob@remote.test");
  EXPECT_EQ(r1.find("Action")->second, "failed");
  EXPECT_EQ(r1.find("Status")->second, "5.1.1");
  EXPECT_EQ(r1.find("Remote-MTA")->second, "dns; mx.remote.test");
  EXPECT_EQ(r1.find("Diagnostic-Code")->second, "smtp; 550 5.1.1 no such  user");
  EXPECT_EQ(r1.count("Last-Attempt-Date"), 1u);
  auto r2 = fields(blocks[2]);
  EXPECT_EQ(r2.count("Original-Recipient"), 0u);
  EXPECT_EQ(r2.find("Final-Recipient")->second, "rfc822; carol@remote.test");
  // Headers only: no body line of the original.
  EXPECT_EQ(parts[2].rfind("Content-Type: text/rfc822-headers\r\n", 0), 0u);
  EXPECT_NE(parts[2].find("Subject: hello"), std::string::npos);
  EXPECT_EQ(parts[2].find("body line"), std::string::npos);

  r.content = ReturnContent::full;
  auto full_parts = parts_of(compose_dsn(r), r.boundary);
  ASSERT_EQ(full_parts.size(), 3u);
  EXPECT_EQ(full_parts[2].rfind("Content-Type: message/rfc822\r\n", 0), 0u);
  EXPECT_NE(full_parts[2].find("body line"), std::string::npos);
}

TEST(ComposeDsn, DelayedCarriesWillRetryUntil) {
  DsnRequest r;
  r.reporting_mta = "h";
  r.from = "MAILER-DAEMON@h";
  r.to = "a@h";
  r.boundary = "b";
  r.message_id = "<m@h>";
  DsnRecipientReport d;
  d.final_recipient = "x@y";
  d.action = "delayed";
  d.status = "4.4.1";
  d.will_retry_until = 1800000000;
  r.recipients = {d};
  std::string out = compose_dsn(r);
  EXPECT_NE(out.find("Action: delayed\r\n"), std::string::npos);
  EXPECT_NE(out.find("Will-Retry-Until: "), std::string::npos);
  EXPECT_NE(out.find("Subject: Delayed Mail"), std::string::npos);
}

TEST(FromHeaderDomain, Table) {
  EXPECT_EQ(from_header_domain("From: Alice <alice@Example.TEST>\r\n\r\n"), "example.test");
  EXPECT_EQ(from_header_domain("Subject: x\r\nfrom: bob@b.test\r\n\r\n"), "b.test");
  EXPECT_EQ(from_header_domain("From:\r\n Alice\r\n <a@folded.test>\r\n\r\n"), "folded.test");
  EXPECT_EQ(from_header_domain("Subject: x\r\n\r\nFrom: body@not.header\r\n"), "");
  EXPECT_EQ(from_header_domain("From: <a@../../etc>\r\n\r\n"), "");
}
