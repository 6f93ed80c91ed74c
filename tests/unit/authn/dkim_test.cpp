// DKIM verification: RFC 8463 Appendix A (Ed25519 and RSA), messages signed by dkimpy
// (tests/unit/authn/data/make_dkim_fixtures.py), tampering, key restrictions, streaming.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "authn/dkim.h"

#include <openssl/evp.h>

using namespace tern::authn;

namespace {

std::string data_file(const std::string& name) {
  std::ifstream in(std::string(TERN_SOURCE_DIR) + "/tests/unit/authn/data/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// RFC 8463 Appendix A.2/A.3 key records.
const char* kRfc8463Zone = R"(
brisbane._domainkey.football.example.com TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
test._domainkey.football.example.com TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
)";

constexpr int64_t kNow = 1800000000;  // after every fixture's t=

// Feeds `message` in chunks of `chunk` bytes (0: whole), starting the key lookups the moment
// the verifier says the header block is complete, like the SMTP glue will.
std::vector<DkimVerdict> verify(const std::string& message, FakeResolver& r, size_t chunk = 0,
                                int64_t now = kNow, std::shared_ptr<DkimKeyCache> keys = nullptr) {
  auto v = std::make_shared<DkimVerifier>(DkimOptions{now, 1024 * 1024, std::move(keys)});
  bool keys_done = false;
  int header_signals = 0;
  auto start = [&] {
    ++header_signals;
    drive(r, v, [&] { keys_done = true; });
  };
  if (chunk == 0) chunk = message.size() ? message.size() : 1;
  for (size_t i = 0; i < message.size(); i += chunk) {
    if (v->feed(std::string_view(message).substr(i, chunk))) start();
  }
  if (v->end_of_message()) start();
  EXPECT_EQ(header_signals, 1);
  EXPECT_TRUE(keys_done);
  return v->results();
}

std::vector<DkimVerdict> verify_fixture(const std::string& name, size_t chunk = 0,
                                        std::shared_ptr<DkimKeyCache> keys = nullptr) {
  FakeResolver r(data_file("dkim.zone"));
  return verify(data_file("dkimpy-" + name + ".eml"), r, chunk, kNow, std::move(keys));
}

DkimResult single(const std::string& name) {
  auto res = verify_fixture(name);
  EXPECT_EQ(res.size(), 1u) << name;
  return res.empty() ? DkimResult::none : res[0].result;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  if (pos != std::string::npos) s.replace(pos, from.size(), to);
  return s;
}

}  // namespace

TEST(DkimRfc8463, AppendixASignaturesVerify) {
  std::string msg = data_file("rfc8463.eml");
  ASSERT_FALSE(msg.empty());
  for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}, size_t{64}}) {
    FakeResolver r(kRfc8463Zone);
    auto res = verify(msg, r, chunk, 1528637909);
    ASSERT_EQ(res.size(), 2u);
    EXPECT_EQ(res[0].result, DkimResult::pass) << res[0].reason << " chunk " << chunk;
    EXPECT_EQ(res[0].algorithm, "ed25519-sha256");
    EXPECT_EQ(res[0].selector, "brisbane");
    EXPECT_EQ(res[0].domain, "football.example.com");
    EXPECT_EQ(res[0].b_prefix, "/gCrinpc");
    EXPECT_EQ(res[1].result, DkimResult::pass) << res[1].reason << " chunk " << chunk;
    EXPECT_EQ(res[1].algorithm, "rsa-sha256");
  }
}

TEST(DkimRfc8463, TamperedBodyFailsBothSignatures) {
  FakeResolver r(kRfc8463Zone);
  auto res = verify(replace(data_file("rfc8463.eml"), "hungry", "Hungry"), r);
  ASSERT_EQ(res.size(), 2u);
  for (const auto& v : res) {
    EXPECT_EQ(v.result, DkimResult::fail);
    EXPECT_EQ(v.reason, "body hash did not verify");
  }
}

