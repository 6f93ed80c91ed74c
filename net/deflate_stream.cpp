#include "net/deflate_stream.h"

#include <zlib.h>

#include <functional>

namespace tern::net {

struct DeflateStream::Z {
  z_stream out{};
  z_stream in{};
  bool out_ready = false, in_ready = false;
  ~Z() {
    if (out_ready) deflateEnd(&out);
    if (in_ready) inflateEnd(&in);
  }
};

Result<std::unique_ptr<DeflateStream>> DeflateStream::create() {
  std::unique_ptr<DeflateStream> s(new DeflateStream());
  s->z_ = std::make_unique<Z>();
  // Raw deflate (negative windowBits, RFC 4978 §3). The inflater takes the full 32 KiB
  // window, as a client may use it; our compressor may choose a smaller one (RFC 4978 §4
  // leaves the sender's window and memory to the implementation): 4 KiB and memLevel 6 keep
  // it near 48 KiB per connection instead of zlib's default 256 KiB (mail text compresses
  // nearly as well: its repeats are short-range).
  if (deflateInit2(&s->z_->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 6, Z_DEFAULT_STRATEGY) != Z_OK)
    return make_error(Errc::internal, "deflateInit2 failed");
  s->z_->out_ready = true;
  if (inflateInit2(&s->z_->in, -15) != Z_OK) return make_error(Errc::internal, "inflateInit2 failed");
  s->z_->in_ready = true;
  return s;
}

DeflateStream::~DeflateStream() = default;

Status DeflateStream::compress(std::string_view plain, std::string& out) {
  z_stream& z = z_->out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  z.avail_in = static_cast<uInt>(plain.size());
  // Z_SYNC_FLUSH: all input is consumed once a call leaves room in its output buffer.
  for (;;) {
    size_t had = out.size();
    size_t room = deflateBound(&z, z.avail_in) + 64;
    out.resize(had + room);
    z.next_out = reinterpret_cast<Bytef*>(out.data() + had);
    z.avail_out = static_cast<uInt>(room);
    int rc = deflate(&z, Z_SYNC_FLUSH);
    out.resize(had + (room - z.avail_out));
    if (rc != Z_OK && rc != Z_BUF_ERROR) return make_error(Errc::internal, "deflate failed");
    if (z.avail_in == 0 && z.avail_out != 0) return {};
  }
}

Status DeflateStream::decompress(std::string_view compressed, size_t piece,
                                 const std::function<bool(std::string_view)>& sink) {
  z_stream& z = z_->in;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string buf(piece, '\0');
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    int rc = inflate(&z, Z_SYNC_FLUSH);
    size_t got = buf.size() - z.avail_out;
    // RFC 4978 §4: the stream lasts as long as the connection; a final block ends nothing.
    if (rc == Z_STREAM_END) return make_error(Errc::syntax, "the peer ended its DEFLATE stream");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      return make_error(Errc::syntax, std::string("invalid DEFLATE data: ") + (z.msg ? z.msg : "?"));
    if (got > 0 && !sink(std::string_view(buf.data(), got))) return {};
    // Done when the input is used up and the output was not full (nothing more pending), or
    // when inflate could make no progress (it needs the next read's bytes).
    if ((z.avail_in == 0 && z.avail_out != 0) || rc == Z_BUF_ERROR) return {};
  }
}

}  // namespace tern::net
