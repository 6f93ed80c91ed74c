// Table-driven tests of the pure name helpers: addresses, mailbox names, Maildir file names.
#include "common/codec.h"
#include "store/names.h"

#include <gtest/gtest.h>

#include "store/store.h"

namespace tern::store::detail {
namespace {

TEST(StoreNames, CanonicalUserAcceptsAndLowercases) {
  struct Case { const char* in; const char* address; const char* local; const char* domain; };
  const Case cases[] = {
      {"bob@example.test", "bob@example.test", "bob", "example.test"},
      {"Bob.Smith@Example.TEST", "bob.smith@example.test", "bob.smith", "example.test"},
      {"a+tag@x.y", "a+tag@x.y", "a+tag", "x.y"},
  };
  for (const auto& c : cases) {
    auto u = canonical_user(c.in);
    ASSERT_TRUE(u.ok()) << c.in;
    EXPECT_EQ(u->address, c.address);
    EXPECT_EQ(u->local, c.local);
    EXPECT_EQ(u->domain, c.domain);
  }
}

TEST(StoreNames, CanonicalUserRejectsUnsafe) {
  const char* bad[] = {"", "bob", "@x.y", "bob@", "../x@y.z", "a/b@x.y", "..@x.y", ".a@x.y",
                       "a.@x.y", "a..b@x.y", "a@..", "a@x/y", "a@.x", "a@x..y", "a@[1.2.3.4]",
                       "\"a b\"@x.y", "a%b@x.y", "a@x.y/../../etc"};
  for (const char* b : bad) EXPECT_FALSE(canonical_user(b).ok()) << b;
  EXPECT_EQ(canonical_user("a/b@x.y").error().code, Errc::syntax);
}

TEST(StoreNames, MailboxNamesValidatedAndInboxCaseInsensitive) {
  struct Case { const char* in; const char* out; };
  const Case good[] = {{"INBOX", "INBOX"}, {"inbox", "INBOX"}, {"InBoX/Sub", "INBOX/Sub"},
                       {"Work/Projects", "Work/Projects"}, {"a.b", "a.b"},
                       {"Entwürfe", "Entwürfe"}, {"Inboxes", "Inboxes"}};
  for (const auto& c : good) {
    auto r = canonical_mailbox(c.in);
    ASSERT_TRUE(r.ok()) << c.in;
    EXPECT_EQ(*r, c.out);
  }
  const char* bad[] = {"", "/", "a/", "/a", "a//b", "..", "a/../b", ".", "a/./b", "a\tb",
                       "a\nb", "a*", "a%b", "\xff\xfe", "\xc0\xaf"};
  for (const char* b : bad) {
    auto r = canonical_mailbox(b);
    EXPECT_FALSE(r.ok()) << b;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code, Errc::syntax);
    }
  }
  EXPECT_FALSE(canonical_mailbox(std::string("a\0b", 3)).ok());
  EXPECT_FALSE(canonical_mailbox(std::string(300, 'x')).ok());
}

TEST(StoreNames, MailboxDirEncodingRoundTrips) {
  struct Case { const char* name; const char* dir; };
  const Case cases[] = {
      {"INBOX", ""},
      {"Work", ".Work"},
      {"Work/Projects", ".Work.Projects"},
      {"a.b", ".a%2Eb"},
      {"Tom & Jerry", ".Tom &- Jerry"},
      {"Entwürfe", ".Entw&APw-rfe"},           // RFC 3501 §5.1.3 style
      {"台北/日本語", ".&U,BTFw-.&ZeVnLIqe-"},  // RFC 3501 §5.1.3 example + one more
      {"INBOX/x", ".INBOX.x"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(mailbox_dir(c.name), c.dir) << c.name;
    if (std::string(c.dir).empty()) continue;
    auto back = mailbox_from_dir(c.dir);
    ASSERT_TRUE(back.has_value()) << c.dir;
    EXPECT_EQ(*back, c.name);
  }
  const char* not_folders[] = {"cur", ".", "..", ".a..b", ".a%2", ".a%41", ".&Jjo", ".&AGE-",
                               ".x.", ".a%2eb" /* only our own spelling */};
  for (const char* d : not_folders) EXPECT_FALSE(mailbox_from_dir(d).has_value()) << d;
}

TEST(StoreNames, Mutf7DecodeTrickledPrefixesNeverCrash) {
  std::string s = "&U,BTFw-/&ZeVnLIqe-&-x";
  for (size_t i = 0; i <= s.size(); ++i) (void)mutf7_decode(s.substr(0, i));
  EXPECT_EQ(*mutf7_decode(s), "台北/日本語&x");
}

TEST(StoreNames, MaildirFileNames) {
  auto p = parse_maildir_name("1700000000.M1P2Q3Rab.host,S=120,U=7:2,FS");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->base, "1700000000.M1P2Q3Rab.host");
  EXPECT_EQ(p->size, 120u);
  EXPECT_EQ(p->uid, 7u);
  EXPECT_TRUE(p->has_info);
  EXPECT_EQ(p->flags, kFlagged | kSeen);

  auto dovecot = parse_maildir_name("1700000000.M1P2.host,S=10,W=12:2,RT");
  ASSERT_TRUE(dovecot.has_value());
  EXPECT_FALSE(dovecot->uid.has_value());
  EXPECT_EQ(dovecot->flags, kAnswered | kDeleted);

  auto plain = parse_maildir_name("1700000000.M1P2.host");
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE(plain->has_info);
  EXPECT_FALSE(parse_maildir_name("").has_value());
  EXPECT_FALSE(parse_maildir_name(".hidden").has_value());
  EXPECT_FALSE(parse_maildir_name(",S=1").has_value());
  EXPECT_FALSE(parse_maildir_name("b,U=0")->uid.has_value());
  EXPECT_FALSE(parse_maildir_name("b,U=99999999999")->uid.has_value());

  EXPECT_EQ(format_maildir_name("b", 5, 9, kSeen | kDraft | kDeleted | kAnswered | kFlagged, true),
            "b,S=5,U=9:2,DFRST");
  EXPECT_EQ(format_maildir_name("b", 5, 9, 0, false), "b,S=5,U=9");
  EXPECT_EQ(maildir_safe_host("a/b:c,d"), "a_b_c_d");
}

}  // namespace
}  // namespace tern::store::detail