TEST(DkimDkimpy, PassingSignatures) {
  for (const char* name : {"rsa-relaxed", "rsa-simple", "rsa-relaxed-simple", "rsa-length", "ed25519", "strict-exact"}) {
    for (size_t chunk : {size_t{0}, size_t{1}, size_t{13}}) {
      auto res = verify_fixture(name, chunk);
      ASSERT_EQ(res.size(), 1u) << name;
      EXPECT_EQ(res[0].result, DkimResult::pass) << name << ": " << res[0].reason << " chunk " << chunk;
      EXPECT_EQ(res[0].domain, "sender.example");
      EXPECT_FALSE(res[0].testing);
    }
  }
  auto testing = verify_fixture("testing");
  ASSERT_EQ(testing.size(), 1u);
  EXPECT_EQ(testing[0].result, DkimResult::pass);
  EXPECT_TRUE(testing[0].testing);
}

TEST(DkimDkimpy, TwoSignaturesEachVerified) {
  auto res = verify_fixture("two");
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0].algorithm, "ed25519-sha256");
  EXPECT_EQ(res[1].algorithm, "rsa-sha256");
  EXPECT_EQ(res[0].result, DkimResult::pass) << res[0].reason;
  EXPECT_EQ(res[1].result, DkimResult::pass) << res[1].reason;
}

TEST(DkimDkimpy, RefusedByPolicyOrKey) {
  // RFC 8301 §3.1 and §3.2.
  EXPECT_EQ(single("rsa-sha1"), DkimResult::policy);
  EXPECT_EQ(single("short-key"), DkimResult::policy);
  // RFC 6376 §3.6.1: t=s forbids an i= in a subdomain; h=sha1 forbids sha256; empty p= is revoked.
  EXPECT_EQ(single("strict-subdomain"), DkimResult::permerror);
  EXPECT_EQ(single("sha1only"), DkimResult::permerror);
  EXPECT_EQ(single("revoked"), DkimResult::fail);
  EXPECT_EQ(single("nokey"), DkimResult::permerror);
}

// ternd shares one decoded-key cache between all connections: a key decoded for one message
// must give every later message the verdict it would get on its own (a short key is still
// refused, a revoked or mismatched key still fails, tampering still shows).
TEST(DkimKeyCacheUse, SharedCacheGivesTheVerdictsOfAFreshVerifier) {
  auto keys = std::make_shared<DkimKeyCache>();
  const char* names[] = {"rsa-relaxed", "rsa-simple", "ed25519", "two", "short-key", "revoked",
                         "strict-subdomain", "sha1only", "rsa-sha1", "testing"};
  for (int round = 0; round < 2; ++round) {
    for (const char* name : names) {
      auto alone = verify_fixture(name);
      auto shared = verify_fixture(name, 0, keys);
      ASSERT_EQ(alone.size(), shared.size()) << name;
      for (size_t i = 0; i < alone.size(); ++i) {
        EXPECT_EQ(alone[i].result, shared[i].result) << name << " round " << round << ": " << shared[i].reason;
        EXPECT_EQ(alone[i].reason, shared[i].reason) << name;
      }
    }
  }
  EXPECT_GE(keys->size(), 2u);  // at least the RSA and the Ed25519 key were kept
  FakeResolver r(data_file("dkim.zone"));
  auto tampered = verify(replace(data_file("dkimpy-rsa-relaxed.eml"), "Subject: ", "Subject: Re: "), r, 0,
                         kNow, keys);
  ASSERT_EQ(tampered.size(), 1u);
  EXPECT_EQ(tampered[0].result, DkimResult::fail);
}

