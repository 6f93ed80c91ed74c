#include "net/line_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tern::net {
namespace {

// Renders the items as a compact transcript: L:text/crlf, L:text/lf, TOO_LONG, B:data, B!:data
std::string drain(LineReader& r) {
  std::string out;
  while (auto item = r.next()) {
    switch (item->kind) {
      case LineReader::Item::Kind::line:
        out += "L:" + item->data + (item->ending == LineReader::Ending::crlf ? "/crlf|" : "/lf|");
        break;
      case LineReader::Item::Kind::too_long:
        out += "TOO_LONG|";
        break;
      case LineReader::Item::Kind::bytes:
        out += (item->last ? "B!:" : "B:") + item->data + "|";
        break;
    }
  }
  return out;
}

struct Vector {
  const char* name;
  size_t max_line;
  std::string input;
  std::string expected_whole;
};

const std::vector<Vector> kVectors = {
    {"crlf lines", 100, "HELO a\r\nMAIL FROM:<x>\r\n", "L:HELO a/crlf|L:MAIL FROM:<x>/crlf|"},
    {"bare lf", 100, "a\nb\r\n", "L:a/lf|L:b/crlf|"},
    {"empty lines", 100, "\r\n\n", "L:/crlf|L:/lf|"},
    {"incomplete tail", 100, "one\r\ntw", "L:one/crlf|"},
    {"cr inside line", 100, "a\rb\r\n", "L:a\rb/crlf|"},
    {"exactly max incl crlf", 6, "abcd\r\nx\r\n", "L:abcd/crlf|L:x/crlf|"},
    {"one over max", 6, "abcde\r\nx\r\n", "TOO_LONG|L:x/crlf|"},
    {"lf-only at max", 5, "abcd\nx\n", "L:abcd/lf|L:x/lf|"},
    {"long without end", 4, "abcdefghij", "TOO_LONG|"},
    {"long then recovers", 4, "abcdefghij\r\nok\r\n", "TOO_LONG|L:ok/crlf|"},
    {"nul byte kept", 100, std::string("a\0b\r\n", 5), std::string("L:a\0b/crlf|", 11)},
};

TEST(LineReader, VectorsWhole) {
  for (const auto& v : kVectors) {
    LineReader r(v.max_line);
    r.feed(v.input);
    EXPECT_EQ(drain(r), v.expected_whole) << v.name;
  }
}

TEST(LineReader, VectorsTrickled) {
  for (const auto& v : kVectors) {
    LineReader r(v.max_line);
    std::string out;
    for (char c : v.input) {
      r.feed(std::string_view(&c, 1));
      out += drain(r);
    }
    EXPECT_EQ(out, v.expected_whole) << v.name;
  }
}

TEST(LineReader, OverlongLineIsNotBuffered) {
  LineReader r(1000);
  EXPECT_EQ(drain(r), "");
  std::string chunk(4096, 'x');
  std::string out;
  for (int i = 0; i < 256; ++i) {  // 1 MiB with no line end
    r.feed(chunk);
    out += drain(r);
    EXPECT_LE(r.buffered(), 1000u);
  }
  r.feed("tail\r\nnext\r\n");
  out += drain(r);
  EXPECT_EQ(out, "TOO_LONG|L:next/crlf|");
}

TEST(LineReader, ByteModeWhole) {
  LineReader r(100);
  r.feed("A1 APPEND x {5}\r\nhello world\r\n");
  auto first = r.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->data, "A1 APPEND x {5}");
  r.expect_bytes(5);
  EXPECT_TRUE(r.in_byte_mode());
  EXPECT_EQ(drain(r), "B!:hello|L: world/crlf|");
  EXPECT_FALSE(r.in_byte_mode());
}

TEST(LineReader, ByteModeTrickledStreamsChunks) {
  LineReader r(100);
  r.expect_bytes(4);
  std::string out;
  for (char c : std::string("a\r\nbC\r\n")) {
    r.feed(std::string_view(&c, 1));
    out += drain(r);
  }
  // The counted bytes may contain line ends; they are not lines.
  EXPECT_EQ(out, "B:a|B:\r|B:\n|B!:b|L:C/crlf|");
}

TEST(LineReader, ByteModeIgnoresMaxLine) {
  LineReader r(4);
  r.expect_bytes(10);
  r.feed("0123456789xy\r\n");
  EXPECT_EQ(drain(r), "B!:0123456789|L:xy/crlf|");
}

TEST(LineReader, ClearDropsBufferedInput) {
  LineReader r(100);
  r.feed("STARTTLS\r\nMAIL FROM:<evil>\r\n");
  auto first = r.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->data, "STARTTLS");
  r.clear();  // RFC 3207 §4.2 injection defence
  EXPECT_EQ(r.buffered(), 0u);
  EXPECT_EQ(drain(r), "");
}

}  // namespace
}  // namespace tern::net
