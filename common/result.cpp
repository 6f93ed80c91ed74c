#include "common/result.h"

namespace tern {

const char* to_string(Errc code) {
  switch (code) {
    case Errc::syntax: return "syntax";
    case Errc::refused: return "refused";
    case Errc::temporary: return "temporary";
    case Errc::not_found: return "not_found";
    case Errc::exists: return "exists";
    case Errc::over_quota: return "over_quota";
    case Errc::internal: return "internal";
  }
  return "unknown";
}

}  // namespace tern