TEST(DkimKeyCacheUse, BoundedLeastRecentlyUsedFirstAndFailuresNotKept) {
  DkimKeyCache cache(2);
  int decoded = 0;
  auto decoder = [&](std::string_view) {
    ++decoded;
    return adopt_public_key(EVP_PKEY_new());
  };
  auto a = cache.get("rsa", "A", decoder);
  ASSERT_TRUE(a);
  EXPECT_EQ(cache.get("rsa", "A", decoder), a);  // a hit: the same key, no decoding
  EXPECT_EQ(decoded, 1);
  EXPECT_NE(cache.get("ed25519", "A", decoder), a);  // the key type is part of the identity
  EXPECT_EQ(decoded, 2);
  cache.get("rsa", "A", decoder);  // A is now the most recent; ed25519/A the oldest
  cache.get("rsa", "B", decoder);  // evicts ed25519/A
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(decoded, 3);
  cache.get("rsa", "A", decoder);
  EXPECT_EQ(decoded, 3);
  cache.get("ed25519", "A", decoder);
  EXPECT_EQ(decoded, 4);
  int failed = 0;
  auto failing = [&](std::string_view) {
    ++failed;
    return DkimKeyCache::PublicKey();
  };
  EXPECT_FALSE(cache.get("rsa", "bad", failing));
  EXPECT_FALSE(cache.get("rsa", "bad", failing));
  EXPECT_EQ(failed, 2);  // a key that did not decode is tried again, not remembered
  EXPECT_EQ(cache.size(), 2u);
}

TEST(DkimDkimpy, TamperingIsDetected) {
  FakeResolver r(data_file("dkim.zone"));
  std::string relaxed = data_file("dkimpy-rsa-relaxed.eml");
  std::string simple = data_file("dkimpy-rsa-simple.eml");
  // Altered body.
  auto body = verify(replace(relaxed, "noon", "nine"), r);
  EXPECT_EQ(body[0].result, DkimResult::fail);
  EXPECT_EQ(body[0].reason, "body hash did not verify");
  // Altered signed header.
  auto header = verify(replace(relaxed, "Subject:   Lunch", "Subject:   Brunch"), r);
  EXPECT_EQ(header[0].result, DkimResult::fail);
  EXPECT_EQ(header[0].reason, "signature did not verify");
  // A second From added above the signed one: over-signed From breaks the signature.
  auto from = verify(replace(relaxed, "From: Alice", "From: Mallory <m@evil.example>\r\nFrom: Alice"), r);
  EXPECT_EQ(from[0].result, DkimResult::fail);
  // Whitespace changes: relaxed survives them, simple does not.
  EXPECT_EQ(verify(replace(relaxed, "Subject:   Lunch", "Subject: Lunch"), r)[0].result, DkimResult::pass);
  EXPECT_EQ(verify(replace(relaxed, "meet  at", "meet at"), r)[0].result, DkimResult::pass);
  EXPECT_EQ(verify(replace(simple, "meet  at", "meet at"), r)[0].result, DkimResult::fail);
  // Unsigned header fields may be added freely; trailing empty lines do not matter.
  EXPECT_EQ(verify("Received: by x\r\n" + simple + "\r\n\r\n", r)[0].result, DkimResult::pass);
  // l=: text appended after the signed length still verifies; inside it does not.
  std::string with_l = data_file("dkimpy-rsa-length.eml");
  EXPECT_EQ(verify(with_l + "appended by a list\r\n", r)[0].result, DkimResult::pass);
  EXPECT_EQ(verify(replace(with_l, "Shall", "Shalt"), r)[0].result, DkimResult::fail);
}

TEST(DkimVerify, LineEndingsMayBeBareLf) {
  FakeResolver r(data_file("dkim.zone"));
  std::string msg = data_file("dkimpy-rsa-relaxed.eml");
  std::string lf;
  for (size_t i = 0; i < msg.size(); ++i) {
    if (msg[i] == '\r' && i + 1 < msg.size() && msg[i + 1] == '\n') continue;
    lf += msg[i];
  }
  EXPECT_EQ(verify(lf, r)[0].result, DkimResult::pass);
}

