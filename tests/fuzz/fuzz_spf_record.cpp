// Fuzz target: SPF record text -> parse_spf_record, and macro expansion of every domain-spec.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "authn/spf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto rec = tern::authn::parse_spf_record(text);
  tern::authn::SpfMacroContext ctx;
  ctx.sender = "strong-bad@email.example.com";
  ctx.local = "strong-bad";
  ctx.sender_domain = ctx.domain = "email.example.com";
  ctx.ip = *tern::authn::IpAddress::parse("2001:db8::cb01");
  ctx.helo = "mx.example.org";
  if (rec) {
    for (const auto& m : rec->mechanisms) (void)tern::authn::expand_spf_macros(m.domain_spec, ctx, false);
    if (rec->redirect) (void)tern::authn::expand_spf_macros(*rec->redirect, ctx, false);
  }
  // The same bytes as an explanation string (exp= TXT).
  (void)tern::authn::expand_spf_macros(text, ctx, true);
  // And evaluated: the record is served for every name the evaluation asks about, so
  // include/redirect recursion and the lookup limits are exercised too.
  if (rec) {
    struct Echo final : tern::authn::Resolver {
      std::string txt;
      void lookup(const tern::authn::Question& q, tern::dns::AnswerCallback cb) override {
        tern::authn::Answer a;
        a.rcode = tern::authn::Rcode::ok;
        if (q.type == tern::authn::RrType::txt) a.records = {txt};
        else if (q.type == tern::authn::RrType::a) a.records = {"192.0.2.1"};
        else if (q.type == tern::authn::RrType::aaaa) a.records = {"2001:db8::cb01"};
        else if (q.type == tern::authn::RrType::ptr) a.records = {"mx.example.org"};
        else a.mx = {{10, "mx.example.org"}};
        cb(a);
      }
    } echo;
    echo.txt = std::string(text);
    tern::authn::SpfRequest req{ctx.ip, "mx.example.org", "strong-bad@email.example.com", "mx.tern.example", 0};
    auto check = std::make_shared<tern::authn::SpfCheck>(req, tern::authn::SpfIdentity::mailfrom);
    tern::authn::drive(echo, check, [] {});
  }
  return 0;
}
