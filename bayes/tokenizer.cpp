#include "bayes/tokenizer.h"

#include <cctype>
#include <string>
#include <unordered_set>

#include "common/strings.h"
#include "mime/mime.h"

namespace tern::bayes {

namespace {

constexpr size_t kMinWord = 3, kMaxWord = 24;

bool word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80 ||
         c == '$' || c == '\'';
}

class Tokens {
 public:
  void add(std::string token) {
    if (out_.size() >= kMaxTokens) return;
    if (seen_.insert(token).second) out_.push_back(std::move(token));
  }

  // Words of `text`, each with `prefix` ("" for body words).
  void words(std::string_view text, std::string_view prefix) {
    size_t i = 0;
    while (i < text.size() && out_.size() < kMaxTokens) {
      while (i < text.size() && !word_byte(static_cast<unsigned char>(text[i]))) ++i;
      size_t start = i;
      while (i < text.size() && word_byte(static_cast<unsigned char>(text[i]))) ++i;
      std::string_view w = text.substr(start, i - start);
      while (!w.empty() && w.front() == '\'') w.remove_prefix(1);
      while (!w.empty() && w.back() == '\'') w.remove_suffix(1);
      if (w.size() < kMinWord) continue;
      if (w.size() > kMaxWord) {
        // Random-looking runs (tracking ids, base64 slop) are a sign as a class, not each.
        add(std::string(prefix) + "long:" + ascii_lower(w.substr(0, 1)) + std::to_string(w.size() / 8));
        continue;
      }
      add(std::string(prefix) + ascii_lower(w));
    }
  }

  // Host names after "http://" or "https://" (either case) in `text`.
  void links(std::string_view text) {
    size_t pos = 0;
    while (out_.size() < kMaxTokens) {
      size_t at = find_scheme(text, pos);
      if (at == std::string_view::npos) return;
      size_t start = text.find("//", at) + 2;
      size_t end = start;
      while (end < text.size() && end - start < 253) {
        char c = text[end];
        if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-')) break;
        ++end;
      }
      if (end > start) add("url:" + ascii_lower(text.substr(start, end - start)));
      pos = end;
    }
  }

  std::vector<std::string> take() { return std::move(out_); }

 private:
  static size_t find_scheme(std::string_view text, size_t from) {
    for (size_t i = from; i + 7 < text.size(); ++i) {
      if ((text[i] != 'h' && text[i] != 'H')) continue;
      std::string_view rest = text.substr(i);
      if (istarts_with(rest, "http://") || istarts_with(rest, "https://")) return i;
    }
    return std::string_view::npos;
  }

  std::unordered_set<std::string> seen_;
  std::vector<std::string> out_;
};

std::string domain_of(const mime::Address& a) {
  return a.host ? ascii_lower(*a.host) : std::string();
}

void header_tokens(const mime::Part& root, Tokens& t) {
  if (const mime::HeaderField* f = root.header("Subject")) t.words(mime::decode_header_value(f->raw_value), "subject:");
  if (const mime::HeaderField* f = root.header("From")) {
    auto list = mime::parse_address_list(f->value);
    for (const auto& a : list) {
      if (!a.mailbox || !a.host) continue;
      t.add("from:" + ascii_lower(*a.mailbox) + "@" + domain_of(a));
      t.add("fromdomain:" + domain_of(a));
      if (a.name) t.words(mime::decode_header_value(*a.name), "fromname:");
    }
  }
  if (const mime::HeaderField* f = root.header("Reply-To"))
    for (const auto& a : mime::parse_address_list(f->value))
      if (a.host) t.add("replyto:" + domain_of(a));
  // Presence of fields that mass mailers (and not people) add, or leave out.
  for (const char* name : {"List-Unsubscribe", "Message-ID", "Date", "X-Mailer", "User-Agent"})
    t.add(std::string(root.header(name) ? "has:" : "lacks:") + ascii_lower(name));
  if (const mime::HeaderField* f = root.header("X-Mailer")) t.words(f->value, "mailer:");
  if (const mime::HeaderField* f = root.header("User-Agent")) t.words(f->value, "mailer:");
}

void part_tokens(const mime::Message& msg, const mime::Part& part, size_t& text_budget, Tokens& t) {
  if (part.is_multipart() || part.is_message()) {
    for (const auto& child : part.children) part_tokens(msg, child, text_budget, t);
    return;
  }
  std::string filename;
  if (part.disposition)
    for (const auto& p : part.disposition->params)
      if (p.name == "filename") filename = p.value;
  if (filename.empty())
    if (auto n = part.param("name")) filename = *n;
  if (!filename.empty()) {
    size_t dot = filename.rfind('.');
    if (dot != std::string::npos && filename.size() - dot <= 8) t.add("ext:" + ascii_lower(filename.substr(dot + 1)));
  }
  if (part.type != "text" || (part.disposition && part.disposition->type == "attachment")) {
    t.add("type:" + part.type + "/" + part.subtype);
    return;
  }
  if (text_budget == 0) return;
  auto body = mime::decode_body(msg, part);
  if (!body.ok()) return;
  std::string text = mime::to_utf8(*body, part.charset());
  if (text.size() > text_budget) text.resize(text_budget);
  text_budget -= text.size();
  t.links(text);
  if (part.subtype == "html") {
    t.add("type:text/html");
    t.words(mime::html_to_text(text), "");
  } else {
    t.words(text, "");
  }
}

}  // namespace

std::vector<std::string> tokenize(std::string_view message) {
  mime::Message msg = mime::Message::parse(std::string(message));
  Tokens t;
  header_tokens(msg.root(), t);
  size_t budget = kMaxTextBytes;
  part_tokens(msg, msg.root(), budget, t);
  return t.take();
}

uint64_t token_hash(std::string_view token) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a offset basis and prime (64 bits)
  for (unsigned char c : token) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace tern::bayes