TEST(DkimVerify, KeyLookupFailures) {
  FakeResolver r;
  r.fail("rsa._domainkey.sender.example");
  auto res = verify(data_file("dkimpy-rsa-relaxed.eml"), r);
  EXPECT_EQ(res[0].result, DkimResult::temperror);
  FakeResolver bad("rsa._domainkey.sender.example TXT v=DKIM1; k=rsa; p=!!!");
  EXPECT_EQ(verify(data_file("dkimpy-rsa-relaxed.eml"), bad)[0].result, DkimResult::permerror);
  FakeResolver wrong_type("rsa._domainkey.sender.example TXT v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  EXPECT_EQ(verify(data_file("dkimpy-rsa-relaxed.eml"), wrong_type)[0].result, DkimResult::permerror);
}

TEST(DkimVerify, ExpiryIsCheckedBeforeCrypto) {
  FakeResolver r(data_file("dkim.zone"));
  std::string msg = data_file("dkimpy-rsa-relaxed.eml");
  // x= after the fixture's t= (2026), "now" in 2096.
  auto expired = verify(replace(msg, "q=dns/txt;", "q=dns/txt; x=3999999999;"), r, 0, 4000000000);
  EXPECT_EQ(expired[0].result, DkimResult::fail);
  EXPECT_EQ(expired[0].reason, "signature expired");
  // x= before t= is malformed (RFC 6376 §3.5).
  auto before = verify(replace(msg, "q=dns/txt;", "q=dns/txt; x=1;"), r);
  EXPECT_EQ(before[0].reason, "x= before t=");
  // Not yet expired: x= is after now; the signature still fails only because x= was added.
  auto later = verify(replace(msg, "q=dns/txt;", "q=dns/txt; x=3999999999;"), r);
  EXPECT_EQ(later[0].reason, "signature did not verify");
  EXPECT_EQ(before[0].result, DkimResult::permerror);
}

TEST(DkimVerify, UnsignedAndHeaderOnlyMessages) {
  FakeResolver r;
  EXPECT_TRUE(verify("From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n", r).empty());
  EXPECT_TRUE(verify("From: a@b.example\r\n", r).empty());  // no body at all
  EXPECT_TRUE(verify("", r).empty());
  EXPECT_TRUE(r.asked().empty());
}

TEST(DkimVerify, KeyQuestionsAppearWhenHeadersComplete) {
  std::string msg = data_file("dkimpy-two.eml");
  DkimVerifier v(DkimOptions{kNow});
  size_t header_len = msg.find("\r\n\r\n") + 4;
  EXPECT_FALSE(v.feed(std::string_view(msg).substr(0, header_len - 1)));
  EXPECT_TRUE(v.questions().empty());
  EXPECT_FALSE(v.done());
  EXPECT_TRUE(v.feed(std::string_view(msg).substr(header_len - 1, 1)));
  auto q = v.questions();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].name, "ed._domainkey.sender.example");
  EXPECT_EQ(q[1].name, "rsa._domainkey.sender.example");
  EXPECT_EQ(q[0].type, RrType::txt);
  EXPECT_FALSE(v.feed(std::string_view(msg).substr(header_len)));
  EXPECT_EQ(v.header_fields().size(), 7u);
}

TEST(DkimVerify, TooManySignaturesAreCapped) {
  std::string msg = data_file("dkimpy-rsa-relaxed.eml");
  std::string sig = msg.substr(0, msg.find("From: Alice"));
  std::string many;
  for (int i = 0; i < 12; ++i) many += sig;
  FakeResolver r(data_file("dkim.zone"));
  auto res = verify(many + msg, r);
  EXPECT_EQ(res.size(), DkimVerifier::kMaxSignatures);
}

