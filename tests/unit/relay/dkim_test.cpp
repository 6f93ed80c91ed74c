// DKIM: canonicalisation vectors (RFC 6376 §3.4.5) and end-to-end verification with dkimpy.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "common/strings.h"
#include "relay/relay.h"

using namespace tern::relay;

TEST(DkimCanon, Rfc6376Example) {
  // RFC 6376 §3.4.5, relaxed header canonicalisation.
  EXPECT_EQ(dkim_relaxed_header("A: X"), "a:X");
  EXPECT_EQ(dkim_relaxed_header("B : Y\t\r\n\tZ  "), "b:Y Z");
  // RFC 6376 §3.4.5, relaxed body canonicalisation.
  EXPECT_EQ(dkim_relaxed_body(" C \r\nD \t E\r\n\r\n\r\n"), " C\r\nD E\r\n");
}

TEST(DkimCanon, HeaderVectors) {
  struct V { const char* in; const char* out; } vectors[] = {
      {"Subject:hello", "subject:hello"},
      {"SUBJECT:   spaced   out   ", "subject:spaced out"},
      {"Subject: folded\r\n  across\r\n\tlines", "subject:folded across lines"},
      {"X-Empty:", "x-empty:"},
      {"X-Empty:   ", "x-empty:"},
      {"To: a@b.test,\r\n c@d.test", "to:a@b.test, c@d.test"},
  };
  for (const auto& v : vectors) EXPECT_EQ(dkim_relaxed_header(v.in), v.out) << v.in;
}

TEST(DkimCanon, BodyVectors) {
  struct V { const char* in; const char* out; } vectors[] = {
      {"", ""},
      {"\r\n", ""},
      {"\r\n\r\n\r\n", ""},
      {"abc", "abc\r\n"},                       // missing final CRLF is added
      {"abc\r\n", "abc\r\n"},
      {"abc\n\ndef\n", "abc\r\n\r\ndef\r\n"},   // LF treated as CRLF; inner empty line kept
      {"a  \t b \t\r\n", "a b\r\n"},
      {"\t lead\r\n", " lead\r\n"},
  };
  for (const auto& v : vectors) EXPECT_EQ(dkim_relaxed_body(v.in), v.out) << v.in;
}

