// MessageView: lazy, at-most-once loading of one message for FETCH and SEARCH.
#include "imapd/message_view.h"

#include <utility>

#include "imapd/search.h"

namespace tern::imapd {

struct MessageView::Lazy {
  std::optional<Result<std::string>> bytes;  // set once the loader ran (value or error)
  std::optional<mime::Message> parsed;
  bool nul_checked = false;               // text_bytes() looked for NUL
  std::optional<mime::Message> nul_free;  // the NUL-free form, when the bytes hold NUL
  std::optional<mime::CachedMetadata> metadata;
  bool metadata_computed = false;
  std::optional<std::string> folded_body;
  std::optional<std::string> folded_header;
};

MessageView::MessageView(uint32_t seq, store::MessageInfo info,
                         std::function<Result<std::string>()> load_bytes)
    : seq_(seq), info_(std::move(info)), load_(std::move(load_bytes)), lazy_(std::make_unique<Lazy>()) {}

MessageView MessageView::from_bytes(uint32_t seq, const store::MessageInfo& info, std::string bytes) {
  auto shared = std::make_shared<std::string>(std::move(bytes));
  return MessageView(seq, info, [shared]() -> Result<std::string> { return std::move(*shared); });
}

MessageView::MessageView(MessageView&&) noexcept = default;
MessageView& MessageView::operator=(MessageView&&) noexcept = default;
MessageView::~MessageView() = default;

void MessageView::set_flags(const store::Flags& f, uint64_t modseq) {
  info_.flags = f;
  info_.modseq = modseq;
}

Result<std::string_view> MessageView::bytes() {
  if (lazy_->parsed) return lazy_->parsed->bytes();
  if (!lazy_->bytes) {
    if (!load_) {
      lazy_->bytes.emplace(make_error(Errc::internal, "message bytes unavailable"));
    } else {
      lazy_->bytes.emplace(load_());
      load_ = nullptr;  // release whatever the loader captured
    }
  }
  if (!lazy_->bytes->ok()) return lazy_->bytes->error();
  return std::string_view(lazy_->bytes->value());
}

Result<const mime::Message*> MessageView::parsed() {
  if (!lazy_->parsed) {
    auto b = bytes();
    if (!b) return b.error();
    // The Message owns its copy; drop ours to keep one copy of the bytes alive.
    lazy_->parsed.emplace(mime::Message::parse(std::move(lazy_->bytes->value())));
    lazy_->bytes.reset();
  }
  return &*lazy_->parsed;
}

Result<std::string_view> MessageView::text_bytes() {
  auto b = bytes();
  if (!b) return b.error();
  if (!lazy_->nul_checked) {
    lazy_->nul_checked = true;
    if (auto clean = mime::without_nul(*b)) lazy_->nul_free.emplace(mime::Message::parse(std::move(*clean)));
  }
  if (lazy_->nul_free) return lazy_->nul_free->bytes();
  return b;
}

Result<const mime::Message*> MessageView::text_parsed() {
  auto b = text_bytes();
  if (!b) return b.error();
  if (lazy_->nul_free) return &*lazy_->nul_free;
  return parsed();
}

Result<const mime::CachedMetadata*> MessageView::metadata() {
  if (!lazy_->metadata) {
    if (!info_.cached_metadata.empty()) {
      auto m = mime::deserialize_metadata(info_.cached_metadata);
      if (m) lazy_->metadata.emplace(std::move(*m));
    }
    if (!lazy_->metadata) {
      auto p = text_parsed();  // RFC 3516 §6: describes the form BODY[...] sends
      if (!p) return p.error();
      lazy_->metadata.emplace(mime::metadata_of(**p));
      lazy_->metadata_computed = true;
    }
  }
  return &*lazy_->metadata;
}

std::optional<std::string> MessageView::computed_metadata_blob() const {
  if (!lazy_->metadata_computed || !lazy_->metadata) return std::nullopt;
  return mime::serialize(*lazy_->metadata);
}

Result<std::string_view> MessageView::folded_body_text() {
  if (!lazy_->folded_body) {
    auto p = parsed();
    if (!p) return p.error();
    lazy_->folded_body = fold_for_search(mime::text_for_search(**p, (*p)->root()));
  }
  return std::string_view(*lazy_->folded_body);
}

Result<std::string_view> MessageView::folded_header_text() {
  if (!lazy_->folded_header) {
    auto p = parsed();
    if (!p) return p.error();
    lazy_->folded_header = fold_for_search(mime::header_text_for_search(**p));
  }
  return std::string_view(*lazy_->folded_header);
}

}  // namespace tern::imapd
