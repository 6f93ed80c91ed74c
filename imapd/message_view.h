// One message as FETCH and SEARCH see it (imapd/fetch.h, imapd/search.h).
//
// Implementation notes
//  * Everything is loaded lazily and at most once: the bytes through the injected loader
//    (the session decides where they come from: a worker reading the store, a test string),
//    the MIME parse on first need, the ENVELOPE/BODY/BODYSTRUCTURE metadata from the index
//    cache when it deserialises (no bytes read at all), else computed from the parse.
//  * A failed load is remembered: the same error is returned again without calling the
//    loader a second time.
//  * Not thread-safe: a view belongs to one FETCH/SEARCH run of one session. The loader is
//    called on whatever thread calls bytes() (sessions run these on a worker).
//  * Dependencies: mime/ (parsing), store/ (MessageInfo and Flags plain structs only).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "mime/mime.h"
#include "store/store.h"

namespace tern::imapd {

class MessageView {
 public:
  // `info` by value: FETCH moves each row in (its metadata blob is not copied again).
  MessageView(uint32_t seq, store::MessageInfo info,
              std::function<Result<std::string>()> load_bytes);
  // Convenience for tests and APPEND: the bytes are already in memory.
  static MessageView from_bytes(uint32_t seq, const store::MessageInfo& info, std::string bytes);

  MessageView(MessageView&&) noexcept;
  MessageView& operator=(MessageView&&) noexcept;
  ~MessageView();

  uint32_t seq() const { return seq_; }
  const store::MessageInfo& info() const { return info_; }  // uid, flags, modseq, size, date
  void set_flags(const store::Flags& f, uint64_t modseq);    // after an implicit \Seen

  Result<std::string_view> bytes();            // loads once
  Result<const mime::Message*> parsed();       // parses once
  // The message as BODY[...], RFC822* and BODYSTRUCTURE show it (RFC 3516 §6, RFC 9051
  // §4.3): bytes() / parsed() themselves unless the bytes hold NUL, else their NUL-free form
  // (mime::without_nul, computed once). BINARY[...] and SEARCH use bytes() / parsed().
  Result<std::string_view> text_bytes();
  Result<const mime::Message*> text_parsed();
  // ENVELOPE / BODYSTRUCTURE / BODY from info().cached_metadata when it deserialises, else
  // computed from parsed() (then computed_metadata_blob() holds it for the caller to cache).
  Result<const mime::CachedMetadata*> metadata();
  std::optional<std::string> computed_metadata_blob() const;

  // For search.cpp: decoded, case-folded texts, computed once per view.
  Result<std::string_view> folded_body_text();    // text/* leaves, decoded to UTF-8, folded
  Result<std::string_view> folded_header_text();  // "Name: decoded value\n" per top field, folded

 private:
  uint32_t seq_;
  store::MessageInfo info_;
  std::function<Result<std::string>()> load_;
  struct Lazy;
  std::unique_ptr<Lazy> lazy_;
};

}  // namespace tern::imapd
