#include "net/line_reader.h"

namespace tern::net {

void LineReader::feed(std::string_view bytes) {
  compact();
  buf_.append(bytes.data(), bytes.size());
}

void LineReader::clear() {
  buf_.clear();
  pos_ = 0;
  discarding_ = false;
  remaining_ = 0;
}

void LineReader::expect_bytes(size_t n) { remaining_ += n; }

void LineReader::compact() {
  if (pos_ == 0) return;
  if (pos_ >= buf_.size()) {
    buf_.clear();
  } else {
    buf_.erase(0, pos_);
  }
  pos_ = 0;
}

std::optional<LineReader::Item> LineReader::next() {
  std::string_view avail(buf_.data() + pos_, buf_.size() - pos_);
  if (avail.empty()) return std::nullopt;

  if (remaining_ > 0) {
    size_t n = avail.size() < remaining_ ? avail.size() : remaining_;
    Item item;
    item.kind = Item::Kind::bytes;
    item.data.assign(avail.data(), n);
    pos_ += n;
    remaining_ -= n;
    item.last = remaining_ == 0;
    return item;
  }

  size_t lf = avail.find('\n');
  if (discarding_) {
    if (lf == std::string_view::npos) {
      pos_ = buf_.size();  // drop it all: the over-long line continues
      compact();
      return std::nullopt;
    }
    pos_ += lf + 1;
    discarding_ = false;
    return next();
  }

  if (lf == std::string_view::npos) {
    // No terminator yet: the LF still to come makes the line at least one byte longer, so
    // max_line bytes without one can never fit. Report now instead of buffering more.
    if (avail.size() >= max_line_) {
      pos_ = buf_.size();
      compact();
      discarding_ = true;
      Item item;
      item.kind = Item::Kind::too_long;
      return item;
    }
    return std::nullopt;
  }

  bool crlf = lf > 0 && avail[lf - 1] == '\r';
  size_t text_len = crlf ? lf - 1 : lf;
  pos_ += lf + 1;
  if (lf + 1 > max_line_) {
    Item item;
    item.kind = Item::Kind::too_long;
    return item;
  }
  Item item;
  item.kind = Item::Kind::line;
  item.data.assign(avail.data(), text_len);
  item.ending = crlf ? Ending::crlf : Ending::lf;
  return item;
}

}  // namespace tern::net
