#include "authn/psl.h"

#include <libpsl.h>

#include "common/strings.h"

namespace tern::authn {

struct PublicSuffixList::Ctx {
  psl_ctx_t* psl = nullptr;
  ~Ctx() { psl_free(psl); }
};

Result<PublicSuffixList> PublicSuffixList::load(const std::string& path) {
  psl_ctx_t* psl = psl_load_file(path.c_str());
  if (!psl) return make_error(Errc::not_found, "cannot load public suffix list " + path);
  PublicSuffixList out;
  out.ctx_ = std::make_shared<Ctx>();
  out.ctx_->psl = psl;
  return out;
}

Result<PublicSuffixList> PublicSuffixList::load_default() {
  auto dafsa = load(kDebianPslDafsa);
  if (dafsa) return dafsa;
  return load(kDebianPslText);
}

std::string PublicSuffixList::organizational_domain(std::string_view domain) const {
  std::string d = ascii_lower(domain);
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (d.empty() || !ctx_) return d;
  // libpsl returns a pointer into `d` where the registrable domain starts, or NULL when `d`
  // is a public suffix itself.
  const char* reg = psl_registrable_domain(ctx_->psl, d.c_str());
  if (!reg) return d;
  return std::string(reg);
}

}  // namespace tern::authn
