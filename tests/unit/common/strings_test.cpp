#include <gtest/gtest.h>

#include "common/strings.h"

using namespace tern;

TEST(Strings, MailAddress) {
  auto a = parse_mail_address("Bob.Smith@Example.TEST");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->local, "Bob.Smith");
  EXPECT_EQ(a->domain, "example.test");
  EXPECT_FALSE(parse_mail_address("nobody").has_value());
  EXPECT_FALSE(parse_mail_address("@example.test").has_value());
  EXPECT_FALSE(parse_mail_address("a@").has_value());
  EXPECT_FALSE(parse_mail_address("a b@example.test").has_value());
  EXPECT_FALSE(parse_mail_address("a@exa/mple").has_value());
}

TEST(Strings, CaseAndNumbers) {
  EXPECT_TRUE(iequals("EHLO", "ehlo"));
  EXPECT_TRUE(istarts_with("MAIL FROM:<>", "mail from:"));
  EXPECT_EQ(parse_u64("123"), 123u);
  EXPECT_FALSE(parse_u64("12a").has_value());
  EXPECT_FALSE(parse_u64("").has_value());
  EXPECT_EQ(random_id(12).size(), 12u);
  EXPECT_NE(random_id(16), random_id(16));
}

TEST(Strings, XmlEscape) {
  EXPECT_EQ(tern::xml_escape("<a href='x'>&\"</a>"), "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;");
  EXPECT_EQ(tern::xml_escape(std::string("a\x01" "b\tc\n", 6)), "ab\tc\n");
}
