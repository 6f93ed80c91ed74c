// Mailbox access control lists (RFC 4314): the rights value type (store/acl.h) and the acl
// table of index.db (store/acl.cpp).
#include "store/acl.h"

#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kInfo = "info@example.test";
const std::string kAlice = "alice@example.test";
const std::string kBob = "bob@example.test";

TEST(AclRights, ParsesAndPrintsInRfcOrder) {
  EXPECT_EQ(acl::to_stored(*acl::parse("rl")), "lr");
  EXPECT_EQ(acl::to_stored(*acl::parse("")), "");
  EXPECT_EQ(acl::to_stored(acl::kAll), "lrswipkxtea");
  // RFC 4314 §3.1: an unknown right is an error, never ignored.
  EXPECT_FALSE(acl::parse("lrz").has_value());
  EXPECT_FALSE(acl::parse("l r").has_value());
  EXPECT_FALSE(acl::parse("0").has_value());
}

// RFC 4314 §2.1.1: "c" stands for the create rights and "d" for the delete rights (Tern:
// the second group, c = k, d = x t e); returned whenever one of their members is held.
TEST(AclRights, Rfc4314_2_1_1_ObsoleteRightsMapping) {
  EXPECT_EQ(acl::to_stored(*acl::parse("c")), "k");
  EXPECT_EQ(acl::to_stored(*acl::parse("d")), "xte");
  EXPECT_EQ(acl::to_string(*acl::parse("lrswida")), "lrswixtead");
  EXPECT_EQ(acl::to_string(*acl::parse("lrt")), "lrtd");
  EXPECT_EQ(acl::to_string(*acl::parse("lrk")), "lrkc");
  EXPECT_EQ(acl::to_string(acl::kAll), "lrswipkxteacd");
}

// RFC 4314 §3.1: "+" adds to the current rights, "-" removes, no prefix replaces.
TEST(AclRights, Rfc4314_3_1_Modifiers) {
  uint32_t cur = *acl::parse("lr");
  EXPECT_EQ(acl::to_stored(acl::parse_modification("+sw")->apply(cur)), "lrsw");
  EXPECT_EQ(acl::to_stored(acl::parse_modification("-r")->apply(cur)), "l");
  EXPECT_EQ(acl::to_stored(acl::parse_modification("i")->apply(cur)), "i");
  EXPECT_EQ(acl::to_stored(acl::parse_modification("-d")->apply(acl::kAll)), "lrswipka");
  EXPECT_EQ(acl::parse_modification("-")->apply(cur), cur);
  EXPECT_FALSE(acl::parse_modification("+q").has_value());
  EXPECT_FALSE(acl::parse_modification("++l").has_value());
}

class AclStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    open();
  }
};

