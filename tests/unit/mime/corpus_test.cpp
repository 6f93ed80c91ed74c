// Runs every message in tests/mime-corpus/ and compares ENVELOPE, BODYSTRUCTURE, BODY and
// selected sections with the hand-derived values in the matching .expected file.
//
// .expected format, one item per line ("#" lines are comments):
//   envelope: <text>        bodystructure: <text>        body: <text>
//   section <spec>: <text>  (BODY[<spec>] bytes)          text <spec>: <decoded search text>
// "<CRLF>" in a value stands for the two bytes CR LF (IMAP literals, section bytes), "<SP>"
// for a space (the spaces HTML tags leave in search text, kept visible at a line's ends).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "mime/mime.h"

using namespace tern::mime;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string unescape(std::string v) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    if (v.compare(i, 6, "<CRLF>") == 0) {
      out += "\r\n";
      i += 6;
    } else if (v.compare(i, 4, "<SP>") == 0) {
      out += ' ';
      i += 4;
    } else {
      out += v[i++];
    }
  }
  return out;
}

TEST(MimeCorpus, AllMessagesMatchExpected) {
  fs::path dir = fs::path(TERN_SOURCE_DIR) / "tests" / "mime-corpus";
  std::vector<fs::path> emls;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".eml") emls.push_back(e.path());
  std::sort(emls.begin(), emls.end());
  ASSERT_GE(emls.size(), 10u);
  for (const auto& eml : emls) {
    SCOPED_TRACE(eml.filename().string());
    fs::path exp_path = eml;
    exp_path.replace_extension(".expected");
    ASSERT_TRUE(fs::exists(exp_path));
    auto m = Message::parse(read_file(eml));
    std::istringstream exp(read_file(exp_path));
    std::string line;
    int checks = 0;
    bool saw_env = false, saw_bs = false;
    while (std::getline(exp, line)) {
      if (line.empty() || line[0] == '#') continue;
      size_t colon = line.find(": ");
      ASSERT_NE(colon, std::string::npos) << line;
      std::string key = line.substr(0, colon);
      std::string want = unescape(line.substr(colon + 2));
      ++checks;
      if (key == "envelope") {
        saw_env = true;
        EXPECT_EQ(m.envelope_imap(), want);
      } else if (key == "bodystructure") {
        saw_bs = true;
        EXPECT_EQ(m.bodystructure_imap(true), want);
      } else if (key == "body") {
        EXPECT_EQ(m.body_imap(), want);
      } else if (key.rfind("section ", 0) == 0) {
        auto got = m.section(key.substr(8));
        ASSERT_TRUE(got.ok()) << key;
        EXPECT_EQ(std::string(*got), want) << key;
      } else if (key.rfind("text ", 0) == 0) {
        const Part* p = m.find_part(key.substr(5));
        ASSERT_NE(p, nullptr) << key;
        EXPECT_EQ(text_for_search(m, *p), want) << key;
      } else {
        ADD_FAILURE() << "unknown key " << key;
      }
    }
    EXPECT_TRUE(saw_env && saw_bs) << "every corpus message needs envelope and bodystructure";
    EXPECT_GE(checks, 2);
  }
}

}  // namespace
