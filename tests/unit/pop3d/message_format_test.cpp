// Multi-line body formatting (byte-stuffing, LF repair, final CRLF), wire_size, TOP
// extraction and the private SASL decoders: vector tables.
#include <gtest/gtest.h>

#include "common/codec.h"
#include "common/strings.h"
#include "pop3d/message_format.h"
#include "pop3d/pop3d.h"

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

// The byte-at-a-time formatter the run-copying append_multiline replaced, kept as the oracle:
// RFC 1939 §3 stuffing, bare LF -> CRLF, a final CRLF if missing, then ".\r\n".
std::string reference_multiline(std::string_view m, uint64_t& sent) {
  std::string out;
  sent = 0;
  bool at_line_start = true;
  for (size_t i = 0; i < m.size(); ++i) {
    if (at_line_start && m[i] == '.') out.push_back('.');
    at_line_start = false;
    if (m[i] == '\n') {
      if (i == 0 || m[i - 1] != '\r') {
        out.push_back('\r');
        ++sent;
      }
      at_line_start = true;
    }
    out.push_back(m[i]);
    ++sent;
  }
  if (!m.empty() && !at_line_start) {
    if (m.back() != '\r') {
      out.push_back('\r');
      ++sent;
    }
    out.push_back('\n');
    ++sent;
  }
  out.append(".\r\n");
  return out;
}

TEST(Pop3Format, StuffingEdgeVectors) {
  // Runs broken by stuffing and repair next to each other, at the start and at the end.
  const FormatVector vectors[] = {
      {"..\r\n", "...\r\n.\r\n", 4},
      {".\r\n.\r\n.\r\n", "..\r\n..\r\n..\r\n.\r\n", 9},
      {"\n.", "\r\n..\r\n.\r\n", 5},
      {"\n\n", "\r\n\r\n.\r\n", 4},
      {"\r\n\n", "\r\n\r\n.\r\n", 4},
      {"\r\r\n", "\r\r\n.\r\n", 3},
      {"\r", "\r\n.\r\n", 2},
      {"a\r\n.", "a\r\n..\r\n.\r\n", 6},
      {"a\n.\n.\n", "a\r\n..\r\n..\r\n.\r\n", 9},
      {"a\r\nb.\r\n.c", "a\r\nb.\r\n..c\r\n.\r\n", 11},
      {"\r\n.\r\n", "\r\n..\r\n.\r\n", 5},
  };
  for (const auto& v : vectors) {
    std::string out = "+OK\r\n";  // appends after what is already there
    uint64_t sent = detail::append_multiline(out, v.message);
    EXPECT_EQ(out, "+OK\r\n" + v.wire) << "message: " << v.message;
    EXPECT_EQ(sent, v.size) << "message: " << v.message;
    EXPECT_EQ(wire_size(v.message), v.size) << "message: " << v.message;
  }
}

TEST(Pop3Format, MatchesByteAtATimeOracle) {
  // Every message over {a . CR LF} up to 7 bytes (21,845 of them), then long random ones:
  // the same bytes and the same size as the oracle, and wire_size agrees.
  const char alphabet[] = {'a', '.', '\r', '\n'};
  for (size_t len = 0; len <= 7; ++len) {
    size_t total = 1;
    for (size_t i = 0; i < len; ++i) total *= 4;
    for (size_t code = 0; code < total; ++code) {
      std::string m;
      for (size_t i = 0, c = code; i < len; ++i, c /= 4) m.push_back(alphabet[c % 4]);
      uint64_t want_sent = 0;
      std::string want = reference_multiline(m, want_sent);
      std::string got;
      ASSERT_EQ(detail::append_multiline(got, m), want_sent) << testing::PrintToString(m);
      ASSERT_EQ(got, want) << testing::PrintToString(m);
      ASSERT_EQ(wire_size(m), want_sent) << testing::PrintToString(m);
    }
  }
  uint32_t seed = 12345;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int round = 0; round < 50; ++round) {
    std::string m;
    size_t len = 1000 + next() * 4;  // up to ~130 KB: many runs per message
    while (m.size() < len) {
      unsigned r = next() % 100;
      m.push_back(r < 3 ? '.' : r < 6 ? '\n' : r < 9 ? '\r' : static_cast<char>('a' + r % 26));
    }
    uint64_t want_sent = 0;
    std::string want = reference_multiline(m, want_sent);
    std::string got;
    ASSERT_EQ(detail::append_multiline(got, m), want_sent) << "round " << round;
    ASSERT_EQ(got, want) << "round " << round;
    ASSERT_EQ(wire_size(m), want_sent) << "round " << round;
  }
}

