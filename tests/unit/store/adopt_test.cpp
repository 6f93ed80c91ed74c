// reindex adopts a Dovecot Maildir copied over a user's directory: UIDVALIDITY, UIDs,
// UIDNEXT, flags, keywords and subscriptions as Dovecot had them.
#include <fstream>

#include <map>

#include "store/dovecot_files.h"
#include "store_fixture.h"

namespace tern::store::testing {
namespace {

const std::string kAlice = "alice@example.test";

void put(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

std::string body(int i) { return "Subject: d" + std::to_string(i) + "\r\n\r\nx\r\n"; }

class AdoptTest : public StoreTest {
 protected:
  std::string maildir() { return dir_ + "/mail/example.test/alice"; }
  // What `cp -a dovecot/Maildir/. <user dir>/` leaves: INBOX with an expunged gap (UID 2),
  // a file the uidlist does not name, keyword letters; a nested folder; subscriptions.
  void copy_in_dovecot_maildir() {
    std::string m = maildir();
    put(m + "/dovecot-uidlist",
        "3 V1700000000 N7 G0123456789abcdef0123456789abcdef\n"
        "1 :1699999990.M1P1.old,S=" + std::to_string(body(1).size()) + ",W=20\n"
        "3 W20 :1699999990.M3P1.old,S=" + std::to_string(body(3).size()) + ",W=20:2,S\n"
        "5 :1699999990.M5P1.old\n"
        "bogus line\n");
    put(m + "/dovecot-keywords", "0 $Forwarded\n1 custom1\n3 bad\\keyword\n");
    put(m + "/cur/1699999990.M1P1.old,S=" + std::to_string(body(1).size()) + ",W=20:2,Sab", body(1));
    put(m + "/cur/1699999990.M3P1.old,S=" + std::to_string(body(3).size()) + ",W=20:2,FRc", body(3));
    put(m + "/new/1699999990.M5P1.old", body(5));  // listed without ,S=, on disk without too
    put(m + "/cur/1699999991.M9P1.old,S=" + std::to_string(body(9).size()) + ":2,T", body(9));
    put(m + "/cur/1699999990.M7P1.old:2,Sd", body(7));  // 'd' is no keyword of this folder
    std::string w = m + "/.Work.Projects";
    put(w + "/dovecot-uidlist", "3 V1700000005 N3\n2 :1699999992.M2P1.old,S=" +
                                    std::to_string(body(2).size()) + ",W=20\n");
    put(w + "/cur/1699999992.M2P1.old,S=" + std::to_string(body(2).size()) + ",W=20:2,S", body(2));
    put(w + "/maildirfolder", "");
    put(m + "/subscriptions", "V\t2\n\nWork\tProjects\nSent\nGone\n");
  }
};

TEST_F(AdoptTest, DovecotMaildirKeepsUidsFlagsKeywordsAndSubscriptions) {
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  uint32_t tern_uidvalidity = store_->mailbox_status(kAlice, "INBOX")->uidvalidity;
  ASSERT_NE(tern_uidvalidity, 1700000000u);
  copy_in_dovecot_maildir();

  auto report = store_->reindex_report(kAlice);
  ASSERT_TRUE(report.ok()) << report.error().message;
  const ReindexFolderReport* inbox_report = nullptr;
  for (const auto& f : report->folders)
    if (f.mailbox == "INBOX") inbox_report = &f;
  ASSERT_NE(inbox_report, nullptr);
  EXPECT_TRUE(inbox_report->dovecot);
  EXPECT_TRUE(inbox_report->uidvalidity_from_dovecot);
  EXPECT_EQ(inbox_report->adopted, 3u);
  EXPECT_EQ(inbox_report->new_uids, 2u);
  EXPECT_EQ(inbox_report->unknown_keywords, 1u);  // 'c': index 2 is not in dovecot-keywords
  EXPECT_EQ(inbox_report->uidvalidity, 1700000000u);
  bool bogus_reported = false, bad_keyword_reported = false;
  for (const auto& p : inbox_report->problems) {
    bogus_reported |= p.find("bogus") != std::string::npos;
    bad_keyword_reported |= p.find("bad\\keyword") != std::string::npos;
  }
  EXPECT_TRUE(bogus_reported);
  EXPECT_TRUE(bad_keyword_reported);  // 'd' names a keyword that is no IMAP atom

  auto st = *store_->mailbox_status(kAlice, "INBOX");
  EXPECT_EQ(st.uidvalidity, 1700000000u);
  EXPECT_EQ(st.messages, 5u);
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 5u);
  EXPECT_EQ(snap.messages[0].uid, 1u);
  EXPECT_EQ(snap.messages[0].flags.system, static_cast<uint32_t>(kSeen));
  EXPECT_EQ(snap.messages[0].flags.keywords, (std::vector<std::string>{"$Forwarded", "custom1"}));
  EXPECT_EQ(snap.messages[1].uid, 3u);
  EXPECT_EQ(snap.messages[1].flags.system, static_cast<uint32_t>(kFlagged | kAnswered));
  EXPECT_TRUE(snap.messages[1].flags.keywords.empty());  // 'c' (index 2) is unused
  EXPECT_EQ(snap.messages[2].uid, 5u);
  // Not in the uidlist: new UIDs above N and above every listed UID, in name order.
  EXPECT_EQ(snap.messages[3].uid, 7u);
  EXPECT_EQ(snap.messages[4].uid, 8u);
  EXPECT_EQ(snap.messages[4].flags.system, static_cast<uint32_t>(kDeleted));
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", 3), body(3));
  EXPECT_EQ(*store_->read_message(kAlice, "INBOX", 5), body(5));
  EXPECT_EQ(st.uidnext, 9u);

  auto work = *store_->mailbox_status(kAlice, "Work/Projects");
  EXPECT_EQ(work.uidvalidity, 1700000005u);
  EXPECT_EQ(work.uidnext, 3u);
  auto subs = *store_->list_subscriptions(kAlice);
  EXPECT_EQ(subs, (std::vector<std::string>{"Gone", "Sent", "Work/Projects"}));

  // New mail continues above; the index is the truth from now on.
  EXPECT_EQ(deliver(kAlice, body(10)), 9u);
  ASSERT_TRUE(store_->subscribe(kAlice, "INBOX").ok());
  auto again = store_->reindex_report(kAlice);
  ASSERT_TRUE(again.ok());
  for (const auto& f : again->folders) {
    EXPECT_FALSE(f.uidvalidity_from_dovecot) << f.mailbox;
    EXPECT_EQ(f.adopted + f.new_uids + f.kept + f.dropped, 0u) << f.mailbox;
  }
  EXPECT_EQ(store_->list_subscriptions(kAlice)->size(), 4u);  // the new one kept
  EXPECT_EQ(store_->mailbox_status(kAlice, "INBOX")->uidvalidity, 1700000000u);

  // A lost index is rebuilt with the adopted UIDVALIDITY and UIDs (names carry ,U= now).
  store_.reset();
  for (const char* f : {"/index.db", "/index.db-wal", "/index.db-shm"}) fs::remove(dir_ + f);
  open();
  ASSERT_TRUE(store_->reindex().ok());
  auto rebuilt = *store_->snapshot(kAlice, "INBOX");
  EXPECT_EQ(rebuilt.status.uidvalidity, 1700000000u);
  ASSERT_EQ(rebuilt.messages.size(), 6u);
  EXPECT_EQ(rebuilt.messages[0].flags.keywords, (std::vector<std::string>{"$Forwarded", "custom1"}));
  EXPECT_EQ(rebuilt.messages[5].uid, 9u);
}

TEST_F(AdoptTest, UnusableUidlistLeavesTernUids) {
  open();
  ASSERT_TRUE(store_->ensure_user(kAlice).ok());
  uint32_t uv = store_->mailbox_status(kAlice, "INBOX")->uidvalidity;
  put(maildir() + "/dovecot-uidlist", "3 N5 garbage\n1 :a.1\n");
  put(maildir() + "/new/a.1", body(1));
  auto report = store_->reindex_report(kAlice);
  ASSERT_TRUE(report.ok());
  auto st = *store_->mailbox_status(kAlice, "INBOX");
  EXPECT_EQ(st.uidvalidity, uv);
  EXPECT_EQ(st.messages, 1u);
  bool reported = false;
  for (const auto& f : report->folders)
    for (const auto& p : f.problems) reported |= p.find("dovecot-uidlist ignored") != std::string::npos;
  EXPECT_TRUE(reported);
}

// Dovecot out: each changed folder gets a dovecot-uidlist naming its files (by the part
// before ':') with their UIDs, and keyword letters in the names that dovecot-keywords maps.
TEST_F(AdoptTest, WriterKeepsUidlistAndKeywordLettersCurrent) {
  open();
  uint32_t a = deliver(kAlice, body(1));
  uint32_t b = deliver(kAlice, body(2));
  uint32_t c = deliver(kAlice, body(3));
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {a}, FlagOp::add, Flags{kSeen, {"Later", "$Junk"}}).ok());
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {c}, FlagOp::add, Flags{0, {"later"}}).ok());
  ASSERT_TRUE(store_->expunge(kAlice, "INBOX", {b}).ok());
  uint32_t uidvalidity = store_->mailbox_status(kAlice, "INBOX")->uidvalidity;
  store_.reset();  // the writer's last round runs before the store closes

  auto uidlist = detail::parse_uidlist(read_file(maildir() + "/dovecot-uidlist"));
  ASSERT_TRUE(uidlist);
  EXPECT_EQ(uidlist->uidvalidity, uidvalidity);
  EXPECT_EQ(uidlist->next_uid, c + 1);
  ASSERT_EQ(uidlist->entries.size(), 2u);
  EXPECT_EQ(uidlist->entries[0].uid, a);
  EXPECT_EQ(uidlist->entries[1].uid, c);
  auto keywords = detail::parse_dovecot_keywords(read_file(maildir() + "/dovecot-keywords"));
  std::map<std::string, char> letter;
  for (size_t i = 0; i < keywords.by_index.size(); ++i)
    if (!keywords.by_index[i].empty()) letter[keywords.by_index[i]] = static_cast<char>('a' + i);
  ASSERT_EQ(letter.size(), 2u);
  ASSERT_TRUE(letter.count("Later") && letter.count("$Junk"));
  // Every listed name is a file on disk (up to ':'), with the letters of its keywords.
  std::map<uint32_t, std::string> on_disk;
  for (const char* sub : {"/cur", "/new"})
    for (auto& e : fs::directory_iterator(maildir() + sub)) {
      std::string n = e.path().filename().string();
      for (const auto& entry : uidlist->entries)
        if (n.substr(0, n.find(':')) == entry.name) on_disk[entry.uid] = n;
    }
  ASSERT_EQ(on_disk.size(), 2u);
  std::string want_a{letter["$Junk"], letter["Later"]};
  std::sort(want_a.begin(), want_a.end());
  EXPECT_EQ(detail::keyword_letters(on_disk[a]), want_a) << on_disk[a];
  EXPECT_EQ(detail::keyword_letters(on_disk[c]), std::string(1, letter["Later"])) << on_disk[c];
  EXPECT_NE(on_disk[a].find(":2,S"), std::string::npos) << on_disk[a];

  // The letters survive a lost index: keywords come back from names + dovecot-keywords.
  for (const char* f : {"/index.db", "/index.db-wal", "/index.db-shm"}) fs::remove(dir_ + f);
  open();
  auto snap = *store_->snapshot(kAlice, "INBOX");
  ASSERT_EQ(snap.messages.size(), 2u);
  EXPECT_EQ(snap.messages[0].flags.keywords, (std::vector<std::string>{"$Junk", "Later"}));
  EXPECT_EQ(snap.messages[1].flags.keywords, (std::vector<std::string>{"Later"}));
  // A system flag change keeps the letters at once (no wait for the writer).
  ASSERT_TRUE(store_->store_flags(kAlice, "INBOX", {a}, FlagOp::add, Flags{kFlagged, {}}).ok());
  std::string path = *store_->message_path(kAlice, "INBOX", a);
  EXPECT_EQ(detail::keyword_letters(path), want_a) << path;
  EXPECT_NE(path.find(":2,FS"), std::string::npos) << path;
}

}  // namespace
}  // namespace tern::store::testing
