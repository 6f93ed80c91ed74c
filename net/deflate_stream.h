// Raw DEFLATE (RFC 1951) both ways on one connection, for IMAP COMPRESS=DEFLATE (RFC 4978):
// what the protocol writes is compressed before TLS encrypts it, what TLS decrypts is
// inflated before the protocol sees it. zlib's raw format (no zlib or gzip wrapper), as
// RFC 4978 §3 requires; every write ends in a sync flush so the peer can act on it at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace tern::net {

class DeflateStream {
 public:
  static Result<std::unique_ptr<DeflateStream>> create();
  ~DeflateStream();
  DeflateStream(const DeflateStream&) = delete;
  DeflateStream& operator=(const DeflateStream&) = delete;

  // Appends the compressed form of `plain` to `out`, flushed (Z_SYNC_FLUSH, RFC 4978 §4).
  Status compress(std::string_view plain, std::string& out);
  // Inflates `compressed`, handing the output to `sink` in pieces of at most `piece` bytes
  // (a small input may inflate a thousandfold: the caller sees bounded pieces and may stop
  // by returning false). An invalid stream or data after its end is an error.
  Status decompress(std::string_view compressed, size_t piece,
                    const std::function<bool(std::string_view)>& sink);

 private:
  DeflateStream() = default;
  struct Z;
  std::unique_ptr<Z> z_;
};

}  // namespace tern::net