TEST(DkimKeyTest, GenerateLoadAndPublish) {
  for (auto alg : {DkimAlgorithm::rsa_sha256, DkimAlgorithm::ed25519_sha256}) {
    auto pem = generate_dkim_key(alg);
    ASSERT_TRUE(pem.ok());
    EXPECT_NE(pem->find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
    auto key = DkimKey::from_pem(*pem);
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_EQ(key->algorithm(), alg);
    std::string txt = dkim_dns_txt_record(*key);
    if (alg == DkimAlgorithm::ed25519_sha256) {
      EXPECT_EQ(txt.rfind("v=DKIM1; k=ed25519; p=", 0), 0u);
      EXPECT_EQ(key->public_key_base64().size(), 44u);  // 32 raw bytes
    } else {
      EXPECT_EQ(txt.rfind("v=DKIM1; k=rsa; p=MII", 0), 0u);  // DER SubjectPublicKeyInfo
    }
  }
  EXPECT_FALSE(DkimKey::from_pem("not a key").ok());
  EXPECT_FALSE(DkimKey::from_pem("").ok());
  EXPECT_EQ(dkim_dns_name("sel", "example.test"), "sel._domainkey.example.test");
}

namespace {

const char* kMessage =
    "From: Alice <alice@example.test>\r\n"
    "To: bob@remote.test\r\n"
    "Subject: a rather long subject line that goes on and on to make sure folding\r\n"
    " happens in the original too\r\n"
    "Date: Sun, 22 Nov 2026 12:43:52 +0000\r\n"
    "Message-ID: <id1@example.test>\r\n"
    "X-Not-Signed: whatever\r\n"
    "\r\n"
    "Hello Bob,  \r\n"
    "\r\n"
    ".a line with a leading dot\r\n"
    "trailing\t spaces \t \r\n"
    "\r\n"
    "\r\n";

// Verifies `signed_msg` with dkimpy; the DNS function returns `txt`. Returns the exit status
// (0 = verified, 1 = failed, 77 = skipped because python3-nacl is missing for Ed25519).
int dkimpy_verify(const std::string& signed_msg, const std::string& txt, bool ed25519) {
  char dir[] = "/tmp/tern_dkim_XXXXXX";
  if (!mkdtemp(dir)) return -1;
  std::string msg_path = std::string(dir) + "/msg", txt_path = std::string(dir) + "/txt";
  std::ofstream(msg_path, std::ios::binary) << signed_msg;
  std::ofstream(txt_path, std::ios::binary) << txt;
  std::string script =
      "import sys\n"
      "if " + std::string(ed25519 ? "True" : "False") + ":\n"
      "    try:\n"
      "        import nacl\n"
      "    except ImportError:\n"
      "        print('SKIP: python3-nacl not installed, cannot verify ed25519 with dkimpy')\n"
      "        sys.exit(77)\n"
      "import dkim\n"
      "msg = open(sys.argv[1], 'rb').read()\n"
      "txt = open(sys.argv[2], 'rb').read()\n"
      "def dnsfunc(name, timeout=5):\n"
      "    assert name in (b'sel._domainkey.example.test.', 'sel._domainkey.example.test.'), name\n"
      "    return txt\n"
      "ok = dkim.verify(msg, dnsfunc=dnsfunc)\n"
      "print('dkimpy verify:', ok)\n"
      "sys.exit(0 if ok else 1)\n";
  std::string script_path = std::string(dir) + "/verify.py";
  std::ofstream(script_path) << script;
  std::string cmd = "/usr/bin/python3 " + script_path + " " + msg_path + " " + txt_path;
  int status = std::system(cmd.c_str());
  std::remove(msg_path.c_str());
  std::remove(txt_path.c_str());
  std::remove(script_path.c_str());
  rmdir(dir);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string sign_or_die(const std::string& message, const DkimKey& key) {
  DkimSignOptions opts;
  opts.domain = "example.test";
  opts.selector = "sel";
  opts.timestamp = 1700000000;
  auto sig = dkim_sign(message, key, opts);
  EXPECT_TRUE(sig.ok()) << (sig.ok() ? "" : sig.error().message);
  return sig.ok() ? *sig : std::string{};
}

}  // namespace

TEST(DkimSign, HeaderShape) {
  auto key = DkimKey::from_pem(*generate_dkim_key(DkimAlgorithm::rsa_sha256));
  ASSERT_TRUE(key.ok());
  std::string sig = sign_or_die(kMessage, *key);
  EXPECT_EQ(sig.rfind("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.test;", 0), 0u) << sig;
  EXPECT_NE(sig.find("t=1700000000;"), std::string::npos);
  // Present headers only, From over-signed, X-Not-Signed absent.
  std::string unfolded;
  for (char c : sig) if (c != '\r' && c != '\n' && c != '\t') unfolded += c;
  EXPECT_NE(unfolded.find("h=from:to:subject:date:message-id:from;"), std::string::npos) << unfolded;
  EXPECT_EQ(unfolded.find("x-not-signed"), std::string::npos);
  EXPECT_EQ(sig.substr(sig.size() - 2), "\r\n");
  for (auto line : tern::split(sig, '\n')) EXPECT_LE(line.size(), 79u) << line;
  // No From: refused.
  DkimSignOptions opts;
  opts.domain = "example.test";
  opts.selector = "sel";
  EXPECT_FALSE(dkim_sign("To: x@y.test\r\n\r\nbody\r\n", *key, opts).ok());
}

TEST(DkimSign, RsaVerifiesWithDkimpy) {
  auto key = DkimKey::from_pem(*generate_dkim_key(DkimAlgorithm::rsa_sha256));
  ASSERT_TRUE(key.ok());
  std::string sig = sign_or_die(kMessage, *key);
  EXPECT_EQ(dkimpy_verify(sig + kMessage, dkim_dns_txt_record(*key), false), 0) << sig;
  // Tampering is detected: the body changes -> verification fails.
  std::string tampered = sig + kMessage;
  tampered.replace(tampered.find("Hello Bob"), 9, "Hello Eve");
  EXPECT_EQ(dkimpy_verify(tampered, dkim_dns_txt_record(*key), false), 1);
  // An added second From is caught by over-signing.
  EXPECT_EQ(dkimpy_verify(sig + "From: mallory@evil.test\r\n" + kMessage, dkim_dns_txt_record(*key), false), 1);
}

TEST(DkimSign, Ed25519VerifiesWithDkimpy) {
  auto key = DkimKey::from_pem(*generate_dkim_key(DkimAlgorithm::ed25519_sha256));
  ASSERT_TRUE(key.ok());
  std::string sig = sign_or_die(kMessage, *key);
  EXPECT_NE(sig.find("a=ed25519-sha256;"), std::string::npos);
  int rc = dkimpy_verify(sig + kMessage, dkim_dns_txt_record(*key), true);
  if (rc == 77) GTEST_SKIP() << "python3-nacl missing: ed25519 dkimpy check skipped";
  EXPECT_EQ(rc, 0) << sig;
}

TEST(DkimSign, LfOnlyMessageVerifiesAfterCrlfConversion) {
  // The signer treats LF as CRLF, which is how smtp_client transmits the message.
  auto key = DkimKey::from_pem(*generate_dkim_key(DkimAlgorithm::rsa_sha256));
  ASSERT_TRUE(key.ok());
  std::string lf = "From: a@example.test\nTo: b@remote.test\nSubject: lf\n\nline one\nline two\n";
  std::string sig = sign_or_die(lf, *key);
  std::string crlf;
  for (char c : lf) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  EXPECT_EQ(dkimpy_verify(sig + crlf, dkim_dns_txt_record(*key), false), 0);
}
