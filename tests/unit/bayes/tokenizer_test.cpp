// bayes/tokenizer: the words a message is judged by.
#include "bayes/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace tern::bayes;

namespace {

bool has(const std::vector<std::string>& v, const std::string& t) { return std::find(v.begin(), v.end(), t) != v.end(); }

TEST(Tokenizer, HeaderWordsCarryTheirFieldAndBodyWordsDoNot) {
  auto t = tokenize(
      "From: =?UTF-8?Q?Pay=C3=A9?= <Billing@Example.TEST>\r\nReply-To: x@other.test\r\n"
      "Subject: FREE offer inside\r\nMessage-ID: <a@b>\r\n\r\nA free gift, free! Claim it at "
      "https://Claim.Example.net/path?x=1 now.\r\n");
  EXPECT_TRUE(has(t, "subject:free"));
  EXPECT_TRUE(has(t, "subject:offer"));
  EXPECT_TRUE(has(t, "free"));
  EXPECT_TRUE(has(t, "claim"));
  EXPECT_TRUE(has(t, "from:billing@example.test"));
  EXPECT_TRUE(has(t, "fromdomain:example.test"));
  EXPECT_TRUE(has(t, "fromname:payé"));
  EXPECT_TRUE(has(t, "replyto:other.test"));
  EXPECT_TRUE(has(t, "url:claim.example.net"));
  EXPECT_TRUE(has(t, "has:message-id"));
  EXPECT_TRUE(has(t, "lacks:date"));
  EXPECT_FALSE(has(t, "it"));  // shorter than 3
  EXPECT_EQ(std::count(t.begin(), t.end(), "free"), 1);  // a set: messages are counted, not words
}

TEST(Tokenizer, LongRunsAttachmentsAndHtml) {
  auto t = tokenize(
      "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b> "
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</p>\r\n--b\r\n"
      "Content-Type: application/octet-stream; name=\"invoice.pdf.exe\"\r\n"
      "Content-Disposition: attachment\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--b--\r\n");
  EXPECT_TRUE(has(t, "hello"));
  EXPECT_TRUE(has(t, "there"));
  EXPECT_FALSE(has(t, "<p>hello"));
  EXPECT_TRUE(has(t, "type:text/html"));
  EXPECT_TRUE(has(t, "long:a5"));  // 40 bytes: one token for the class of long runs
  EXPECT_TRUE(has(t, "ext:exe"));
  EXPECT_TRUE(has(t, "type:application/octet-stream"));
}

TEST(Tokenizer, BoundedAndHashStable) {
  std::string body;
  for (int i = 0; i < 10000; ++i) body += "w" + std::to_string(i) + "x ";
  auto t = tokenize("Subject: many\r\n\r\n" + body);
  EXPECT_EQ(t.size(), kMaxTokens);
  // FNV-1a 64 of "a" (published test value): the database depends on it never changing.
  EXPECT_EQ(token_hash("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_NE(token_hash("subject:free"), token_hash("free"));
}

}  // namespace
