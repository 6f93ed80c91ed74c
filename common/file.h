// Reading a whole (small) file: configuration, PEM keys and certificates.
#pragma once

#include <string>

#include "common/result.h"

namespace tern {

// The file's bytes. Errc::not_found when it cannot be opened or read, with the path and the
// errno text in the message.
Result<std::string> read_file(const std::string& path);

}  // namespace tern
