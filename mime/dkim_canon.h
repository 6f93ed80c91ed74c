// mime/dkim_canon.h: DKIM canonicalisation (RFC 6376 §3.4), shared by the signer (relay/)
// and the verifier (authn/). Pure functions and a streaming body canonicaliser; lone LF is
// read as CRLF everywhere (messages reach us through SMTP, which means CRLF).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tern::mime {

enum class DkimCanon { simple, relaxed };

// One header field: "Name: value" with its internal folds, without the final CRLF.
// simple (§3.4.1): unchanged (a lone LF in a fold becomes CRLF); relaxed (§3.4.2):
// "lowername:value" unfolded, WSP runs collapsed, WSP around the colon and at the end removed.
std::string dkim_canon_header(std::string_view field, DkimCanon canon);

// The body, fed in chunks of any size; canonical bytes are appended to `out` as soon as they
// are final (empty lines are held back until a non-empty line proves they are not trailing).
class DkimBodyCanonicalizer {
 public:
  explicit DkimBodyCanonicalizer(DkimCanon canon) : canon_(canon) {}
  void feed(std::string_view chunk, std::string& out);
  // Ends the body: a last line without CRLF gets one; trailing empty lines are dropped
  // (§3.4.3, §3.4.4); simple turns an empty body into one CRLF (§3.4.3).
  void finish(std::string& out);

 private:
  void line(std::string_view l, std::string& out);

  DkimCanon canon_;
  std::string partial_;     // bytes of the current line not yet ended by LF
  uint64_t held_empty_ = 0; // empty lines seen since the last non-empty one
  bool emitted_ = false;
};

// Whole-body convenience over DkimBodyCanonicalizer.
std::string dkim_canon_body(std::string_view body, DkimCanon canon);

}  // namespace tern::mime
