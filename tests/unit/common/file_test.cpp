#include "common/file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace tern {
namespace {

TEST(ReadFile, WholeFileAndErrors) {
  auto dir = std::filesystem::temp_directory_path() / ("tern_read_file_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string bytes(20000, 'x');
  bytes[5] = '\0';
  bytes.back() = '\n';
  {
    std::ofstream out(dir / "f", std::ios::binary);
    out << bytes;
  }
  auto r = read_file((dir / "f").string());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, bytes);

  auto missing = read_file((dir / "missing").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::not_found);
  EXPECT_NE(missing.error().message.find("missing"), std::string::npos);
  EXPECT_FALSE(read_file(dir.string()));  // a directory cannot be read as a file
  EXPECT_FALSE(read_file(""));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tern
