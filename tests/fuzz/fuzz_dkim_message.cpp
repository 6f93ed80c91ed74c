// Fuzz target: a whole message through the streaming DKIM verifier, split in two at a point
// chosen by the first input byte; every key question is answered with the RFC 8463 Ed25519 key.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "authn/dkim.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t split = data[0] % size;
  std::string_view msg(reinterpret_cast<const char*>(data) + 1, size - 1);
  split = split > msg.size() ? msg.size() : split;
  tern::authn::DkimVerifier v(tern::authn::DkimOptions{1528637909, 4096});
  v.feed(msg.substr(0, split));
  v.feed(msg.substr(split));
  v.end_of_message();
  tern::authn::Answer key;
  key.rcode = tern::authn::Rcode::ok;
  key.records = {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="};
  for (const auto& q : v.questions()) v.answer(q, key);
  (void)v.results();
  return 0;
}