// to_wire_body(buf) must leave exactly what append_multiline appends, whatever the buffer
// held before (in place, reusing capacity), and return the same size.
void expect_wire_body(const std::string& m, const std::string& label) {
  std::string want;
  const uint64_t want_sent = detail::append_multiline(want, m);
  std::string fresh = m;
  ASSERT_EQ(to_wire_body(fresh), want_sent) << label;
  ASSERT_EQ(fresh, want) << label;
  std::string reused(m.size() * 2 + 64, 'x');  // capacity and stale bytes from an earlier use
  reused.assign(m);
  ASSERT_EQ(to_wire_body(reused), want_sent) << label;
  ASSERT_EQ(reused, want) << label;
  std::string headroom = "0123456789" + m;  // bytes in front are left alone
  ASSERT_EQ(to_wire_body(headroom, 10), want_sent) << label;
  ASSERT_EQ(headroom, "0123456789" + want) << label;
}

TEST(Pop3Format, WireBodyInPlaceMatchesAppendMultiline) {
  const char alphabet[] = {'a', '.', '\r', '\n'};
  for (size_t len = 0; len <= 7; ++len) {
    size_t total = 1;
    for (size_t i = 0; i < len; ++i) total *= 4;
    for (size_t code = 0; code < total; ++code) {
      std::string m;
      for (size_t i = 0, c = code; i < len; ++i, c /= 4) m.push_back(alphabet[c % 4]);
      expect_wire_body(m, testing::PrintToString(m));
    }
  }
  uint32_t seed = 777;
  auto next = [&seed] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int round = 0; round < 50; ++round) {
    std::string m;
    size_t len = 1000 + next() * 4;
    const unsigned dots = round % 2 ? 3 : 0;  // half of them CRLF-only: nothing moves
    while (m.size() < len) {
      unsigned r = next() % 100;
      if (r < dots) m += ".";
      else if (r < 8) m += "\r\n";
      else if (r < 9 && round % 3 == 0) m += "\n";  // some with bare LFs
      else m.push_back(static_cast<char>('a' + r % 26));
    }
    expect_wire_body(m, "round " + std::to_string(round));
  }
}

TEST(Pop3Format, TopFromWireBodyMatchesTopFromStoredBytes) {
  // TOP cut from a wire body (terminator removed, ".\r\n" put back) is what TOP of the
  // stored bytes sends, for every message over {a . CR LF} up to 7 bytes and 0-3 lines.
  const char alphabet[] = {'a', '.', '\r', '\n'};
  for (size_t len = 0; len <= 7; ++len) {
    size_t total = 1;
    for (size_t i = 0; i < len; ++i) total *= 4;
    for (size_t code = 0; code < total; ++code) {
      std::string m;
      for (size_t i = 0, c = code; i < len; ++i, c /= 4) m.push_back(alphabet[c % 4]);
      std::string wire = m;
      to_wire_body(wire);
      std::string_view body(wire);
      body.remove_suffix(3);
      for (uint64_t lines = 0; lines <= 3; ++lines) {
        std::string want;
        detail::append_multiline(want, detail::top_of(m, lines));
        std::string got(detail::top_of(body, lines));
        got += ".\r\n";
        ASSERT_EQ(got, want) << testing::PrintToString(m) << " lines " << lines;
      }
    }
  }
}

TEST(Pop3Format, DotLinesAcrossBufferSizedBoundaries) {
  // A CRLF message with dot lines at the first line starts from 4 KiB / 64 KiB on (read and
  // socket buffer sizes; two in a row at 64 KiB): every one stuffed, nothing else changed.
  std::string m;
  std::string want;
  const size_t marks[] = {4096, 65536, 65537, 131072};
  size_t next_mark = 0;
  while (m.size() < 140000) {
    bool dot = next_mark < 4 && m.size() >= marks[next_mark];
    std::string line = dot ? ".dot\r\n" : "abcdefghij\r\n";
    if (dot) ++next_mark;
    m += line;
    want += dot ? "." + line : line;
  }
  want += ".\r\n";
  std::string got;
  EXPECT_EQ(detail::append_multiline(got, m), m.size());
  EXPECT_EQ(got, want);
  EXPECT_EQ(wire_size(m), m.size());
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

}  // namespace
