// common: the pieces every module shares and that have no better home.
//   result.h  - Result<T>/Status and the error taxonomy (errors as values at boundaries)
//   config.h  - the TOML configuration contract, parsed into plain structs
//   log.h     - spdlog set-up and the greppable log-line conventions
//   strings.h - ASCII case folding, address splitting, RFC 5322 dates, random ids
//   codec.h   - base64, hex, UTF-8, modified UTF-7, xtext (one copy each)
//   file.h    - read_file: a whole small file, errors as values
// No global mutable state lives here.
#pragma once

#include "common/codec.h"
#include "common/config.h"
#include "common/log.h"
#include "common/result.h"
#include "common/strings.h"
