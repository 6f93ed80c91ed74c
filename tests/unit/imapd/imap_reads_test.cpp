// Store::messages(..., paths) and Store::read_message by handle (the FETCH read path, store/message_reader.cpp)
// and the FETCH transcripts that go through them: the bytes a client gets are the message's,
// also after a flag change moved the file, and a path of another folder or user is refused.
#include "session_harness.h"

namespace tern::imapd::test {
namespace {

class ImapReadsTest : public SessionTest {};

TEST_F(ImapReadsTest, PathsListedWithRowsReadTheMessages) {
  std::string m1 = message("one"), m2 = message("two", std::string(70000, 'x') + "\r\n");
  uint32_t u1 = deliver(m1), u2 = deliver(m2);
  std::vector<std::string> paths;
  auto rows = store().messages(kUser, "INBOX", {u2, u1, 99}, &paths);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ((*rows)[0].uid, u1);
  EXPECT_EQ((*rows)[1].uid, u2);
  auto b1 = store().read_message(kUser, "INBOX", store::Store::MessageFile{u1, 0, paths[0]});
  auto b2 = store().read_message(kUser, "INBOX", store::Store::MessageFile{u2, 0, paths[1]});
  ASSERT_TRUE(b1.ok() && b2.ok());
  EXPECT_EQ(*b1, m1);
  EXPECT_EQ(*b2, m2);
  // Without `paths` it is messages() as before.
  auto plain = store().messages(kUser, "INBOX", {u1}, nullptr);
  ASSERT_TRUE(plain.ok());
  ASSERT_EQ(plain->size(), 1u);
  EXPECT_EQ((*plain)[0].size, m1.size());
}

TEST_F(ImapReadsTest, RenamedFileIsLookedUpAgainAndExpungedIsAnError) {
  std::string m1 = message("one");
  uint32_t u1 = deliver(m1);
  std::vector<std::string> paths;
  ASSERT_TRUE(store().messages(kUser, "INBOX", {u1}, &paths).ok());
  ASSERT_EQ(paths.size(), 1u);
  // A flag change moves new/X to cur/X:2,FS: the listed path is gone.
  store::Flags f;
  f.system = store::kFlagged | store::kSeen;
  ASSERT_TRUE(store().store_flags(kUser, "INBOX", {u1}, store::FlagOp::add, f).ok());
  EXPECT_FALSE(std::filesystem::exists(paths[0]));
  auto b = store().read_message(kUser, "INBOX", store::Store::MessageFile{u1, 0, paths[0]});
  ASSERT_TRUE(b.ok()) << b.error().message;
  EXPECT_EQ(*b, m1);
  ASSERT_TRUE(store().expunge(kUser, "INBOX", {u1}).ok());
  auto gone = store().read_message(kUser, "INBOX", store::Store::MessageFile{u1, 0, paths[0]});
  EXPECT_FALSE(gone.ok());
}

TEST_F(ImapReadsTest, PathsOutsideTheMailboxAreRefused) {
  uint32_t mine = deliver(message("mine"));
  auto theirs = store().append("eve@example.test", "INBOX", message("secret"), {}, 1700000000);
  ASSERT_TRUE(theirs.ok());
  ASSERT_TRUE(store().append(kUser, "Sent", message("sent"), {}, 1700000000).ok());
  std::vector<std::string> mp, ep, sp;
  ASSERT_TRUE(store().messages(kUser, "INBOX", {mine}, &mp).ok());
  ASSERT_TRUE(store().messages("eve@example.test", "INBOX", {theirs->uid}, &ep).ok());
  ASSERT_TRUE(store().messages(kUser, "Sent", {1}, &sp).ok());
  ASSERT_EQ(mp.size(), 1u);
  ASSERT_EQ(ep.size(), 1u);
  ASSERT_EQ(sp.size(), 1u);
  std::string dir = mp[0].substr(0, mp[0].rfind("/new/"));
  const std::vector<std::string> bad = {
      ep[0],                                   // another user's message
      sp[0],                                   // another folder of the same user
      dir + "/new/../../" + ep[0].substr(ep[0].find("/mail/") + 6),  // climbing out
      dir + "/tmp/x",                          // not a delivered message
      dir + "/new/",                           // no file name
      dir + "/new/a/b",                        // nested
      "relative/new/x",
  };
  for (const auto& p : bad) {
    auto r = store().read_message(kUser, "INBOX", store::Store::MessageFile{mine, 0, p});
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.error().code, Errc::refused) << p;
  }
  // No path at all: the message is looked up by uid.
  auto by_uid = store().read_message(kUser, "INBOX", store::Store::MessageFile{mine, 0, ""});
  ASSERT_TRUE(by_uid.ok());
  EXPECT_EQ(*by_uid, message("mine"));
}

TEST_F(ImapReadsTest, FetchBodiesThroughTheSession) {
  std::string small = message("small");
  std::string big = message("big", std::string(200000, 'b') + "\r\n");
  deliver(small);
  deliver(big);
  Client c(backend());
  c.login();
  c.send("s SELECT INBOX");
  std::string out = c.send("f1 FETCH 2 BODY.PEEK[]");
  EXPECT_EQ(out, "* 2 FETCH (BODY[] {" + std::to_string(big.size()) + "}\r\n" + big +
                     ")\r\nf1 OK FETCH completed\r\n");
  // Non-PEEK: \Seen is set first (the file moves to cur/), then the bytes are read.
  out = c.send("f2 FETCH 1 BODY[]");
  EXPECT_EQ(out, "* 1 FETCH (BODY[] {" + std::to_string(small.size()) + "}\r\n" + small +
                     " FLAGS (\\Recent \\Seen))\r\nf2 OK FETCH completed\r\n");
  out = c.send("f3 UID FETCH 1:2 (BODY.PEEK[] BINARY.SIZE[])");
  EXPECT_EQ(out, "* 1 FETCH (UID 1 BODY[] {" + std::to_string(small.size()) + "}\r\n" + small +
                     " BINARY.SIZE[] " + std::to_string(small.size()) + ")\r\n" +
                     "* 2 FETCH (UID 2 BODY[] {" + std::to_string(big.size()) + "}\r\n" + big +
                     " BINARY.SIZE[] " + std::to_string(big.size()) + ")\r\nf3 OK UID FETCH completed\r\n");
  out = c.send("f4 FETCH 2 BODY.PEEK[]<199990.100>");
  EXPECT_EQ(out, "* 2 FETCH (BODY[]<199990> {100}\r\n" + big.substr(199990, 100) +
                     ")\r\nf4 OK FETCH completed\r\n");
}

// SessionSettings::stream_threshold: a large FETCH hands its output over in chunks that
// end at message boundaries; chunks + the returned bytes are exactly the unstreamed output.
TEST_F(ImapReadsTest, StreamedFetchIsTheSameBytesInChunks) {
  for (int i = 0; i < 30; ++i) deliver(message("m" + std::to_string(i), std::string(500 + 97 * i, 'a' + i % 26) + "\r\n"));
  const std::string cmd = "f UID FETCH 1:* (FLAGS ENVELOPE BODY.PEEK[])";
  // A first session takes the \\Recent flags, so the two compared below see the same FLAGS.
  Client first(backend());
  first.login();
  first.send("s SELECT INBOX");
  Client whole(backend());
  whole.login();
  whole.send("s SELECT INBOX");
  whole.send(cmd);  // computes and caches the metadata: both runs below read the cache
  std::string expected = whole.send(cmd);
  EXPECT_EQ(backend().stream_chunks, 0);

  SessionSettings st = Client::default_settings();
  st.stream_threshold = 4000;
  Client streaming(backend(), st);
  streaming.login();
  streaming.send("s SELECT INBOX");
  backend().streamed.clear();
  std::string rest = streaming.send(cmd);
  EXPECT_GT(backend().stream_chunks, 3);
  EXPECT_EQ(backend().streamed + rest, expected);
  // Chunks hold whole responses: the tagged answer comes last, in the call's own output.
  EXPECT_FALSE(has(backend().streamed, "f OK"));
  EXPECT_TRUE(has(rest, "f OK UID FETCH completed"));
  ASSERT_FALSE(backend().streamed.empty());
  EXPECT_EQ(backend().streamed.substr(backend().streamed.size() - 2), "\r\n");
  // A small FETCH is not streamed.
  int chunks = backend().stream_chunks;
  EXPECT_TRUE(has(streaming.send("g FETCH 1 FLAGS"), "g OK"));
  EXPECT_EQ(backend().stream_chunks, chunks);
}

}  // namespace
}  // namespace tern::imapd::test
