// COMPRESS=DEFLATE's stream (RFC 4978): raw DEFLATE, a sync flush after each write, checked
// against zlib used as a client would use it.
#include <zlib.h>

#include <vector>

#include <gtest/gtest.h>

#include "net/deflate_stream.h"

namespace tern::net {
namespace {

// The other end: a raw inflater (windowBits -15), as Thunderbird's or K-9's would be.
std::string inflate_raw(z_stream& z, std::string_view in) {
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buf[4096];
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_SYNC_FLUSH);
    EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << rc;
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_BUF_ERROR) break;
  } while (z.avail_out == 0 || z.avail_in > 0);
  return out;
}

std::string deflate_raw(z_stream& z, std::string_view in) {
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  out.resize(out.size() - z.avail_out);
  return out;
}

TEST(DeflateStream, EachWriteIsFlushedSoThePeerReadsItAtOnce) {
  auto s = DeflateStream::create();
  ASSERT_TRUE(s);
  z_stream peer{};
  ASSERT_EQ(inflateInit2(&peer, -15), Z_OK);
  for (std::string line : std::vector<std::string>{"* OK [CAPABILITY IMAP4rev2] ready\r\n", "a1 OK done\r\n",
                           std::string("* 1 FETCH (BODY[] {100000}\r\n") + std::string(100000, 'x') + ")\r\n"}) {
    std::string wire;
    ASSERT_TRUE((*s)->compress(line, wire));
    EXPECT_EQ(inflate_raw(peer, wire), line);  // whole, without waiting for more
  }
  inflateEnd(&peer);
}

TEST(DeflateStream, InflatesInBoundedPiecesAcrossReads) {
  auto s = DeflateStream::create();
  ASSERT_TRUE(s);
  z_stream peer{};
  ASSERT_EQ(deflateInit2(&peer, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string plain = "a2 APPEND INBOX {300000}\r\n" + std::string(300000, 'y') + "\r\n";
  std::string wire = deflate_raw(peer, plain);
  deflateEnd(&peer);
  EXPECT_LT(wire.size(), 2000u);  // a thousandfold
  std::string got;
  size_t largest = 0;
  // Split at an arbitrary point, as TCP may.
  for (std::string_view part : {std::string_view(wire).substr(0, 7), std::string_view(wire).substr(7)}) {
    ASSERT_TRUE((*s)->decompress(part, 65536, [&](std::string_view piece) {
      largest = std::max(largest, piece.size());
      got.append(piece);
      return true;
    }));
  }
  EXPECT_EQ(got, plain);
  EXPECT_LE(largest, 65536u);
}

TEST(DeflateStream, TheSinkMayStopTheFlow) {
  auto s = DeflateStream::create();
  ASSERT_TRUE(s);
  z_stream peer{};
  ASSERT_EQ(deflateInit2(&peer, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string wire = deflate_raw(peer, std::string(1 << 20, 'z'));
  deflateEnd(&peer);
  int pieces = 0;
  ASSERT_TRUE((*s)->decompress(wire, 4096, [&](std::string_view) { return ++pieces < 3; }));
  EXPECT_EQ(pieces, 3);
}

TEST(DeflateStream, GarbageIsAnError) {
  auto s = DeflateStream::create();
  ASSERT_TRUE(s);
  auto st = (*s)->decompress(std::string("\xff\xff\xff\xff garbage", 12), 4096,
                             [](std::string_view) { return true; });
  EXPECT_FALSE(st);
}

}  // namespace
}  // namespace tern::net