TEST(DkimSignatureParser, GoodAndBad) {
  const char* base = "v=1; a=rsa-sha256; d=example.com; s=sel; h=from:to; bh=YWJj; b=ZGVm";
  auto good = parse_dkim_signature(base);
  ASSERT_TRUE(good.ok()) << good.error().message;
  EXPECT_EQ(good->header_canon, tern::mime::DkimCanon::simple);
  EXPECT_EQ(good->body_canon, tern::mime::DkimCanon::simple);
  EXPECT_EQ(good->identity, "@example.com");
  EXPECT_EQ(good->headers, (std::vector<std::string>{"from", "to"}));
  auto folded = parse_dkim_signature(" v=1;\r\n\ta=ed25519-sha256; c=relaxed; d=Example.COM;\r\n s=sel; h=From :\r\n To; i=joe@sub.example.com;"
                                     " l=10; t=5; x=6; q=dns/txt; z=From:x; bh=YW\r\n Jj; b=ZG Vm;");
  ASSERT_TRUE(folded.ok()) << folded.error().message;
  EXPECT_EQ(folded->alg, DkimAlgorithmId::ed25519_sha256);
  EXPECT_EQ(folded->header_canon, tern::mime::DkimCanon::relaxed);
  EXPECT_EQ(folded->body_canon, tern::mime::DkimCanon::simple);
  EXPECT_EQ(folded->domain, "example.com");
  EXPECT_EQ(folded->bh, "YWJj");
  EXPECT_EQ(folded->b, "ZGVm");
  EXPECT_EQ(*folded->length, 10u);
  std::vector<std::string> bad = {
      "",
      "v=2; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm",
      "a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm",           // no v
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=to; bh=YWJj; b=ZGVm",         // From unsigned
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj",               // no b
      "v=1; a=rsa-sha256; d=example.com; h=from; bh=YWJj; b=ZGVm",              // no s
      "v=1; v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm",  // duplicate
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm; i=a@other.com",
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm; c=fancy",
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm; l=x",
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm; q=http",
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm; t=10; x=9",
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm;; ",
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm; 1x=2",
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=YWJj; b=ZGVm; junk",
      "v=1; a=rsa-sha256; d=exa\x01mple.com; s=sel; h=from; bh=YWJj; b=ZGVm",
      "v=1; a=rsa-sha256; d=example.com; s=sel; h=from::to; bh=YWJj; b=ZGVm",
  };
  for (const auto& b : bad) EXPECT_FALSE(parse_dkim_signature(b).ok()) << b;
}

TEST(DkimKeyParser, Records) {
  auto k = parse_dkim_key("v=DKIM1; k=ed25519; t=y:s; h=sha256; s=email; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->key_type, "ed25519");
  EXPECT_TRUE(k->testing());
  EXPECT_TRUE(k->strict());
  EXPECT_EQ(k->public_key.size(), 32u);
  auto revoked = parse_dkim_key("v=DKIM1; p=");
  ASSERT_TRUE(revoked.ok());
  EXPECT_TRUE(revoked->public_key.empty());
  EXPECT_EQ(revoked->key_type, "rsa");
  EXPECT_FALSE(parse_dkim_key("k=rsa; v=DKIM1; p=YWJj").ok());  // v= not first
  EXPECT_FALSE(parse_dkim_key("v=DKIM2; p=YWJj").ok());
  EXPECT_FALSE(parse_dkim_key("v=DKIM1; k=rsa").ok());          // no p=
  EXPECT_FALSE(parse_dkim_key("v=DKIM1; p=not base64!").ok());
}

TEST(DkimHeaderHash, BIsBlankedAndInstancesChosenBottomUp) {
  std::vector<std::string> fields = {
      "DKIM-Signature: v=1; b=AAAA\r\n BBBB; bh=x; h=from:subject:subject",
      "Subject: first",
      "From: a@b.example",
      "Subject: second",
  };
  auto sig = parse_dkim_signature("v=1; a=rsa-sha256; d=b.example; s=s; h=from:subject:subject:subject; bh=eA==; b=QUFBQQ==");
  ASSERT_TRUE(sig.ok());
  sig->header_canon = tern::mime::DkimCanon::relaxed;
  EXPECT_EQ(dkim_header_hash_input(fields, 0, *sig),
            "from:a@b.example\r\nsubject:second\r\nsubject:first\r\n"
            "dkim-signature:v=1; b=; bh=x; h=from:subject:subject");
}
