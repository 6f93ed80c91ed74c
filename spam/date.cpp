// RFC 5322 date-time parsing for the Date rules (see spam/internal.h).
#include <cctype>
#include <ctime>
#include <string>

#include "common/strings.h"
#include "spam/internal.h"

namespace tern::spam {

namespace {

struct Cursor {
  std::string_view s;
  size_t i = 0;
  void skip_space() {
    while (i < s.size()) {
      if (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
        ++i;
      } else if (s[i] == '(') {  // RFC 5322 §3.2.2 comment, e.g. "(UTC)"
        int depth = 0;
        while (i < s.size()) {
          if (s[i] == '(') ++depth;
          if (s[i] == ')' && --depth == 0) break;
          ++i;
        }
        ++i;
      } else {
        break;
      }
    }
  }
  std::optional<int> number(size_t max_digits) {
    skip_space();
    size_t start = i;
    int v = 0;
    while (i < s.size() && i - start < max_digits && std::isdigit(static_cast<unsigned char>(s[i])))
      v = v * 10 + (s[i++] - '0');
    if (i == start) return std::nullopt;
    return v;
  }
  std::string_view word() {
    skip_space();
    size_t start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    return s.substr(start, i - start);
  }
};

int month_of(std::string_view m) {
  static const char* names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int k = 0; k < 12; ++k)
    if (iequals(m, names[k])) return k;
  return -1;
}

}  // namespace

std::optional<int64_t> parse_date(std::string_view text) {
  Cursor c{text};
  c.skip_space();
  // Optional day name.
  if (c.i < text.size() && std::isalpha(static_cast<unsigned char>(text[c.i]))) c.word();
  auto day = c.number(2);
  int month = month_of(c.word());
  auto year = c.number(4);
  auto hour = c.number(2);
  if (!day || month < 0 || !year || !hour || c.i >= text.size() || text[c.i] != ':')
    return std::nullopt;
  ++c.i;
  auto minute = c.number(2);
  if (!minute) return std::nullopt;
  int second = 0;
  if (c.i < text.size() && text[c.i] == ':') {
    ++c.i;
    auto sec = c.number(2);
    if (!sec) return std::nullopt;
    second = *sec;
  }
  int y = *year;
  if (y < 50) y += 2000;         // RFC 5322 §4.3: two-digit years
  else if (y < 1000) y += 1900;
  c.skip_space();
  int offset = 0;  // seconds east of UTC
  if (c.i < text.size() && (text[c.i] == '+' || text[c.i] == '-')) {
    int sign = text[c.i] == '-' ? -1 : 1;
    ++c.i;
    auto z = c.number(4);
    if (!z) return std::nullopt;
    offset = sign * ((*z / 100) * 3600 + (*z % 100) * 60);
  } else {
    std::string_view zone = c.word();
    struct Named {
      const char* name;
      int hours;
    };
    static const Named zones[] = {{"ut", 0},   {"gmt", 0},  {"utc", 0},  {"z", 0},
                                  {"est", -5}, {"edt", -4}, {"cst", -6}, {"cdt", -5},
                                  {"mst", -7}, {"mdt", -6}, {"pst", -8}, {"pdt", -7}};
    for (const auto& z : zones)
      if (iequals(zone, z.name)) offset = z.hours * 3600;
  }
  if (*day < 1 || *day > 31 || *hour > 23 || *minute > 59 || second > 60) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = month;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(::timegm(&tm)) - offset;
}

}  // namespace tern::spam