TEST_F(AclStoreTest, SetGetRightsAndSharedWith) {
  ASSERT_TRUE(store_->ensure_user(kInfo).ok());
  ASSERT_TRUE(store_->create_mailbox(kInfo, "Orders").ok());
  ASSERT_TRUE(store_->set_acl(kInfo, "INBOX", "Alice@Example.test", *acl::parse("lrs")).ok());
  ASSERT_TRUE(store_->set_acl(kInfo, "Orders", "anyone", *acl::parse("l")).ok());
  ASSERT_TRUE(store_->set_acl(kInfo, "Orders", kBob, *acl::parse("ri")).ok());

  auto entries = store_->get_acl(kInfo, "INBOX");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].identifier, kAlice);  // canonical (lower-cased)
  EXPECT_EQ(acl::to_stored((*entries)[0].rights), "lrs");

  // The owner holds everything; others the union of their entry and "anyone"'s.
  EXPECT_EQ(*store_->rights(kInfo, "Orders", kInfo), acl::kAll);
  EXPECT_EQ(acl::to_stored(*store_->rights(kInfo, "Orders", kBob)), "lri");
  EXPECT_EQ(acl::to_stored(*store_->rights(kInfo, "Orders", kAlice)), "l");
  EXPECT_EQ(acl::to_stored(*store_->rights(kInfo, "INBOX", kBob)), "");
  EXPECT_EQ(store_->rights(kInfo, "Nope", kBob).error().code, Errc::not_found);
  // Asking about a user with no store creates none.
  EXPECT_EQ(store_->rights("ghost@example.test", "INBOX", kBob).error().code, Errc::not_found);
  EXPECT_FALSE(fs::exists(dir_ + "/mail/example.test/ghost"));

  auto shared = store_->shared_with(kAlice);
  ASSERT_TRUE(shared.ok());
  ASSERT_EQ(shared->size(), 2u);
  EXPECT_EQ((*shared)[0].owner, kInfo);
  EXPECT_EQ((*shared)[0].mailbox, "INBOX");
  EXPECT_EQ((*shared)[1].mailbox, "Orders");
  // The owner's own mailboxes are not "shared with" the owner, "anyone" or not.
  EXPECT_TRUE(store_->shared_with(kInfo)->empty());

  // Rights 0 removes the entry; without "l" the mailbox is not listed.
  ASSERT_TRUE(store_->set_acl(kInfo, "INBOX", kAlice, 0).ok());
  EXPECT_TRUE(store_->get_acl(kInfo, "INBOX")->empty());
  ASSERT_TRUE(store_->set_acl(kInfo, "Orders", "anyone", 0).ok());
  EXPECT_TRUE(store_->shared_with(kAlice)->empty());
  EXPECT_EQ(store_->shared_with(kBob)->size(), 0u);  // "ri" without "l"
}

TEST_F(AclStoreTest, RefusesOwnerAndBadIdentifiers) {
  ASSERT_TRUE(store_->ensure_user(kInfo).ok());
  EXPECT_EQ(store_->set_acl(kInfo, "INBOX", kInfo, acl::kAll).error().code, Errc::refused);
  EXPECT_EQ(store_->set_acl(kInfo, "INBOX", "not an address", 1).error().code, Errc::syntax);
  EXPECT_EQ(store_->set_acl(kInfo, "Missing", kBob, 1).error().code, Errc::not_found);
}

// Entries follow RENAME (the mailbox keeps its row) and go with DELETE and with the user
// they name, so a later mailbox or user of the same name inherits nothing.
TEST_F(AclStoreTest, FollowsRenameGoesWithDeleteAndUserRemoval) {
  ASSERT_TRUE(store_->ensure_user(kInfo).ok());
  ASSERT_TRUE(store_->create_mailbox(kInfo, "Sales").ok());
  ASSERT_TRUE(store_->set_acl(kInfo, "Sales", kBob, *acl::parse("lr")).ok());
  ASSERT_TRUE(store_->set_acl(kInfo, "INBOX", kBob, *acl::parse("lr")).ok());
  ASSERT_TRUE(store_->rename_mailbox(kInfo, "Sales", "Sales 2026").ok());
  EXPECT_EQ(acl::to_stored(*store_->rights(kInfo, "Sales 2026", kBob)), "lr");
  ASSERT_TRUE(store_->delete_mailbox(kInfo, "Sales 2026").ok());
  ASSERT_TRUE(store_->create_mailbox(kInfo, "Sales 2026").ok());
  EXPECT_EQ(*store_->rights(kInfo, "Sales 2026", kBob), 0u);

  ASSERT_TRUE(store_->ensure_user(kBob).ok());
  ASSERT_TRUE(store_->remove_user(kBob).ok());
  EXPECT_TRUE(store_->get_acl(kInfo, "INBOX")->empty());
  // Removing the owner removes the entries of the owner's mailboxes.
  ASSERT_TRUE(store_->set_acl(kInfo, "INBOX", kAlice, *acl::parse("lr")).ok());
  ASSERT_TRUE(store_->remove_user(kInfo).ok());
  EXPECT_TRUE(store_->shared_with(kAlice)->empty());
}

}  // namespace
}  // namespace tern::store::testing
