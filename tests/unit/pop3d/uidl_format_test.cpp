// pop3.uidl_format: Dovecot's notation for the RFC 1939 §7 unique-id (pop3d/uidl_format.h).
#include "pop3d/uidl_format.h"

#include <gtest/gtest.h>

using tern::pop3d::UidlFormat;

namespace {

std::string fmt(const char* format, uint32_t uidvalidity, uint32_t uid) {
  auto f = UidlFormat::parse(format);
  EXPECT_TRUE(f.ok()) << format << ": " << (f.ok() ? "" : f.error().message);
  return f.ok() ? f->format(uidvalidity, uid) : "";
}

std::string problem(const char* format) {
  auto f = UidlFormat::parse(format);
  EXPECT_FALSE(f.ok()) << format;
  return f.ok() ? "" : f.error().message;
}

}  // namespace

TEST(UidlFormat, DovecotAndTernForms) {
  EXPECT_EQ(fmt("%v.%u", 1700000000, 42), "1700000000.42");               // Tern's
  EXPECT_EQ(fmt("%08Xu%08Xv", 1700000000, 42), "0000002a6553f100");      // Dovecot's default
  EXPECT_EQ(fmt("%u", 1700000000, 7), "7");
  EXPECT_EQ(fmt("%xv-%08xu", 255, 255), "ff-000000ff");
  EXPECT_EQ(fmt("UID%u-%%", 1, 9), "UID9-%");
  EXPECT_EQ(fmt("%10u", 1, 4294967295u), "4294967295");
}

TEST(UidlFormat, BadFormatsAreRefusedWithAReason) {
  EXPECT_NE(problem("%v").find("must contain %u"), std::string::npos);
  EXPECT_NE(problem("%m.%u").find("unknown variable at \"%m.%u\""), std::string::npos);
  EXPECT_NE(problem("%u %v").find("0x21-0x7E"), std::string::npos);  // a space (RFC 1939 §7)
  EXPECT_NE(problem("%u%").find("lone %"), std::string::npos);
  EXPECT_NE(problem("%60u%20v").find("70 characters"), std::string::npos);
  EXPECT_NE(problem("").find("must contain %u"), std::string::npos);
}
