#include "common/file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace tern {

Result<std::string> read_file(const std::string& path) {
  if (path.empty()) return make_error(Errc::not_found, "no file configured");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return make_error(Errc::not_found, "cannot read " + path + ": " + std::strerror(errno));
  std::string data;
  char buf[8192];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.append(buf, n);
  bool bad = std::ferror(f);
  int saved = errno;
  std::fclose(f);
  if (bad) return make_error(Errc::not_found, "cannot read " + path + ": " + std::strerror(saved));
  return data;
}

}  // namespace tern
