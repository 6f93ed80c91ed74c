// acme/storage: durable file writes for keys and certificates (private to acme/).
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "acme/acme.h"
#include "common/result.h"

namespace tern::acme {

// Temporary file beside `path`, written and fsynced, renamed over `path`, directory fsynced.
Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode);
// The key (0600) and then the certificate chain, each atomically.
Status write_pair(const CertificatePaths& paths, const std::string& cert_pem,
                  const std::string& key_pem);

}  // namespace tern::acme
