// RFC 5322 §3.4 address lists (with the §4.4 obsolete forms we meet in practice: routes,
// missing commas, comments used as names) for the IMAP ENVELOPE.
#include <cstring>

#include "common/strings.h"
#include "mime/internal.h"

namespace tern::mime {
namespace {

enum class Kind { atom, quoted, special, literal, comment };

struct Tok {
  Kind kind;
  std::string text;  // atom text, unescaped quoted content, special char, [literal], comment
  std::string raw;   // quoted: with quotes and escapes as written
  bool ws_before = false;
};

bool is_special(char c) { return c != '\0' && std::strchr("()<>[]:;@\\,.\"", c) != nullptr; }

std::vector<Tok> tokenize(std::string_view s) {
  std::vector<Tok> out;
  size_t i = 0;
  bool ws = false;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ws = true;
      ++i;
      continue;
    }
    Tok t{Kind::atom, "", "", ws};
    ws = false;
    if (c == '"') {
      size_t b = i++;
      t.kind = Kind::quoted;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        if (s[i] != '\r' && s[i] != '\n') t.text += s[i];
        ++i;
      }
      if (i < s.size()) ++i;  // closing quote (tolerate its absence)
      t.raw.assign(s.substr(b, i - b));
    } else if (c == '(') {
      t.kind = Kind::comment;
      int depth = 0;
      size_t b = i;
      while (i < s.size()) {
        char d = s[i++];
        if (d == '\\' && i < s.size()) {
          ++i;
        } else if (d == '(') {
          ++depth;
        } else if (d == ')' && --depth == 0) {
          break;
        }
      }
      size_t e = (depth == 0) ? i - 1 : i;
      t.text = std::string(trim(s.substr(b + 1, e > b + 1 ? e - b - 1 : 0)));
    } else if (c == '[') {
      size_t b = i;
      t.kind = Kind::literal;
      while (i < s.size() && s[i] != ']') ++i;
      if (i < s.size()) ++i;
      t.text.assign(s.substr(b, i - b));
    } else if (is_special(c)) {
      t.kind = Kind::special;
      t.text = std::string(1, c);
      ++i;
    } else {
      size_t b = i;
      while (i < s.size()) {
        char d = s[i];
        if (d == ' ' || d == '\t' || d == '\r' || d == '\n' || is_special(d)) break;
        ++i;
      }
      t.text.assign(s.substr(b, i - b));
    }
    out.push_back(std::move(t));
  }
  return out;
}

bool is_sp(const Tok& t, char c) { return t.kind == Kind::special && t.text[0] == c; }

class AddressParser {
 public:
  explicit AddressParser(std::string_view v) : t_(tokenize(v)) {}

  std::vector<Address> run() {
    while (i_ < t_.size()) {
      const Tok& t = t_[i_];
      if (is_sp(t, ',') || t.kind == Kind::comment) {
        ++i_;
      } else if (is_sp(t, ';')) {
        ++i_;
        end_group();
      } else {
        size_t before = i_;
        one();
        if (i_ == before) ++i_;  // junk token: always make progress
      }
    }
    end_group();
    return std::move(out_);
  }

 private:
  void end_group() {
    if (in_group_) out_.push_back(Address{});  // (NIL NIL NIL NIL)
    in_group_ = false;
  }

  bool at(char c) const { return i_ < t_.size() && is_sp(t_[i_], c); }

  // display-name / obs-phrase: words, quoted strings and dots; comments skipped but kept.
  std::string phrase(std::string& last_comment, std::string& as_local) {
    std::string name;
    bool first = true;
    while (i_ < t_.size()) {
      const Tok& t = t_[i_];
      if (t.kind == Kind::comment) {
        last_comment = t.text;
        ++i_;
        continue;
      }
      bool dot = is_sp(t, '.');
      if (t.kind != Kind::atom && t.kind != Kind::quoted && !dot) break;
      if (!first && t.ws_before) name += ' ';
      name += t.text;
      as_local += t.kind == Kind::quoted ? t.raw : t.text;
      first = false;
      ++i_;
    }
    return name;
  }

  std::string domain(std::string& last_comment) {
    std::string d;
    while (i_ < t_.size()) {
      const Tok& t = t_[i_];
      if (t.kind == Kind::comment) {
        last_comment = t.text;
      } else if (t.kind == Kind::atom || t.kind == Kind::literal || is_sp(t, '.')) {
        d += t.text;
      } else {
        break;
      }
      ++i_;
    }
    return d;
  }

  void one() {
    std::string comment, local;
    std::string name = phrase(comment, local);
    if (at(':') && !in_group_) {  // RFC 5322 §3.4: group = display-name ":" [group-list] ";"
      ++i_;
      Address g;
      g.mailbox = name;
      out_.push_back(std::move(g));
      in_group_ = true;
      return;
    }
    Address a;
    if (at('<')) {  // name-addr
      ++i_;
      std::string adl;
      // RFC 5322 §4.4 obs-route: "@a,@b:" before the addr-spec.
      if (at('@')) {
        while (i_ < t_.size() && !at(':') && !at('>')) {
          if (t_[i_].kind != Kind::comment) adl += t_[i_].kind == Kind::quoted ? t_[i_].raw : t_[i_].text;
          ++i_;
        }
        if (at(':')) ++i_;
      }
      std::string c2, l2;
      phrase(c2, l2);
      std::string host;
      bool has_at = at('@');
      if (has_at) {
        ++i_;
        host = domain(c2);
      }
      while (i_ < t_.size() && !at('>') && !at(',') && !at(';')) ++i_;
      if (at('>')) ++i_;
      if (l2.empty() && !has_at) return;  // "<>": no address to report
      if (!name.empty()) a.name = name;
      if (!adl.empty()) a.adl = adl;
      a.mailbox = l2;
      a.host = host;
    } else {  // addr-spec, perhaps followed by a "(Comment Name)"
      bool has_at = at('@');
      std::string host;
      if (has_at) {
        ++i_;
        host = domain(comment);
      }
      if (local.empty() && !has_at) return;
      for (; i_ < t_.size() && t_[i_].kind == Kind::comment; ++i_) comment = t_[i_].text;
      if (!comment.empty()) a.name = comment;
      a.mailbox = local;
      a.host = host;  // never NIL outside group markers
    }
    out_.push_back(std::move(a));
  }

  std::vector<Tok> t_;
  size_t i_ = 0;
  bool in_group_ = false;
  std::vector<Address> out_;
};

}  // namespace

std::vector<Address> parse_address_list(std::string_view value) {
  return AddressParser(value).run();
}

}  // namespace tern::mime
