// IMAP NOTIFY (RFC 5465) through the session against a real Store: bob (the harness's user)
// asks for events; the store is changed directly (as SMTP or ternctl would) or by a second
// session, and the daemon's wake-up is played by calling on_mailbox_changed() as the glue does
// once the change notifier ran.
#include "session_harness.h"
#include "store/acl.h"

namespace tern::imapd::test {
namespace {

constexpr const char* kEve = "eve@example.test";
constexpr const char* kSupported = "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)]";

class NotifyTest : public SessionTest {
 protected:
  static void expect(Client& c, const std::string& line, const std::string& want) {
    EXPECT_TRUE(has(c.send(line), want)) << line << "\n" << c.last.bytes;
  }
  // The wake-up the daemon schedules after the store's notifier ran.
  static std::string wake(Client& c) { return c.session().on_mailbox_changed().bytes; }
  std::unique_ptr<Client> logged_in(const std::string& who = kUser, const std::string& pass = kPassword) {
    auto c = std::make_unique<Client>(backend());
    EXPECT_TRUE(has(c->send("L LOGIN " + who + " " + pass), "L OK")) << c->last.bytes;
    return c;
  }
  uint32_t uidvalidity(const std::string& mailbox) { return store().mailbox_status(kUser, mailbox)->uidvalidity; }
};

TEST_F(NotifyTest, CapabilityAdvertised) {
  auto c = logged_in();
  expect(*c, "C CAPABILITY", " NOTIFY");
}

// RFC 5465 §3.1 / §5 / §8: the combinations the RFC forbids are BAD; events Tern does not
// report are NO [BADEVENT (the supported events)].
TEST_F(NotifyTest, Rfc5465_Errors) {
  Client anon(backend());
  expect(anon, "A NOTIFY NONE", "A BAD");
  auto c = logged_in();
  const std::string badevent = "NO " + std::string(kSupported);
  // Each arguments string after "NOTIFY", and the start of the tagged answer it must get.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"SET (personal (MessageNew))", "BAD"},
      {"SET (personal (MessageExpunge))", "BAD"},
      {"SET (personal (FlagChange))", "BAD"},
      {"SET (selected (MailboxName))", "BAD"},
      {"SET (personal (MessageNew (UID) MessageExpunge))", "BAD"},
      {"SET (selected NONE) (selected-delayed NONE)", "BAD"},
      {"SET (everywhere (MessageNew MessageExpunge))", "BAD"},
      {"SET", "BAD"},
      {"SET (personal (MessageNew MessageExpunge)", "BAD"},
      {"SET (subtree (MessageNew MessageExpunge))", "BAD"},
      {"SET (mailboxes () (MessageNew MessageExpunge))", "BAD"},
      {"SET (selected (MessageNew (UID) MessageExpunge)) extra", "BAD"},
      {"SET (selected (MessageNew (NOSUCH) MessageExpunge))", "BAD"},
      {"SET STATUS", "BAD"},
      {"NONE extra", "BAD"},
      {"SET (personal (MessageNew MessageExpunge)) (inboxes ())", "BAD"},
      {"SET (personal (MessageNew MessageExpunge AnnotationChange))", badevent},
      {"SET (personal (MailboxMetadataChange))", badevent},
      {"SET (personal (ServerMetadataChange))", badevent},
      {"SET (personal (SomethingElse))", "NO [BADEVENT"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string tag = "E" + std::to_string(i);
    expect(*c, tag + " NOTIFY " + cases[i].first, tag + " " + cases[i].second);
  }
  // Mailbox names as literals (LITERAL+) and quoted strings.
  EXPECT_TRUE(has(c->raw("L1 NOTIFY SET (mailboxes ({5+}\r\nOther \"My Box\") (MessageNew MessageExpunge))\r\n"),
                  "L1 OK")) << c->last.bytes;
  expect(*c, "O1 NOTIFY SET (selected NONE) (personal NONE)", "O1 OK");
  expect(*c, "O2 notify set (Inboxes (messagenew messageexpunge flagchange))", "O2 OK");
  expect(*c, "O3 NOTIFY NONE", "O3 OK");
}

// RFC 5465 §3.1: NOTIFY SET STATUS sends a STATUS for every mailbox the message events cover,
// before the tagged OK, except the selected mailbox (§5).
TEST_F(NotifyTest, Rfc5465_3_1_SetStatusSendsInitialStatus) {
  auto c = logged_in();
  deliver(message("one"));
  std::string out = c->send("S NOTIFY SET STATUS (inboxes (MessageNew MessageExpunge)) (mailboxes Sent (MessageNew MessageExpunge))");
  std::string inbox = "* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY " + std::to_string(uidvalidity("INBOX")) + " UNSEEN 1)\r\n";
  EXPECT_TRUE(has(out, inbox)) << out;
  EXPECT_TRUE(has(out, "* STATUS Sent (MESSAGES 0 UIDNEXT 1 ")) << out;
  EXPECT_FALSE(has(out, "STATUS Drafts")) << out;
  EXPECT_LT(out.find("* STATUS"), out.find("S OK")) << out;
  // Without STATUS nothing is sent; with INBOX selected, INBOX is left out.
  EXPECT_FALSE(has(c->send("T NOTIFY SET (inboxes (MessageNew MessageExpunge))"), "STATUS")) << c->last.bytes;
  c->send("E EXAMINE INBOX");
  out = c->send("U NOTIFY SET STATUS (personal (MessageNew MessageExpunge))");
  EXPECT_FALSE(has(out, "STATUS INBOX")) << out;
  EXPECT_TRUE(has(out, "* STATUS Trash (")) << out;
}

// RFC 5465 §5.2 / §5.3: new and expunged messages of another mailbox are STATUS responses,
// sent between commands (no IDLE needed), in IDLE, and before a command's tagged answer.
TEST_F(NotifyTest, Rfc5465_5_1_OtherMailboxStatusAnyTime) {
  auto c = logged_in();
  c->send("S SELECT INBOX");
  expect(*c, "N NOTIFY SET (personal (MessageNew MessageExpunge))", "N OK");
  EXPECT_EQ(wake(*c), "");  // nothing changed yet
  int before = backend().notified->load();
  uint32_t uid = deliver(message("a"), "Archive");
  EXPECT_GT(backend().notified->load(), before);  // the daemon is woken: no polling
  std::string uv = std::to_string(uidvalidity("Archive"));
  EXPECT_EQ(wake(*c), "* STATUS Archive (MESSAGES 1 UIDNEXT 2 UIDVALIDITY " + uv + " UNSEEN 1)\r\n");
  EXPECT_EQ(wake(*c), "");  // told once
  // In IDLE.
  c->send("I IDLE");
  deliver(message("b"), "Archive");
  EXPECT_TRUE(has(wake(*c), "* STATUS Archive (MESSAGES 2 UIDNEXT 3 ")) << c->last.bytes;
  EXPECT_TRUE(has(c->send("DONE"), "I OK"));
  // Before a command's tagged answer (an expunge, seen by a NOOP).
  ASSERT_TRUE(store().expunge(kUser, "Archive", {uid}).ok());
  std::string out = c->send("P NOOP");
  EXPECT_TRUE(has(out, "* STATUS Archive (MESSAGES 1 UIDNEXT 3 ")) << out;
  EXPECT_LT(out.find("* STATUS"), out.find("P OK")) << out;
  // The selected mailbox gets EXISTS, not STATUS; and without a selected filter, only at the
  // command points RFC 9051 §7.5.1 allows (not between commands).
  deliver(message("c"));
  EXPECT_EQ(wake(*c), "");
  out = c->send("Q NOOP");
  EXPECT_TRUE(has(out, "* 1 EXISTS")) << out;
  EXPECT_FALSE(has(out, "STATUS INBOX")) << out;
  // NOTIFY NONE: nothing more.
  c->send("Z NOTIFY NONE");
  deliver(message("d"), "Archive");
  EXPECT_EQ(wake(*c), "");
  EXPECT_FALSE(has(c->send("Y NOOP"), "STATUS")) << c->last.bytes;
}

// RFC 5465 §6: which mailboxes the filters cover: inboxes (INBOX here), subscribed (and it
// follows SUBSCRIBE / UNSUBSCRIBE), subtree (the mailbox and those below), mailboxes (exactly).
TEST_F(NotifyTest, Rfc5465_6_Filters) {
  auto c = logged_in();
  for (const char* m : {"Lists", "Lists/ietf", "Listsx", "Other"}) expect(*c, std::string("C CREATE ") + m, "C OK");
  expect(*c, "U UNSUBSCRIBE Archive", "U OK");
  expect(*c, "N NOTIFY SET (inboxes (MessageNew MessageExpunge)) (subscribed (MessageNew MessageExpunge))"
             " (subtree Lists (MessageNew MessageExpunge)) (mailboxes (Other \"Nope\") (MessageNew MessageExpunge))",
         "N OK");
  auto told = [&](const std::string& mailbox) {
    deliver(message("m"), mailbox);
    return has(wake(*c), "* STATUS " + mailbox + " (");
  };
  EXPECT_TRUE(told("INBOX"));
  EXPECT_TRUE(told("Sent"));  // subscribed (the default folders are)
  EXPECT_FALSE(told("Archive"));
  EXPECT_TRUE(told("Lists"));
  EXPECT_TRUE(told("Lists/ietf"));
  EXPECT_FALSE(told("Listsx"));
  EXPECT_TRUE(told("Other"));
  expect(*c, "S SUBSCRIBE Archive", "S OK");
  EXPECT_EQ(wake(*c), "");  // no SubscriptionChange asked for
  EXPECT_TRUE(told("Archive"));
}

// RFC 5465 §5.1: flag changes of another mailbox are reported only when FlagChange is asked for.
TEST_F(NotifyTest, Rfc5465_5_3_FlagChange) {
  auto c = logged_in();
  uint32_t uid = deliver(message("a"), "Archive");
  expect(*c, "N NOTIFY SET (mailboxes Archive (MessageNew MessageExpunge))", "N OK");
  store::Flags seen;
  seen.system = store::kSeen;
  ASSERT_TRUE(store().store_flags(kUser, "Archive", {uid}, store::FlagOp::add, seen).ok());
  EXPECT_EQ(wake(*c), "");
  expect(*c, "F NOTIFY SET (mailboxes Archive (MessageNew MessageExpunge FlagChange))", "F OK");
  ASSERT_TRUE(store().store_flags(kUser, "Archive", {uid}, store::FlagOp::remove, seen).ok());
  EXPECT_TRUE(has(wake(*c), "* STATUS Archive (MESSAGES 1 UIDNEXT 2 UIDVALIDITY " + std::to_string(uidvalidity("Archive")) + " UNSEEN 1)"))
      << c->last.bytes;
  // Another mailbox (not in the filter) says nothing.
  deliver(message("b"), "Trash");
  EXPECT_EQ(wake(*c), "");
}

// RFC 5465 §5.4 / §5.5: MailboxName and SubscriptionChange are LIST responses; a rename
// carries OLDNAME, a deletion \NonExistent.
TEST_F(NotifyTest, Rfc5465_5_4_MailboxNameAndSubscriptions) {
  auto c = logged_in();
  auto other = logged_in();
  expect(*c, "N NOTIFY SET (personal (MailboxName SubscriptionChange))", "N OK");
  expect(*other, "A CREATE Projects", "A OK");
  EXPECT_EQ(wake(*c), "* LIST () \"/\" Projects\r\n");
  expect(*other, "B RENAME Projects Work", "B OK");
  EXPECT_EQ(wake(*c), "* LIST () \"/\" Work (\"OLDNAME\" (Projects))\r\n");
  expect(*other, "C SUBSCRIBE Work", "C OK");
  EXPECT_EQ(wake(*c), "* LIST (\\Subscribed) \"/\" Work\r\n");
  expect(*other, "D UNSUBSCRIBE Work", "D OK");
  EXPECT_EQ(wake(*c), "* LIST () \"/\" Work\r\n");
  expect(*other, "E DELETE Work", "E OK");
  EXPECT_EQ(wake(*c), "* LIST (\\NonExistent) \"/\" Work\r\n");
  // Only asked for: message events alone say nothing of names.
  expect(*c, "M NOTIFY SET (personal (MessageNew MessageExpunge))", "M OK");
  expect(*other, "F CREATE Later", "F OK");
  EXPECT_EQ(wake(*c), "");
}

// RFC 5465 §5.2 / §6.1: MessageNew's fetch-att for the selected mailbox, after EXISTS, between
// commands; "selected" reports expunges at once, "selected-delayed" only where RFC 9051 §7.5.1
// allows EXPUNGE (not with no command in progress, not after FETCH).
TEST_F(NotifyTest, Rfc5465_6_1_SelectedFetchAndExpunges) {
  auto c = logged_in();
  c->send("S SELECT INBOX");
  expect(*c, "N NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge FlagChange))",
         "N OK");
  uint32_t uid = deliver(message("hello"));
  std::string out = wake(*c);
  EXPECT_TRUE(has(out, "* 1 EXISTS\r\n* 1 RECENT\r\n* 1 FETCH (UID " + std::to_string(uid) +
                           " BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: hello\r\n\r\n)\r\n"))
      << out;
  // RFC 5465 §5.1: FlagChange is a FETCH with UID and FLAGS.
  store::Flags flagged;
  flagged.system = store::kFlagged;
  ASSERT_TRUE(store().store_flags(kUser, "INBOX", {uid}, store::FlagOp::add, flagged).ok());
  EXPECT_EQ(wake(*c), "* 1 FETCH (UID " + std::to_string(uid) + " FLAGS (\\Recent \\Flagged))\r\n");
  ASSERT_TRUE(store().expunge(kUser, "INBOX", {uid}).ok());
  EXPECT_EQ(wake(*c), "* 1 EXPUNGE\r\n");

  expect(*c, "D NOTIFY SET (selected-delayed (MessageNew MessageExpunge))", "D OK");
  uid = deliver(message("two"));
  EXPECT_EQ(wake(*c), "* 1 EXISTS\r\n* 1 RECENT\r\n");  // no fetch-att asked for this time
  ASSERT_TRUE(store().expunge(kUser, "INBOX", {uid}).ok());
  EXPECT_EQ(wake(*c), "");  // RFC 9051 §7.5.1: no EXPUNGE with no command in progress
  EXPECT_FALSE(has(c->send("F FETCH 1 FLAGS"), "* 1 EXPUNGE")) << c->last.bytes;
  EXPECT_TRUE(has(c->send("G NOOP"), "* 1 EXPUNGE\r\nG OK")) << c->last.bytes;
}

// RFC 5465 §5 / §8 (events = NONE): "(selected NONE)" freezes the selected mailbox, even at
// NOOP; the next NOTIFY does what NOOP does (§3.1) under its own rules.
TEST_F(NotifyTest, Rfc5465_SelectedNoneSnapshotAndNotifyAsNoop) {
  auto c = logged_in();
  c->send("S SELECT INBOX");
  expect(*c, "N NOTIFY SET (selected NONE) (personal (MessageNew MessageExpunge))", "N OK");
  deliver(message("a"));
  EXPECT_EQ(wake(*c), "");
  EXPECT_FALSE(has(c->send("P NOOP"), "EXISTS")) << c->last.bytes;
  EXPECT_TRUE(has(c->send("Q NOTIFY NONE"), "* 1 EXISTS\r\n* 1 RECENT\r\nQ OK")) << c->last.bytes;
}

// RFC 5465 §7: SEARCH RETURN (UPDATE (fetch-att)): each message ADDTO adds is followed by a
// FETCH with those attributes; with a selected NOTIFY filter this happens between commands.
TEST_F(NotifyTest, Rfc5465_7_UpdateWithFetchAttributes) {
  auto c = logged_in();
  c->send("E ENABLE IMAP4rev2");
  c->send("S SELECT INBOX");
  expect(*c, "N NOTIFY SET (selected (MessageNew MessageExpunge FlagChange))", "N OK");
  expect(*c, "U1 UID SEARCH RETURN (UPDATE (UID BODY.PEEK[HEADER.FIELDS (Subject)])) SUBJECT boss",
         "* ESEARCH (TAG \"U1\") UID\r\nU1 OK");
  uint32_t other = deliver(message("lunch"));
  uint32_t boss = deliver(message("boss"));
  std::string out = wake(*c);
  std::string addto = "* ESEARCH (TAG \"U1\") UID ADDTO (0 " + std::to_string(boss) + ")\r\n";
  std::string fetch = "* 2 FETCH (UID " + std::to_string(boss) + " BODY[HEADER.FIELDS (SUBJECT)] {17}\r\nSubject: boss\r\n\r\n)\r\n";
  EXPECT_TRUE(has(out, "* 2 EXISTS\r\n" + addto + fetch)) << out;
  EXPECT_FALSE(has(out, "UID " + std::to_string(other) + " BODY")) << out;
  // The grammar: a fetch-att list only right after UPDATE; a bad one is BAD.
  expect(*c, "B1 SEARCH RETURN (UPDATE (NOSUCHATT)) ALL", "B1 BAD");
  expect(*c, "B2 SEARCH RETURN (UPDATE ()) ALL", "B2 BAD");
}

// RFC 5465 with RFC 4314: events only for mailboxes the user may read; shared mailboxes are
// named as the client sees them.
TEST_F(NotifyTest, Rfc5465_AclSharedMailboxes) {
  ASSERT_TRUE(store().ensure_user(kUser).ok());
  ASSERT_TRUE(store().set_acl(kUser, "Drafts", kEve, *store::acl::parse("lr")).ok());
  ASSERT_TRUE(store().set_acl(kUser, "Sent", kEve, *store::acl::parse("l")).ok());
  auto eve = logged_in(kEve, "evepass");
  std::string out = eve->send("N NOTIFY SET STATUS (subtree #shared (MessageNew MessageExpunge MailboxName))");
  EXPECT_TRUE(has(out, "* STATUS #shared/bob@example.test/Drafts (MESSAGES 0 ")) << out;
  // RFC 5465 §3.1: "l" without "r": no STATUS, but LIST (\NoAccess).
  EXPECT_TRUE(has(out, "* LIST (\\NoAccess) \"/\" #shared/bob@example.test/Sent\r\n")) << out;
  EXPECT_FALSE(has(out, "STATUS #shared/bob@example.test/Sent")) << out;
  EXPECT_FALSE(has(out, "INBOX")) << out;  // not shared at all
  deliver(message("x"), "Drafts");
  deliver(message("y"), "Sent");
  deliver(message("z"), "INBOX");
  out = wake(*eve);
  EXPECT_TRUE(has(out, "* STATUS #shared/bob@example.test/Drafts (MESSAGES 1 UIDNEXT 2 ")) << out;
  EXPECT_FALSE(has(out, "Sent")) << out;
  EXPECT_FALSE(has(out, "INBOX")) << out;
  // Losing the share: the mailbox disappears for eve (MailboxName), and says no more.
  ASSERT_TRUE(store().set_acl(kUser, "Drafts", kEve, 0).ok());
  EXPECT_EQ(wake(*eve), "* LIST (\\NonExistent) \"/\" #shared/bob@example.test/Drafts\r\n");
  deliver(message("w"), "Drafts");
  EXPECT_EQ(wake(*eve), "");
  // Named outright, a mailbox readable ("r") but not listed ("l") still reports STATUS.
  ASSERT_TRUE(store().set_acl(kUser, "Trash", kEve, *store::acl::parse("r")).ok());
  expect(*eve, "M NOTIFY SET (mailboxes #shared/bob@example.test/Trash (MessageNew MessageExpunge))", "M OK");
  deliver(message("v"), "Trash");
  EXPECT_TRUE(has(wake(*eve), "* STATUS #shared/bob@example.test/Trash (MESSAGES 1 ")) << eve->last.bytes;
}

// RFC 5465 §5.8: past the limit the server says NOTIFICATIONOVERFLOW and stops notifying.
TEST_F(NotifyTest, Rfc5465_5_8_Overflow) {
  SessionSettings s = Client::default_settings();
  s.notify_max_pending = 2;
  Client c(backend(), s);
  c.login();
  expect(c, "N NOTIFY SET (personal (MessageNew MessageExpunge))", "N OK");
  deliver(message("a"), "Archive");
  deliver(message("b"), "Trash");
  deliver(message("c"), "Sent");
  EXPECT_EQ(wake(c), "* OK [NOTIFICATIONOVERFLOW] Too many changes; notifications are off\r\n");
  deliver(message("d"), "Archive");
  EXPECT_EQ(wake(c), "");
}

// Without NOTIFY nothing is sent between commands (RFC 9051 §7.5.1 base behaviour).
TEST_F(NotifyTest, NoNotifyNoUnsolicitedOutput) {
  auto c = logged_in();
  c->send("S SELECT INBOX");
  deliver(message("a"));
  deliver(message("b"), "Archive");
  EXPECT_EQ(wake(*c), "");
  EXPECT_TRUE(has(c->send("N NOOP"), "* 1 EXISTS")) << c->last.bytes;
}

}  // namespace
}  // namespace tern::imapd::test
