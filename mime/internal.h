// Private helpers shared by the mime/ sources. Not part of the public API.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/mime.h"

namespace tern::mime::detail {

inline bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// One physical line: [start, content_end) without its CR?LF, next = start of the next line.
struct Line {
  size_t start = 0;
  size_t content_end = 0;
  size_t next = 0;
};
Line line_at(std::string_view d, size_t pos);

// Removes CRLF / LF line breaks (RFC 5322 §2.2.3 unfolding) and trims surrounding white space.
std::string unfold(std::string_view raw);
uint64_t count_lines(std::string_view body);

// Structured-field lexer for RFC 2045 tokens, quoted strings and RFC 822 comments.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  void skip_cfws();
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  bool consume(char c);
  std::optional<std::string> token();          // RFC 2045 token
  std::optional<std::string> quoted_string();  // unescaped contents
  std::string rest_until(char stop);           // raw text up to stop (for tolerant values)
  size_t pos() const { return i_; }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

struct ContentType {
  std::string type, subtype;
  std::vector<Param> params;
};
std::optional<ContentType> parse_content_type(std::string_view value);
std::optional<Disposition> parse_disposition(std::string_view value);
std::vector<std::string> parse_languages(std::string_view value);
std::string parse_encoding(std::string_view value);

// Fills content fields of p from p.headers. in_digest: RFC 2046 §5.1.5 default.
void apply_content_headers(Part& p, bool in_digest);

}  // namespace tern::mime::detail
