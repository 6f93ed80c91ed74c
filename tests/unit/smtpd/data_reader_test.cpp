// DATA reader vectors: end detection, unstuffing, smuggling, limits; whole and byte by byte.
#include <gtest/gtest.h>

#include "smtpd/data_reader.h"

namespace tern::smtpd {
namespace {

struct ReadOutcome {
  bool done = false;
  size_t consumed = 0;
  std::string body;
  bool bare = false;
  bool too_big = false;
  bool too_long = false;
};

ReadOutcome read(const std::string& input, bool normalize, bool trickle, uint64_t max = 1 << 20,
                 size_t line = 1000) {
  DataReader r(max, line, normalize);
  ReadOutcome o;
  if (trickle) {
    for (size_t i = 0; i < input.size() && !r.done(); ++i)
      o.consumed += r.feed(std::string_view(input).substr(i, 1));
  } else {
    o.consumed = r.feed(input);
  }
  o.done = r.done();
  o.body = r.take_body();
  o.bare = r.saw_bare_newline();
  o.too_big = r.too_big();
  o.too_long = r.line_too_long();
  return o;
}

struct Vector {
  const char* name;
  std::string input;
  bool done;
  size_t consumed;        // when done
  std::string body;       // with normalize=false
  std::string body_norm;  // with normalize=true
  bool bare;
};

const std::vector<Vector>& vectors() {
  static const std::vector<Vector> v = {
      {"empty message", ".\r\n", true, 3, "", "", false},
      {"simple", "a\r\n.\r\n", true, 6, "a\r\n", "a\r\n", false},
      {"trailing pipelined", "a\r\n.\r\nQUIT\r\n", true, 6, "a\r\n", "a\r\n", false},
      {"unstuff", "..a\r\n..\r\n.\r\n", true, 12, ".a\r\n.\r\n", ".a\r\n.\r\n", false},
      {"dot mid-line", "a.b\r\n.\r\n", true, 8, "a.b\r\n", "a.b\r\n", false},
      {"no end yet", "a\r\nb\r\n", false, 0, "a\r\nb\r\n", "a\r\nb\r\n", false},
      {"dot line no crlf", "a\r\n.", false, 0, "a\r\n", "a\r\n", false},
      // SMTP smuggling vectors: none of these end the message.
      {"LF.LF", "a\n.\nb\r\n.\r\n", true, 10, "a\n.\nb\r\n", "a\r\n.\r\nb\r\n", true},
      {"LF.CRLF", "a\n.\r\nb\r\n.\r\n", true, 11, "a\n.\r\nb\r\n", "a\r\n.\r\nb\r\n", true},
      {"CR.CR", "a\r.\rb\r\n.\r\n", true, 10, "a\r.\rb\r\n", "a\r\n.\r\nb\r\n", true},
      {"CRLF.LF", "a\r\n.\nb\r\n.\r\n", true, 11, "a\r\n\nb\r\n", "a\r\n\r\nb\r\n", true},
      {"CRLF.CR", "a\r\n.\rb\r\n.\r\n", true, 11, "a\r\n\rb\r\n", "a\r\n\r\nb\r\n", true},
      {"CR.CRLF", "a\r.\r\nb\r\n.\r\n", true, 11, "a\r.\r\nb\r\n", "a\r\n.\r\nb\r\n", true},
      {"LF.CR", "a\n.\rb\r\n.\r\n", true, 10, "a\n.\rb\r\n", "a\r\n.\r\nb\r\n", true},
      {"bare LF only", "a\nb\r\n.\r\n", true, 8, "a\nb\r\n", "a\r\nb\r\n", true},
      {"bare CR only", "a\rb\r\n.\r\n", true, 8, "a\rb\r\n", "a\r\nb\r\n", true},
      {"CR CR LF", "a\r\r\n.\r\n", true, 7, "a\r\r\n", "a\r\n\r\n", true},
      {"leading LF", "\n.\r\n.\r\n", true, 7, "\n.\r\n", "\r\n.\r\n", true},
  };
  return v;
}

TEST(DataReader, VectorsWholeAndTrickled) {
  for (const auto& v : vectors()) {
    for (bool normalize : {false, true}) {
      for (bool trickle : {false, true}) {
        SCOPED_TRACE(std::string(v.name) + (normalize ? " normalize" : " raw") +
                     (trickle ? " trickled" : " whole"));
        auto o = read(v.input, normalize, trickle);
        EXPECT_EQ(o.done, v.done);
        if (v.done) EXPECT_EQ(o.consumed, v.consumed);
        else EXPECT_EQ(o.consumed, v.input.size());
        EXPECT_EQ(o.body, normalize ? v.body_norm : v.body);
        EXPECT_EQ(o.bare, v.bare);
      }
    }
  }
}

TEST(DataReader, SizeLimitStopsStoring) {
  std::string big(5000, 'x');
  auto o = read(big + "\r\n.\r\n", false, false, 1000, 100000);
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.too_big);
  EXPECT_TRUE(o.body.empty());
  auto fit = read("0123456789\r\n.\r\n", false, false, 12);
  EXPECT_TRUE(fit.done);
  EXPECT_FALSE(fit.too_big);
  auto over = read("0123456789\r\n.\r\n", false, false, 11);
  EXPECT_TRUE(over.too_big);
}

TEST(DataReader, LineLengthLimit) {
  // Limit 10 including CRLF: 8 content bytes fit, 9 do not.
  EXPECT_FALSE(read("12345678\r\n.\r\n", false, false, 1000, 10).too_long);
  EXPECT_TRUE(read("123456789\r\n.\r\n", false, false, 1000, 10).too_long);
  // A stuffed dot counts on the wire.
  EXPECT_TRUE(read("..2345678\r\n.\r\n", false, true, 1000, 10).too_long);
  // Line length resets at each line.
  EXPECT_FALSE(read("12345678\r\n12345678\r\n.\r\n", false, true, 1000, 10).too_long);
}

}  // namespace
}  // namespace tern::smtpd
