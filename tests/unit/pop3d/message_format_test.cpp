// Multi-line body formatting (byte-stuffing, LF repair, final CRLF), wire_size, TOP
// extraction and the private SASL decoders: vector tables.
#include <gtest/gtest.h>

#include "common/strings.h"
#include "pop3d/message_format.h"
#include "pop3d/pop3d.h"
#include "pop3d/sasl_decode.h"

using namespace tern::pop3d;

namespace {

struct FormatVector {
  std::string message;
  std::string wire;  // what follows the status line, terminator included
  uint64_t size;     // octets before stuffing
};

TEST(Pop3Format, MultilineVectors) {
  const FormatVector vectors[] = {
      {"", ".\r\n", 0},
      {"a\r\n", "a\r\n.\r\n", 3},
      {"a", "a\r\n.\r\n", 3},
      {"a\r", "a\r\n.\r\n", 3},
      {"a\n", "a\r\n.\r\n", 3},
      {"\n", "\r\n.\r\n", 2},
      {".\r\n", "..\r\n.\r\n", 3},
      {".", "..\r\n.\r\n", 3},
      {"x\r\n.\r\n..y\r\n", "x\r\n..\r\n...y\r\n.\r\n", 11},
      {"x\n.y\nz", "x\r\n..y\r\nz\r\n.\r\n", 10},
      {"a.b\r\n", "a.b\r\n.\r\n", 5},
      {"a\rb\r\n", "a\rb\r\n.\r\n", 5},  // a lone CR inside a line is not a line end
  };
  for (const auto& v : vectors) {
    std::string out;
    uint64_t sent = detail::append_multiline(out, v.message);
    EXPECT_EQ(out, v.wire) << "message: " << v.message;
    EXPECT_EQ(sent, v.size) << "message: " << v.message;
    EXPECT_EQ(wire_size(v.message), v.size) << "message: " << v.message;
  }
}

TEST(Pop3Format, TopVectors) {
  struct TopVector {
    std::string message;
    uint64_t lines;
    std::string top;
  };
  const TopVector vectors[] = {
      {"H: 1\r\n\r\nb1\r\nb2\r\n", 0, "H: 1\r\n\r\n"},
      {"H: 1\r\n\r\nb1\r\nb2\r\n", 1, "H: 1\r\n\r\nb1\r\n"},
      {"H: 1\r\n\r\nb1\r\nb2\r\n", 2, "H: 1\r\n\r\nb1\r\nb2\r\n"},
      {"H: 1\r\n\r\nb1\r\nb2\r\n", 50, "H: 1\r\n\r\nb1\r\nb2\r\n"},
      {"H: 1\r\n\r\nb1\r\nb2", 5, "H: 1\r\n\r\nb1\r\nb2"},
      {"H: 1\n\nb1\nb2\n", 1, "H: 1\n\nb1\n"},
      {"H: 1\r\n", 3, "H: 1\r\n"},
      {"H: 1", 3, "H: 1"},
      {"\r\nbody\r\n", 0, "\r\n"},
      {"", 3, ""},
  };
  for (const auto& v : vectors)
    EXPECT_EQ(detail::top_of(v.message, v.lines), v.top) << v.message << " / " << v.lines;
}

TEST(Pop3Format, SaslPlainVectors) {
  using tern::base64_encode;
  auto ok = detail::decode_plain(base64_encode(std::string("zid\0cid\0pw", 10)));
  ASSERT_TRUE(ok.creds);
  EXPECT_EQ(ok.creds->authzid, "zid");
  EXPECT_EQ(ok.creds->authcid, "cid");
  EXPECT_EQ(ok.creds->password, "pw");
  auto no_zid = detail::decode_plain(base64_encode(std::string("\0cid\0p w", 8)));
  ASSERT_TRUE(no_zid.creds);
  EXPECT_EQ(no_zid.creds->authzid, "");
  EXPECT_EQ(no_zid.creds->password, "p w");

  const std::pair<std::string, detail::SaslError> bad[] = {
      {"not base64!", detail::SaslError::bad_base64},
      {"YWJj=", detail::SaslError::bad_base64},
      {"=", detail::SaslError::bad_message},
      {base64_encode("cid"), detail::SaslError::bad_message},
      {base64_encode(std::string("\0cid", 4)), detail::SaslError::bad_message},
      {base64_encode(std::string("\0\0pw", 4)), detail::SaslError::bad_message},
      {base64_encode(std::string("\0cid\0", 5)), detail::SaslError::bad_message},
      {base64_encode(std::string("a\0b\0c\0d", 7)), detail::SaslError::bad_message},
  };
  for (const auto& [text, err] : bad) {
    auto d = detail::decode_plain(text);
    EXPECT_FALSE(d.creds) << text;
    EXPECT_EQ(d.error, err) << text;
  }
  EXPECT_EQ(detail::decode_response("="), std::string());
  EXPECT_EQ(detail::decode_response("YWxpY2U="), std::string("alice"));
  EXPECT_FALSE(detail::decode_response("YWxp Y2U="));
}

}  // namespace
