// ctl/import_plan.h: folder mapping, flags, batches and the resume decisions of ternctl import.
#include "ctl/import_plan.h"

#include <gtest/gtest.h>

#include <filesystem>

using namespace tern;
using namespace tern::ctl::import;

TEST(ImportPlan, SpecialUseAttributesWinOverNames) {
  auto t = map_folder("Gesendet", "/", {"\\HasNoChildren", "\\Sent"});
  EXPECT_EQ(t.mailbox, "Gesendet");
  EXPECT_EQ(t.special_use, "\\Sent");
  EXPECT_EQ(map_folder("[Gmail]/Spam", "/", {"\\Spam"}).special_use, "\\Junk");
  EXPECT_EQ(map_folder("Posteingang", "/", {"\\Inbox"}).mailbox, "INBOX");
  auto all = map_folder("[Gmail]/All Mail", "/", {"\\All"});
  EXPECT_TRUE(all.mailbox.empty());
  EXPECT_NE(all.skip_reason.find("\\All"), std::string::npos);
}

TEST(ImportPlan, CommonNamesWithoutAttributes) {
  EXPECT_EQ(map_folder("Sent Items", "/", {}).special_use, "\\Sent");
  EXPECT_EQ(map_folder("Deleted Items", "/", {}).special_use, "\\Trash");
  EXPECT_EQ(map_folder("spam", "/", {}).special_use, "\\Junk");
  EXPECT_EQ(map_folder("INBOX.Drafts", ".", {}).special_use, "\\Drafts");
  EXPECT_EQ(map_folder("INBOX.Drafts", ".", {}).mailbox, "INBOX/Drafts");
  EXPECT_EQ(map_folder("Archive", "/", {}).special_use, "\\Archive");
  auto plain = map_folder("Work.2024", ".", {});
  EXPECT_EQ(plain.mailbox, "Work/2024");
  EXPECT_EQ(plain.special_use, "");
  EXPECT_EQ(map_folder("Projects/Sent", "/", {}).special_use, "");
}

TEST(ImportPlan, Flags) {
  auto f = map_flags({"\\Seen", "\\Recent", "\\Flagged", "$Junk", "\\Unknown", "work", "WORK", "\\Answered",
                      "\\Draft", "\\Deleted", "bad\"kw"});
  EXPECT_EQ(f.system, store::kSeen | store::kFlagged | store::kAnswered | store::kDraft | store::kDeleted);
  EXPECT_EQ(f.keywords, (std::vector<std::string>{"$Junk", "work"}));
}

TEST(ImportPlan, BatchesAreBoundedAndCompact) {
  std::vector<SourceMessage> m;
  for (uint32_t uid : {1u, 2u, 3u, 5u, 6u, 9u}) m.push_back({uid, 10, 0});
  EXPECT_EQ(batches(m, 50, 1000), (std::vector<std::string>{"1:3,5:6,9"}));
  EXPECT_EQ(batches(m, 2, 1000), (std::vector<std::string>{"1:2", "3,5", "6,9"}));
  m[1].size = 5000;  // larger than a batch: alone
  EXPECT_EQ(batches(m, 50, 100), (std::vector<std::string>{"1", "2", "3,5:6,9"}));
  EXPECT_TRUE(batches({}, 5, 5).empty());
}

TEST(ImportPlan, ResumeAndChangedUidValidity) {
  std::vector<SourceMessage> listed = {{1, 100, 1000}, {2, 200, 2000}, {3, 300, 3000}};
  Plan fresh = plan_folder(7, listed, {});
  EXPECT_EQ(fresh.fetch.size(), 3u);
  EXPECT_FALSE(fresh.old_uidvalidity.has_value());
  Plan resumed = plan_folder(7, listed, {{7, 1, 100, 1000}, {7, 2, 200, 2000}});
  ASSERT_EQ(resumed.fetch.size(), 1u);
  EXPECT_EQ(resumed.fetch[0].uid, 3u);
  EXPECT_EQ(resumed.already, 2u);
  // New UIDVALIDITY and new UIDs: matched by size and date, each earlier row once.
  std::vector<SourceMessage> renumbered = {{10, 100, 1000}, {11, 100, 1000}, {12, 300, 3000}};
  Plan changed = plan_folder(8, renumbered, {{7, 1, 100, 1000}, {7, 2, 200, 2000}});
  ASSERT_TRUE(changed.old_uidvalidity.has_value());
  EXPECT_EQ(*changed.old_uidvalidity, 7u);
  ASSERT_EQ(changed.matched.size(), 1u);
  EXPECT_EQ(changed.matched[0].uid, 10u);
  ASSERT_EQ(changed.fetch.size(), 2u);
  EXPECT_EQ(changed.fetch[0].uid, 11u);
  EXPECT_EQ(changed.fetch[1].uid, 12u);
}

TEST(ImportPlan, StateRemembersPerUserSourceAndFolder) {
  auto dir = std::filesystem::temp_directory_path() / ("tern-import-state-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    auto st = State::open((dir / "import.db").string());
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_TRUE((*st)->record("a@x", "u@h:993", "INBOX", {5, 1, 10, 20}, "INBOX", 3).ok());
    ASSERT_TRUE((*st)->record("a@x", "u@h:993", "INBOX", {5, 2, 11, 21}, "INBOX", 4).ok());
    ASSERT_TRUE((*st)->record("a@x", "u@h:993", "Sent", {6, 1, 12, 22}, "Sent", 1).ok());
    ASSERT_TRUE((*st)->record("b@x", "u@h:993", "INBOX", {5, 9, 13, 23}, "INBOX", 1).ok());
  }
  auto st = State::open((dir / "import.db").string());
  ASSERT_TRUE(st.ok());
  auto rows = (*st)->imported("a@x", "u@h:993", "INBOX");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*(*st)->imported("a@x", "other@h:993", "INBOX")).size(), 0u);
  std::filesystem::remove_all(dir);
}
