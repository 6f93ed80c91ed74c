#include <gtest/gtest.h>

#include <openssl/ssl.h>

#include <fstream>

#include "net/net.h"
#include "net/tls_engine.h"
#include "test_cert.h"

namespace tern::net {
namespace {

using testing::TempDir;
using testing::write_self_signed;

// Shuttles ciphertext between two engines until both handshakes finish or fail.
bool pump_handshake(TlsEngine& client, TlsEngine& server) {
  for (int i = 0; i < 20; ++i) {
    auto c = client.handshake();
    server.feed(client.take_output());
    auto s = server.handshake();
    client.feed(server.take_output());
    if (c == TlsEngine::Step::failed || s == TlsEngine::Step::failed) return false;
    if (client.established() && server.established()) return true;
  }
  return false;
}

TEST(Tls, HandshakeOverMemoryBiosAndDataBothWays) {
  TempDir dir;
  ASSERT_TRUE(write_self_signed(dir.path, "", "localhost"));
  auto server_ctx = TlsContext::server(dir.path + "/cert.pem", dir.path + "/key.pem");
  ASSERT_TRUE(server_ctx) << server_ctx.error().message;
  auto client_ctx = TlsContext::client();
  ASSERT_TRUE(client_ctx);

  SSL_CTX* sc = (*server_ctx)->acquire();
  SSL_CTX* cc = (*client_ctx)->acquire();
  auto server = TlsEngine::create(sc, TlsEngine::Role::server);
  auto client = TlsEngine::create(cc, TlsEngine::Role::client, "localhost");
  SSL_CTX_free(sc);
  SSL_CTX_free(cc);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(pump_handshake(**client, **server)) << (*client)->error() << (*server)->error();
  EXPECT_EQ((*server)->version(), "TLSv1.3");
  EXPECT_FALSE((*server)->cipher().empty());

  ASSERT_TRUE((*client)->write("EHLO there\r\n"));
  (*server)->feed((*client)->take_output());
  std::string got;
  EXPECT_EQ((*server)->read(got), TlsEngine::Step::more);
  EXPECT_EQ(got, "EHLO there\r\n");

  ASSERT_TRUE((*server)->write("250 hi\r\n"));
  (*client)->feed((*server)->take_output());
  got.clear();
  (*client)->read(got);
  EXPECT_EQ(got, "250 hi\r\n");

  (*client)->shutdown();
  (*server)->feed((*client)->take_output());
  got.clear();
  EXPECT_EQ((*server)->read(got), TlsEngine::Step::done);
  EXPECT_TRUE((*server)->peer_closed());
}

TEST(Tls, IdleEngineHoldsNoBioBuffersAfterBigTransfers) {
  TempDir dir;
  ASSERT_TRUE(write_self_signed(dir.path, "", "localhost"));
  auto server_ctx = TlsContext::server(dir.path + "/cert.pem", dir.path + "/key.pem");
  auto client_ctx = TlsContext::client();
  ASSERT_TRUE(server_ctx && client_ctx);
  SSL_CTX* sc = (*server_ctx)->acquire();
  SSL_CTX* cc = (*client_ctx)->acquire();
  auto server = TlsEngine::create(sc, TlsEngine::Role::server);
  auto client = TlsEngine::create(cc, TlsEngine::Role::client, "localhost");
  SSL_CTX_free(sc);
  SSL_CTX_free(cc);
  ASSERT_TRUE(server && client);
  ASSERT_TRUE(pump_handshake(**client, **server));

  // A big response (a FETCH of a large message) and a big upload (an APPEND), each fed as
  // one chunk, then silence: the connection must not keep those buffers.
  std::string big(300 * 1024, 'x');
  for (size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE((*server)->write(big));
  std::string wire = (*server)->take_output();
  EXPECT_GT(wire.size(), big.size());
  EXPECT_EQ((*server)->bio_capacity(), 0u);
  (*client)->feed(wire);
  std::string got;
  EXPECT_EQ((*client)->read(got), TlsEngine::Step::more);
  EXPECT_EQ(got, big);
  EXPECT_EQ((*client)->bio_capacity(), 0u);

  ASSERT_TRUE((*client)->write(big));
  (*server)->feed((*client)->take_output());
  got.clear();
  EXPECT_EQ((*server)->read(got), TlsEngine::Step::more);
  EXPECT_EQ(got, big);
  EXPECT_EQ((*server)->bio_capacity(), 0u);

  // Still a working session afterwards (fresh BIOs are wired into the SSL object).
  ASSERT_TRUE((*server)->write("* OK still here\r\n"));
  (*client)->feed((*server)->take_output());
  got.clear();
  (*client)->read(got);
  EXPECT_EQ(got, "* OK still here\r\n");
  // A record split across two feeds: the partial one stays buffered until completed.
  ASSERT_TRUE((*client)->write("a NOOP\r\n"));
  std::string rec = (*client)->take_output();
  (*server)->feed(rec.substr(0, 5));
  got.clear();
  EXPECT_EQ((*server)->read(got), TlsEngine::Step::more);
  EXPECT_TRUE(got.empty());
  (*server)->feed(rec.substr(5));
  EXPECT_EQ((*server)->read(got), TlsEngine::Step::more);
  EXPECT_EQ(got, "a NOOP\r\n");
}

TEST(Tls, VerifyingClientRejectsSelfSignedAndWrongName) {
  TempDir dir;
  ASSERT_TRUE(write_self_signed(dir.path, "", "localhost"));
  auto server_ctx = TlsContext::server(dir.path + "/cert.pem", dir.path + "/key.pem");
  ASSERT_TRUE(server_ctx);
  // Trusting the certificate itself: the right name passes, a wrong one fails.
  for (auto [name, ok] : {std::pair{"localhost", true}, std::pair{"other.example", false}}) {
    auto client_ctx = TlsContext::client({true, dir.path + "/cert.pem"});
    ASSERT_TRUE(client_ctx) << client_ctx.error().message;
    SSL_CTX* sc = (*server_ctx)->acquire();
    SSL_CTX* cc = (*client_ctx)->acquire();
    auto server = TlsEngine::create(sc, TlsEngine::Role::server);
    auto client = TlsEngine::create(cc, TlsEngine::Role::client, name, true);
    SSL_CTX_free(sc);
    SSL_CTX_free(cc);
    EXPECT_EQ(pump_handshake(**client, **server), ok) << name;
  }
  // Trusting only the system store: a self-signed certificate fails.
  auto strict = TlsContext::client({true, {}});
  ASSERT_TRUE(strict);
  SSL_CTX* sc = (*server_ctx)->acquire();
  SSL_CTX* cc = (*strict)->acquire();
  auto server = TlsEngine::create(sc, TlsEngine::Role::server);
  auto client = TlsEngine::create(cc, TlsEngine::Role::client, "localhost", true);
  SSL_CTX_free(sc);
  SSL_CTX_free(cc);
  EXPECT_FALSE(pump_handshake(**client, **server));
  EXPECT_NE((*client)->error().find("certificate"), std::string::npos) << (*client)->error();
}

TEST(Tls, OpportunisticClientReportsWhetherPeerWouldVerify) {
  TempDir dir;
  ASSERT_TRUE(write_self_signed(dir.path, "", "localhost"));
  auto server_ctx = TlsContext::server(dir.path + "/cert.pem", dir.path + "/key.pem");
  ASSERT_TRUE(server_ctx);
  struct Case {
    std::string ca;
    std::string name;
    bool verified;
  };
  for (const auto& c : {Case{"", "localhost", false},  // system CAs: self-signed is unknown
                        Case{dir.path + "/cert.pem", "localhost", true},
                        Case{dir.path + "/cert.pem", "wrong.example", false}}) {
    auto client_ctx = TlsContext::client({false, c.ca});
    ASSERT_TRUE(client_ctx) << client_ctx.error().message;
    SSL_CTX* sc = (*server_ctx)->acquire();
    SSL_CTX* cc = (*client_ctx)->acquire();
    auto server = TlsEngine::create(sc, TlsEngine::Role::server);
    auto client = TlsEngine::create(cc, TlsEngine::Role::client, c.name);
    SSL_CTX_free(sc);
    SSL_CTX_free(cc);
    ASSERT_TRUE(pump_handshake(**client, **server)) << c.name;  // never enforced
    EXPECT_EQ((*client)->peer_verified(), c.verified) << c.ca << " " << c.name;
  }
}

TEST(Tls, Tls11ClientIsRefused) {
  TempDir dir;
  ASSERT_TRUE(write_self_signed(dir.path, "", "localhost"));
  auto server_ctx = TlsContext::server(dir.path + "/cert.pem", dir.path + "/key.pem");
  ASSERT_TRUE(server_ctx);
  SSL_CTX* old = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_security_level(old, 0);
  SSL_CTX_set_min_proto_version(old, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(old, TLS1_1_VERSION);
  SSL_CTX* sc = (*server_ctx)->acquire();
  auto server = TlsEngine::create(sc, TlsEngine::Role::server);
  auto client = TlsEngine::create(old, TlsEngine::Role::client, "localhost");
  SSL_CTX_free(sc);
  SSL_CTX_free(old);
  EXPECT_FALSE(pump_handshake(**client, **server));
}

TEST(Tls, LoadErrorsNameTheFile) {
  TempDir dir;
  ASSERT_TRUE(write_self_signed(dir.path, "a_", "a.test"));
  ASSERT_TRUE(write_self_signed(dir.path, "b_", "b.test"));
  auto missing = TlsContext::server(dir.path + "/nope.pem", dir.path + "/a_key.pem");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message,
            "cert: cannot read " + dir.path + "/nope.pem: No such file or directory");
  auto missing_key = TlsContext::server(dir.path + "/a_cert.pem", dir.path + "/nokey.pem");
  ASSERT_FALSE(missing_key);
  EXPECT_EQ(missing_key.error().message.rfind("key: cannot read ", 0), 0u);
  auto swapped = TlsContext::server(dir.path + "/a_key.pem", dir.path + "/a_cert.pem");
  ASSERT_FALSE(swapped);
  EXPECT_EQ(swapped.error().message.rfind("cert: ", 0), 0u) << swapped.error().message;
  auto mismatch = TlsContext::server(dir.path + "/a_cert.pem", dir.path + "/b_key.pem");
  ASSERT_FALSE(mismatch);
  EXPECT_NE(mismatch.error().message.find("does not match"), std::string::npos);
}

std::string peer_cn(TlsContext& server_ctx) {
  auto client_ctx = TlsContext::client();
  SSL_CTX* sc = server_ctx.acquire();
  SSL_CTX* cc = (*client_ctx)->acquire();
  auto server = TlsEngine::create(sc, TlsEngine::Role::server);
  auto client = TlsEngine::create(cc, TlsEngine::Role::client, "localhost");
  SSL_CTX_free(sc);
  SSL_CTX_free(cc);
  if (!pump_handshake(**client, **server)) return "handshake failed";
  return (*client)->peer_common_name();
}

TEST(Tls, ReloadSwapsCertificateAndKeepsOldOnFailure) {
  TempDir dir;
  ASSERT_TRUE(write_self_signed(dir.path, "", "first.test"));
  auto ctx = TlsContext::server(dir.path + "/cert.pem", dir.path + "/key.pem");
  ASSERT_TRUE(ctx);
  EXPECT_EQ(peer_cn(**ctx), "first.test");
  ASSERT_TRUE(write_self_signed(dir.path, "", "second.test", 2));
  ASSERT_TRUE((*ctx)->reload());
  EXPECT_EQ(peer_cn(**ctx), "second.test");
  std::ofstream(dir.path + "/key.pem") << "garbage\n";
  auto bad = (*ctx)->reload();
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("key: "), std::string::npos);
  EXPECT_EQ(peer_cn(**ctx), "second.test");
}

}  // namespace
}  // namespace tern::net
